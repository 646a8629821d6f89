"""Milvus (Lite, embedded) against FAISS, measured in the same run; every figure beside FAISS's, as a ratio.

1. Vectors at N passages (full: 200,000 and 1,000,000; quick: 20,000; or --scale-size): synthetic 384-d unit
   vectors, normalise(s_i + b*s_j + noise) over 5,000 random unit seeds (bench_scale.synthesize;
   random seeds, not real embeddings, so no model is needed); 200 queries drawn the same way.
   Each engine builds a version through rag's own writer (rag.stores), in a process of its own:
   build time (insert + index + commit), time to open it, then (Milvus Lite) the wait for its
   background compaction and index builds to finish, one-query p50/p95 at one OpenMP thread,
   recall@10 against exact search (ties counted, bench_scale.recall), peak memory of that process,
   and size on disk. Index kind by rag's rule for both (index_kind: flat, hnsw or ivf).
2. Lexical search at N passages of synthetic text (Zipf-sampled words of the seed articles):
   Milvus Lite's own BM25 (a BM25 function into a sparse field) against bm25s as rag uses it:
   build time, p50/p95, overlap of their top 10.
3. The whole `RAG.retrieve` over the real articles, each engine, the packaged embedder, the gold
   questions: p50/p95, and whether both return the same passages.

Each line is Milvus's figure with FAISS's from the same run beside it and their ratio: FAISS /
Milvus for times, memory and size (above 1: Milvus is faster or smaller), Milvus / FAISS for recall.
In the lexical lines "rag" is Milvus Lite's BM25 and the baseline bm25s.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time

import numpy as np

from .bench_scale import synthesize
from .common import ARTICLES, OUT, ROOT, Context, gold_questions, interleaved, log, median, percentile, run_measured

K = 10
N_QUERIES = 200
N_SEEDS = 5_000


def run(ctx: Context) -> None:
    sizes = [ctx.scale_size] if ctx.scale_size else [20_000] if ctx.quick else [200_000, 1_000_000]
    for n in sizes:
        _engines(ctx, n)
    _lexical(ctx, 20_000 if ctx.quick else 200_000)
    _retrieve(ctx)


def _engines(ctx: Context, n: int) -> None:
    import faiss

    r = ctx.results
    r.section(f"milvus: Milvus Lite vs FAISS at {n:,} passages (synthetic 384-d unit vectors)")
    rng = np.random.default_rng(1)
    seeds = rng.standard_normal((N_SEEDS, 384)).astype(np.float32)
    seeds /= np.linalg.norm(seeds, axis=1, keepdims=True)
    work = OUT / "milvus"
    work.mkdir(parents=True, exist_ok=True)
    vectors = work / f"base-{n}.npy"
    base = synthesize(seeds, n, vectors, seed=2)
    queries = np.array(synthesize(seeds, N_QUERIES, work / "queries.npy", seed=3))  # written as .npy for the workers
    faiss.omp_set_num_threads(2)
    flat = faiss.IndexFlatIP(384)
    for start in range(0, n, 65_536):
        flat.add(np.ascontiguousarray(base[start:start + 65_536]))
    np.savez(work / "truth.npz", kth=flat.search(queries, K)[0][:, -1])
    del flat, base
    figures = {}
    for engine in ("faiss", "milvus"):
        log(f"{engine}: building {n:,} passages in a fresh process")
        run = run_measured([sys.executable, str(ROOT / "bench" / "milvus_worker.py"), engine, str(vectors),
                            str(work / "queries.npy"), str(work / "truth.npz"), str(work / f"{engine}-{n}"),
                            str(ctx.config.exact_limit)], timeout=4 * 3600)
        if run.returncode != 0:
            raise RuntimeError(f"{engine} worker failed: {run.stderr[-2000:]}")
        figures[engine] = {**json.loads(run.stdout.strip().splitlines()[-1]), "peak_rss_mb": run.peak_rss / 2**20}
        log(f"{engine}: {figures[engine]}")
    vectors.unlink(missing_ok=True)
    f, m = figures["faiss"], figures["milvus"]
    p = f"milvus.{n}"
    r.add(f"{p}.kind", m["kind"], note="index_kind for both engines (Milvus: FLAT, HNSW or IVF_FLAT)")
    for key, unit, what in (("build_s", "s", "insert + index + commit, through rag's writer"),
                            ("open_s", "s", "open the version as RAG.open does, chunks read back"),
                            ("p50_ms", "ms", "one query, 1 thread"), ("p95_ms", "ms", "one query, 1 thread"),
                            ("peak_rss_mb", "MiB", "peak memory of the process that built and queried it"),
                            ("disk_mb", "MiB", "index on disk")):
        beside(r, f"{p}.{key}", m[key], f[key], unit, what)
    beside(r, f"{p}.recall10", m["recall10"], f["recall10"], "", "recall@10 against exact search", higher_is_better=True)
    r.add(f"{p}.settle_s.milvus", m["settle_s"], "s", note="then waited for Milvus Lite's background compaction and "
          "index builds before timing queries (FAISS has none)")


def beside(r, name: str, milvus: float, faiss: float, unit: str, what: str, higher_is_better: bool = False) -> None:
    """One line: Milvus's figure, FAISS's from the same run, and the ratio (above 1: Milvus does better)."""
    ratio = (milvus / faiss if higher_is_better else faiss / milvus) if min(milvus, faiss) > 0 else float("nan")
    r.values[f"{name}.faiss"] = round(float(faiss), 4)
    r.values[f"{name}.ratio"] = round(float(ratio), 4)
    r.add(f"{name}.milvus", milvus, unit, note=f"FAISS {faiss:,.4g} {unit}, ratio {ratio:.3g}; {what}".replace("  ", " "))


def _texts(n: int, rng) -> tuple[list[str], list[str]]:
    from rag.text import content_words

    words = sorted({w for p in ARTICLES.glob("*.txt") for w in content_words(p.read_text())})
    ranks = rng.zipf(1.3, size=n * 25) % len(words)
    texts = [" ".join(words[r] for r in ranks[i * 25:(i + 1) * 25]) for i in range(n)]
    queries = [" ".join(words[r] for r in rng.integers(0, len(words), 4)) for _ in range(100)]
    return texts, queries


def _lexical(ctx: Context, n: int) -> None:
    import bm25s

    from rag.stores.milvus import _quiet

    _quiet()
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    r = ctx.results
    p = f"milvus.bm25.{n}"
    r.section(f"milvus: lexical search at {n:,} passages: Milvus Lite BM25 vs bm25s (synthetic text)")
    texts, queries = _texts(n, np.random.default_rng(4))
    start = time.perf_counter()
    lexical = bm25s.BM25()
    lexical.index([t.split() for t in texts], show_progress=False)
    bm25s_build = time.perf_counter() - start

    path = OUT / "milvus" / "bm25.db"
    shutil.rmtree(path, ignore_errors=True)
    client = MilvusClient(str(path))
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"],
                                 output_field_names=["sparse"]))
    index = client.prepare_index_params()
    index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    start = time.perf_counter()
    client.create_collection("bm25", schema=schema, index_params=index)
    for at in range(0, n, 5_000):
        client.insert("bm25", [{"row": i, "terms": texts[i]} for i in range(at, min(n, at + 5_000))])
    client.flush("bm25")
    client.search("bm25", data=[queries[0]], anns_field="sparse", limit=K)
    milvus_build = time.perf_counter() - start

    def ours(q: str) -> list[int]:
        return [h["row"] for h in client.search("bm25", data=[q], anns_field="sparse", limit=30)[0]]

    def theirs(q: str) -> list[int]:
        return lexical.retrieve([q.split()], k=30, show_progress=False, n_threads=1)[0][0].tolist()

    m_ms, b_ms, overlap = [], [], []
    for q in queries:
        a, b = interleaved(lambda q=q: ours(q), lambda q=q: theirs(q), rounds=1, warmup=0)
        m_ms += [x * 1000 for x in a]
        b_ms += [x * 1000 for x in b]
        overlap.append(len(set(ours(q)[:K]) & set(theirs(q)[:K])) / K)
    client.close()
    shutil.rmtree(path, ignore_errors=True)
    r.compare(f"{p}.build_s", milvus_build, bm25s_build, "s", "bm25s index (ratio above 1: Milvus faster)",
              higher_is_better=False)
    r.compare(f"{p}.p50_ms", median(m_ms), median(b_ms), "ms", "bm25s retrieve, 1 thread", higher_is_better=False)
    r.compare(f"{p}.p95_ms", percentile(m_ms, 95), percentile(b_ms, 95), "ms", "bm25s retrieve, 1 thread",
              higher_is_better=False)
    r.add(f"{p}.top10_overlap", float(np.mean(overlap)), "",
          note="share of Milvus's top 10 that bm25s also ranks top 10 (Milvus Lite keeps IDF per segment)")


def _retrieve(ctx: Context) -> None:
    from rag import RAG

    r = ctx.results
    r.section("milvus: the whole RAG.retrieve over the articles, each engine (packaged embedder)")
    questions = gold_questions(20 if ctx.quick else None)
    folder = OUT / "milvus" / "articles"
    shutil.rmtree(folder, ignore_errors=True)
    rags = {}
    for engine, store in (("faiss", "faiss"), ("milvus", f"milvus://{folder}/index.db")):
        start = time.perf_counter()
        rags[engine] = RAG.build(ARTICLES, folder / "faiss", embedder=ctx.embedder, store=store, rebuild=True)
        r.add(f"milvus.articles.{engine}_build_s", time.perf_counter() - start, "s",
              note=f"{len(rags[engine].store)} passages, embedding included")
    same = sum([h.chunk.id for h in rags["faiss"].retrieve(q)] == [h.chunk.id for h in rags["milvus"].retrieve(q)]
               for q in questions)
    r.add("milvus.articles.same_passages", same / len(questions), "",
          note=f"share of {len(questions)} gold questions whose retrieved passages (ids, order) are identical")
    ms: dict[str, list[float]] = {"faiss": [], "milvus": []}
    for q in questions:
        a, b = interleaved(lambda q=q: rags["milvus"].retrieve(q), lambda q=q: rags["faiss"].retrieve(q),
                           rounds=3 if ctx.quick else 5)
        ms["milvus"] += [x * 1000 for x in a]
        ms["faiss"] += [x * 1000 for x in b]
    beside(r, "milvus.articles.retrieve_p50_ms", median(ms["milvus"]), median(ms["faiss"]), "ms",
           "RAG.retrieve, question embedding included")
    beside(r, "milvus.articles.retrieve_p95_ms", percentile(ms["milvus"], 95), percentile(ms["faiss"], 95), "ms",
           "RAG.retrieve, question embedding included")
    shutil.rmtree(folder, ignore_errors=True)
    assert not math.isnan(median(ms["faiss"]))
