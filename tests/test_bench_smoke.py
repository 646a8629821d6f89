"""The benchmark scripts import without loading a model, and their helpers compute what they say.

No timings are asserted here: benchmarks live in bench/ (`make bench-quick` runs them).
"""

import json

import numpy as np

from bench import (
    bench_coldstart,
    bench_embed,
    bench_generate,
    bench_index,
    bench_milvus,
    bench_pdf,
    bench_retrieve,
    bench_scale,
    run,
)
from bench.common import Results, percentile, save
from bench.scale_index import StandInEmbedder


def test_every_benchmark_has_a_run_function():
    assert set(run.BENCHMARKS) == {"index", "retrieve", "generate", "coldstart", "scale", "milvus", "pdf", "embed"}
    for module in (bench_index, bench_retrieve, bench_generate, bench_coldstart, bench_scale, bench_milvus, bench_pdf,
                   bench_embed):
        assert callable(module.run)


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5.0], 95) == 5.0


def test_compare_ratio_is_above_one_when_rag_is_faster(tmp_path, capsys):
    r = Results()
    assert r.compare("rate", 20.0, 10.0, "x/s", "plain") == 2.0
    assert r.compare("time", 5.0, 10.0, "ms", "plain", higher_is_better=False) == 2.0
    r.add("latency", 30.0, "ms", ("<=", 20.0))
    assert r.targets["latency"]["met"] is False
    save(r, tmp_path / "results.json", {"mode": "test"}, merge=False)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["rate.ratio"] == 2.0 and data["time.baseline"] == 10.0 and data["_meta"]["mode"] == "test"
    assert "MISSED" in capsys.readouterr().out


def test_synthetic_vectors_are_unit_length_and_near_the_seeds(tmp_path):
    rng = np.random.default_rng(0)
    seeds = rng.standard_normal((50, 384)).astype(np.float32)
    seeds /= np.linalg.norm(seeds, axis=1, keepdims=True)
    base = bench_scale.synthesize(seeds, 1000, tmp_path / "x.npy")
    assert base.shape == (1000, 384) and base.dtype == np.float32
    assert np.allclose(np.linalg.norm(base, axis=1), 1.0, atol=1e-4)
    assert float(np.median((base @ seeds.T).max(axis=1))) > 0.7


def test_recall_counts_ties_as_found():
    base = np.array([[1.0, 0.0], [0.8, 0.6], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)  # rows 1 and 2 tie
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    kth = np.array([0.8])  # exact top-2 is row 0 and one of the tied rows
    assert bench_scale.recall(np.array([[0, 2]]), query, base, kth) == 1.0
    assert bench_scale.recall(np.array([[0, 3]]), query, base, kth) == 0.5
    assert bench_scale.recall(np.array([[0, -1]]), query, base, kth) == 0.5


def test_stand_in_embedder_is_deterministic():
    a = StandInEmbedder().embed(["one", "two"])
    assert a.shape == (2, 384)
    assert np.array_equal(a, StandInEmbedder().embed(["one", "two"]))
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


def test_first_visible_output_ignores_escape_sequences():
    assert bench_coldstart._ESCAPES.sub(b"", b"\x1b[?25l\x1b[2K\r \n") == b""
    assert bench_coldstart._ESCAPES.sub(b"", b"\x1b[2mPeter") == b"Peter"


def test_milvus_lines_put_faiss_beside_milvus_as_a_ratio(capsys):
    r = Results()
    bench_milvus.beside(r, "x.p50_ms", 4.0, 1.0, "ms", "one query")
    bench_milvus.beside(r, "x.recall10", 0.9, 1.0, "", "recall", higher_is_better=True)
    assert r.values["x.p50_ms.milvus"] == 4.0 and r.values["x.p50_ms.faiss"] == 1.0 and r.values["x.p50_ms.ratio"] == 0.25
    assert r.values["x.recall10.ratio"] == 0.9
    assert "FAISS 1 ms, ratio 0.25" in capsys.readouterr().out
