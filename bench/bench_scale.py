"""Scale: FAISS at N passages (default 200,000; quick 20,000; --scale-size 1000000), and `rag index` memory.

Vectors: real all-MiniLM-L6-v2 embeddings of the documentation sample (the large index built by
bench_index) are split into held-out queries and seeds; N base vectors are made from the seeds as
normalise(s_i + b*s_j + noise), b ~ U(0, 0.5), noise norm 0.5 (about cos 0.85 to s_i): they keep
the shape of real passage embeddings but spread like a corpus N times larger. The isotropic noise
makes them harder for approximate search than real text, so recall here is a conservative figure.
Queries are the held-out passages plus the embedded benchmark questions. Recall@10 counts ties
(see `recall`).

1. Exact search (bare IndexFlatIP, 1 thread) latency by size: the baseline, and where it stops
   being cheap (the suggested Config.exact_limit).
2. The index rag builds for N passages (rag.stores.index_kind and make_faiss_index with the default
   Config): build time, memory, recall@10 against exact search, single-query p50/p95 (targets:
   recall >= 0.95, p50 <= 10 ms), and its speed-up over exact search.
3. The alternatives on the same vectors: HNSW by efSearch (skipped above 300,000 passages: an
   eight-minute build here) and IVF by nprobe; recall of HNSW on the real embeddings alone.
4. `rag index` (build_index with a fast stand-in embedder) on synthetic text corpora of two
   sizes in fresh processes: peak memory should grow with the FAISS index, not with the text
   (full run only).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .common import (
    OUT,
    PYDOCS_QUESTIONS,
    ROOT,
    VENV_BIN,
    Context,
    gold_questions,
    log,
    median,
    percentile,
    run_measured,
)

K = 10
EXACT_BUDGET_MS = 5.0  # exact search is "cheap" while its p50 stays under half the 10 ms budget
FLAT_SIZES = (10_000, 25_000, 35_000, 50_000, 100_000, 200_000, 400_000, 1_000_000)
EF_SWEEP = (32, 64, 128, 256, 512)
NPROBE_SWEEP = (4, 8, 16, 32, 64)
NOISE = 0.5  # norm of the noise added to each synthetic vector


def synthesize(seeds: np.ndarray, n: int, path, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors near mixtures of the seed rows, written to a .npy at ``path`` (memory-mapped)."""
    from numpy.lib.format import open_memmap

    rng = np.random.default_rng(seed)
    dim = seeds.shape[1]
    out = open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    sigma = NOISE / math.sqrt(dim)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        i, j = rng.integers(0, len(seeds), m), rng.integers(0, len(seeds), m)
        x = seeds[i] + rng.uniform(0, 0.5, (m, 1)).astype(np.float32) * seeds[j]
        x += rng.standard_normal((m, dim), dtype=np.float32) * sigma
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()
    return out


def single_query_ms(index, queries: np.ndarray, k: int = K) -> list[float]:
    """Latency of one-query searches, one OpenMP thread, one warm-up pass over a few queries."""
    import faiss

    faiss.omp_set_num_threads(1)
    for q in queries[:5]:
        index.search(q[None], k)
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q[None], k)
        times.append((time.perf_counter() - start) * 1000)
    return times


def recall(found: np.ndarray, queries: np.ndarray, base: np.ndarray, kth: np.ndarray) -> float:
    """Mean share of the top k found, counting ties: a hit scoring at least the true k-th score is right.

    Real corpora hold identical passages ("Next topic", copyright lines); which of several
    identical vectors exact search lists is arbitrary, so plain id overlap would count ties as misses.
    """
    shares = []
    for q, ids, threshold in zip(queries, found, kth):
        ids = np.unique(ids[ids >= 0])
        scores = np.asarray(base[np.sort(ids)], dtype=np.float32) @ q if len(ids) else np.zeros(0)
        shares.append(min(int(np.sum(scores >= threshold - 1e-5)), len(found[0])) / len(found[0]))
    return float(np.mean(shares))


def run(ctx: Context) -> None:
    import faiss

    from rag.stores.base import HNSW_EF_SEARCH, IVF_NPROBE, index_kind
    from rag.stores.faiss import live_version, make_faiss_index

    r = ctx.results
    n = ctx.scale_size or (20_000 if ctx.quick else 200_000)
    p = f"scale.{n}"
    r.section(f"5. scale: {n:,} passages")
    real = np.load(live_version(ctx.docs_index()) / "vectors.npy")
    order = np.random.default_rng(0).permutation(len(real))
    n_held = min(50 if ctx.quick else 200, len(real) // 5)
    questions = ctx.embedder.embed(PYDOCS_QUESTIONS + gold_questions(None if not ctx.quick else 10))
    queries = np.ascontiguousarray(np.vstack([real[order[:n_held]], questions]), dtype=np.float32)
    seeds = np.ascontiguousarray(real[order[n_held:]])
    log(f"{len(seeds)} real seed vectors, {len(queries)} queries; making {n:,} vectors")
    base = synthesize(seeds, n, OUT / f"scale-{n}.npy")

    # -- exact search: the baseline, and where it stops being cheap -------------------------------------
    faiss.omp_set_num_threads(2)
    flat = faiss.IndexFlatIP(base.shape[1])
    for start in range(0, n, 65_536):
        flat.add(np.ascontiguousarray(base[start:start + 65_536]))
    kth = flat.search(queries, K)[0][:, -1]  # the true k-th best score per query
    sweep_q = queries[: 20 if ctx.quick else 60]
    flat_p50 = {}
    for size in [s for s in FLAT_SIZES if s < n] + [n]:
        sub = flat if size == n else faiss.IndexFlatIP(base.shape[1])
        if size != n:
            sub.add(np.ascontiguousarray(base[:size]))
        flat_p50[size] = median(single_query_ms(sub, sweep_q))
        r.add(f"scale.flat_p50_ms.{size}", flat_p50[size], "ms", note="exact IndexFlatIP, one query, 1 thread")
        del sub
    exact_limit = max([s for s, ms in flat_p50.items() if ms <= EXACT_BUDGET_MS], default=0)
    r.add("scale.exact_limit_suggested", exact_limit, "passages",
          note=f"largest measured size with exact p50 <= {EXACT_BUDGET_MS:g} ms (Config.exact_limit decides)")
    flat_ms = single_query_ms(flat, queries)
    del flat

    # -- the index rag builds for n passages -------------------------------------------------------------
    kind = index_kind(n, ctx.config.exact_limit)
    log(f"building rag's index for {n:,} passages: {kind}, 2 threads")
    start = time.perf_counter()
    index = make_faiss_index(base, kind, threads=2)
    build_s = time.perf_counter() - start
    faiss.omp_set_num_threads(2)
    found = index.search(queries, K)[1]
    ms = single_query_ms(index, queries)
    r.add(f"{p}.kind", kind, note=f"Config.exact_limit={ctx.config.exact_limit:,}; efSearch {HNSW_EF_SEARCH}, nprobe {IVF_NPROBE}")
    r.add(f"{p}.build_s", build_s, "s", note="make_faiss_index, 2 threads")
    r.add(f"{p}.memory_mb", index_bytes(index) / 2**20, "MiB", note="what the index holds: vectors, links, lists")
    r.add(f"{p}.recall_at_10", recall(found, queries, base, kth), "", (">=", 0.95), note="vs exact search")
    r.add(f"{p}.p50_ms", median(ms), "ms", ("<=", 10.0), note="one query, 1 thread")
    r.add(f"{p}.p95_ms", percentile(ms, 95), "ms")
    r.compare(f"{p}.search_ms", median(ms), median(flat_ms), "ms", "exact IndexFlatIP", higher_is_better=False)

    # -- the alternatives ---------------------------------------------------------------------------------
    if kind == "hnsw" or n <= 300_000:
        hnsw = index if kind == "hnsw" else _timed_build(ctx, p, "hnsw", base)
        for ef in EF_SWEEP:
            hnsw.hnsw.efSearch = ef
            _sweep_point(ctx, f"{p}.hnsw_ef{ef}", hnsw, queries, base, kth)
        del hnsw
    ivf = index if kind == "ivf" else _timed_build(ctx, p, "ivf", base)
    for nprobe in NPROBE_SWEEP:
        ivf.nprobe = nprobe
        _sweep_point(ctx, f"{p}.ivf_nprobe{nprobe}", ivf, queries, base, kth)
    del ivf, index
    real_index = make_faiss_index(seeds, "hnsw", threads=2)
    exact = faiss.IndexFlatIP(seeds.shape[1])
    exact.add(seeds)
    r.add("scale.real_hnsw_recall_at_10",
          recall(real_index.search(queries, K)[1], queries, seeds, exact.search(queries, K)[0][:, -1]),
          note=f"HNSW over {len(seeds):,} real MiniLM passage vectors alone, efSearch={HNSW_EF_SEARCH}")
    del base
    (OUT / f"scale-{n}.npy").unlink(missing_ok=True)
    if not ctx.quick:  # at smoke sizes the interpreter's own memory hides the growth
        _index_memory(ctx)


def index_bytes(index) -> int:
    """Memory a flat, HNSW or IVF-Flat index holds for its vectors and structure."""
    import faiss

    index = faiss.downcast_index(index)
    size = index.ntotal * index.d * 4
    if isinstance(index, faiss.IndexHNSW):
        graph = index.hnsw
        size += graph.neighbors.size() * 4 + graph.levels.size() * 4 + graph.offsets.size() * 8
    elif isinstance(index, faiss.IndexIVF):
        size += index.ntotal * 8 + index.nlist * index.d * 4  # ids, centroids
    return size


def _timed_build(ctx: Context, p: str, kind: str, base: np.ndarray):
    from rag.stores.faiss import make_faiss_index

    log(f"building {kind} over {len(base):,} vectors for comparison")
    start = time.perf_counter()
    index = make_faiss_index(base, kind, threads=2)
    ctx.results.add(f"{p}.{kind}_build_s", time.perf_counter() - start, "s", note="rag.stores.faiss.make_faiss_index, 2 threads")
    return index


def _sweep_point(ctx: Context, name: str, index, queries: np.ndarray, base: np.ndarray, kth: np.ndarray) -> None:
    import faiss

    faiss.omp_set_num_threads(2)
    found = index.search(queries, K)[1]
    ms = single_query_ms(index, queries)
    ctx.results.add(f"{name}.recall_at_10", recall(found, queries, base, kth),
                    note=f"p50 {median(ms):.2f} ms, p95 {percentile(ms, 95):.2f} ms")


def _index_memory(ctx: Context) -> None:
    """Peak RSS of build_index at two corpus sizes, each in a fresh process (bench/scale_index.py)."""
    r = ctx.results
    sizes = (10_000, 40_000)
    peaks = {}
    for size in sizes:
        log(f"rag index (stand-in embedder) on a synthetic corpus of ~{size:,} passages")
        run = run_measured([str(VENV_BIN / "python"), str(ROOT / "bench" / "scale_index.py"), str(size),
                            str(OUT / f"scale-corpus-{size}"), str(OUT / f"scale-index-{size}")])
        if run.returncode != 0:
            raise RuntimeError(f"scale_index.py failed: {run.stderr[-2000:]}")
        passages, build_s, text_mb = (float(x) for x in run.stdout.split()[-3:])
        peaks[size] = run.peak_rss / 2**20
        r.add(f"scale.index_{size}.passages", int(passages))
        r.add(f"scale.index_{size}.build_s", build_s, "s", note="build_index only (parse, chunk, stand-in embed, write, FAISS)")
        r.add(f"scale.index_{size}.peak_rss_mb", peaks[size], "MiB", note=f"{text_mb:.0f} MiB of passage text")
    small, large = sizes
    r.add("scale.index_rss_growth_mb_per_1k_passages", (peaks[large] - peaks[small]) / ((large - small) / 1000), "MiB",
          note="~1.5 KiB/passage is the float32 vectors FAISS must hold; more means text is being kept")
