"""The benchmarks measure what they say, shown on fakes: a fake clock, tiny corpora, the hash embedder.

No real timings are asserted here: benchmarks live in bench/ (`make bench-quick` runs them).
"""

import json
import re
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest

from bench import bench_coldstart, bench_milvus, bench_retrieve, bench_scale, common, run
from bench.common import Context, Missing, Results, interleaved, save
from bench.scale_index import StandInEmbedder

from .conftest import HashEmbedder, heavy_after


def test_importing_the_benchmarks_loads_no_model():
    assert heavy_after("bench.run", ["torch", "llama_cpp", "sentence_transformers", "faiss"]) == []


class Clock:
    """A perf_counter that only the timed work moves: each workload advances it by its own cost."""

    def __init__(self) -> None:
        self.now, self.calls = 0.0, []

    def work(self, name: str, cost: float):
        def run() -> None:
            self.calls.append(name)
            self.now += cost
        return run


def test_a_comparison_prints_the_ratio_of_its_two_measured_times(monkeypatch, capsys, tmp_path):
    clock = Clock()
    monkeypatch.setattr(common, "time", SimpleNamespace(perf_counter=lambda: clock.now, strftime=time.strftime))
    ours, plain = interleaved(clock.work("rag", 0.004), clock.work("plain", 0.002), rounds=4)
    assert clock.calls == ["rag", "plain"] + ["rag", "plain", "plain", "rag"] * 2  # warm-up, then alternating
    assert ours == pytest.approx([0.004] * 4) and plain == pytest.approx([0.002] * 4)

    r = Results()
    ratio = r.compare("search_ms", common.median(ours) * 1000, common.median(plain) * 1000, "ms", "plain",
                      higher_is_better=False, target=0.95)
    line = capsys.readouterr().out.strip()
    printed = re.fullmatch(r"search_ms\.ratio +([\d.]+) +target >= 0.95: MISSED +\(rag ([\d.]+) ms vs plain ([\d.]+) ms\)",
                           line)
    assert printed, line
    shown_ratio, shown_rag, shown_plain = (float(x) for x in printed.groups())
    assert shown_rag == 4.0 and shown_plain == 2.0
    assert shown_ratio == ratio == pytest.approx(shown_plain / shown_rag) == 0.5  # rag twice as slow: 0.5
    save(r, tmp_path / "results.json", {"mode": "test"}, merge=False)
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["search_ms.ratio"] == 0.5 and data["search_ms.rag"] == 4.0 and data["search_ms.baseline"] == 2.0
    assert data["_targets"]["search_ms.ratio"]["met"] is False and data["_meta"]["mode"] == "test"


@pytest.fixture
def bench_dirs(monkeypatch, tmp_path):
    """Benchmark scratch space in tmp_path, and a stand-in documentation folder of four small pages."""
    pydocs = tmp_path / "pydocs" / "library"
    pydocs.mkdir(parents=True)
    for name in ("os", "json", "gzip", "argparse"):
        (pydocs / f"{name}.html").write_text(
            f"<html><head><title>{name} module</title></head><body><h1>The {name} module</h1>"
            f"<p>The {name} module is part of the standard library. It is documented here in full.</p>"
            "<p>Read the examples below before you use it in a program.</p></body></html>", encoding="utf-8")
    monkeypatch.setattr(common, "OUT", tmp_path / "out")
    monkeypatch.setattr(common, "PYDOCS", pydocs.parent)
    monkeypatch.setattr(common, "PYDOCS_STRIDE", 1)
    return tmp_path


def test_the_quick_retrieval_benchmark_gives_figures_that_add_up(bench_dirs):
    ctx = Context(quick=True, results=Results(), _embedder=HashEmbedder())
    bench_retrieve.run(ctx)
    v = ctx.results.values
    assert v["retrieve.seed.passages"] == 75  # the five articles' passages
    assert v["retrieve.docs.passages"] > v["retrieve.seed.passages"]  # ... plus the documentation pages
    for corpus in ("seed", "docs"):
        assert 0 < v[f"retrieve.{corpus}.p50_ms"] <= v[f"retrieve.{corpus}.p95_ms"]
        assert 0 < v[f"retrieve.{corpus}.faiss_p50_ms"] < v[f"retrieve.{corpus}.p50_ms"]  # one stage of the whole
        rag, bare = v[f"retrieve.{corpus}.faiss_ms.rag"], v[f"retrieve.{corpus}.faiss_ms.baseline"]
        assert v[f"retrieve.{corpus}.faiss_ms.ratio"] == pytest.approx(bare / rag, rel=0.05)  # of rounded figures
    assert ctx.results.targets["retrieve.docs.p50_ms"]["target"] == "<= 20 ms"


def test_a_benchmark_without_its_corpus_says_so_and_skips_only_that_part(bench_dirs, monkeypatch, capsys):
    monkeypatch.setattr(common, "PYDOCS", bench_dirs / "not-installed")
    ctx, meta = Context(quick=True, results=Results(), _embedder=HashEmbedder()), {}
    with pytest.raises(Missing, match="python3.11-doc"):
        common.docs_corpus(quick=True)
    run.run_benchmarks(ctx, ["retrieve"], meta)
    out = capsys.readouterr().out
    assert "retrieve.seed.p50_ms" in ctx.results.values  # the part that needs no documentation ran
    assert not any(name.startswith("retrieve.docs") for name in ctx.results.values)
    assert "skipped the rest of this benchmark: the Python documentation" in out
    assert "python3.11-doc" in meta["skipped_retrieve"] and "seconds_retrieve" in meta


def test_first_output_is_the_first_visible_character(tmp_path):
    script = ("import sys, time; sys.stdout.write('\\x1b[?25l\\x1b[2K\\r \\n'); sys.stdout.flush(); "
              "time.sleep(0.4); print('\\x1b[2mPeter'); time.sleep(0.2)")
    first, finished, output = bench_coldstart.first_output([sys.executable, "-c", script], timeout=30)
    assert 0.4 <= first < finished  # the escape sequences and blank line printed at once do not count
    assert "Peter" in output


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


def test_milvus_lines_put_faiss_beside_milvus_as_a_ratio(capsys):
    r = Results()
    bench_milvus.beside(r, "x.p50_ms", 4.0, 1.0, "ms", "one query")
    bench_milvus.beside(r, "x.recall10", 0.9, 1.0, "", "recall", higher_is_better=True)
    assert r.values["x.p50_ms.milvus"] == 4.0 and r.values["x.p50_ms.faiss"] == 1.0 and r.values["x.p50_ms.ratio"] == 0.25
    assert r.values["x.recall10.ratio"] == 0.9
    assert "FAISS 1 ms, ratio 0.25" in capsys.readouterr().out
