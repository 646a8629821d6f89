"""Retrieval latency: one question through RAG.retrieve (embed, FAISS, BM25, fusion), p50 and p95.

Measured on the seed articles and on the large index (articles + Python documentation sample),
with its stages timed apart. The FAISS stage (Store.search) is compared with a bare
faiss search of the same index file with the same vectors, one OpenMP thread each.
"""

from __future__ import annotations

from .common import PYDOCS_QUESTIONS, Context, gold_questions, interleaved, log, median, percentile, seconds


def run(ctx: Context) -> None:
    r = ctx.results
    r.section("2. retrieval latency")
    gold = gold_questions(5 if ctx.quick else None)
    rounds = 1 if ctx.quick else 2
    _corpus(ctx, "seed", ctx.seed_index(), gold, rounds, target=None)
    docs, questions = ctx.docs_index(), PYDOCS_QUESTIONS[: 5 if ctx.quick else None] + gold
    _corpus(ctx, "docs", docs, questions, rounds, target=20.0)
    _threads(ctx, docs, questions)


def _corpus(ctx: Context, name: str, index, questions: list[str], rounds: int, target: float | None) -> None:
    import faiss
    import numpy as np

    from rag import RAG

    r = ctx.results
    rag = RAG.open(index, embedder=ctx.embedder)
    store, retriever, config = rag.store, rag.retriever, rag.config
    log(f"{name}: {len(store)} passages ({store.manifest.faiss_type}), {len(questions)} questions x {rounds} rounds")
    for q in questions[:3]:
        rag.retrieve(q)  # warm-up: builds BM25 on first use
    times = [seconds(lambda q=q: rag.retrieve(q)) * 1000 for _ in range(rounds) for q in questions]
    r.add(f"retrieve.{name}.passages", len(store))
    r.add(f"retrieve.{name}.p50_ms", median(times), "ms", ("<=", target) if target else None)
    r.add(f"retrieve.{name}.p95_ms", percentile(times, 95), "ms")

    vectors = {q: retriever.embed_query(q) for q in questions}
    stages = {
        "embed_question": lambda q: retriever.embed_query(q),
        "faiss": lambda q: store.search(vectors[q], config.candidates),
        "bm25": lambda q: retriever.lexical.search(q, config.candidates),
    }
    for stage, fn in stages.items():
        ms = [seconds(lambda q=q, fn=fn: fn(q)) * 1000 for q in questions]
        r.add(f"retrieve.{name}.{stage}_p50_ms", median(ms), "ms")

    # FAISS through rag against a bare faiss search of the same index file.
    bare = faiss.read_index(str(store.path / "faiss.index"))
    queries = [np.asarray(vectors[q], dtype=np.float32).reshape(1, -1) for q in questions]
    k = min(config.candidates, len(store))

    def ours() -> None:
        for v in queries:
            store.search(v[0], config.candidates)

    def plain() -> None:
        faiss.omp_set_num_threads(1)
        for v in queries:
            bare.search(v, k)

    a, b = interleaved(ours, plain, rounds=3 if ctx.quick else 9)
    n = len(queries)
    r.compare(f"retrieve.{name}.faiss_ms", median(a) / n * 1000, median(b) / n * 1000, "ms/query",
              "bare faiss index.search", higher_is_better=False)


def _threads(ctx: Context, index, questions: list[str]) -> None:
    """RAG.retrieve with torch at Config.n_threads against one thread, question by question.

    Opening a FAISS store sets the OpenMP thread count to faiss_threads, and torch reads the same
    setting, so once an index is open the library embeds questions with faiss_threads threads
    whatever n_threads says; here each call sets the count it is measuring first.
    """
    import torch

    from rag import RAG

    r = ctx.results
    rag = RAG.open(index, embedder=ctx.embedder)
    n = ctx.config.n_threads
    qs = questions[:5] if ctx.quick else questions

    def with_threads(threads: int, q: str) -> None:
        torch.set_num_threads(threads)
        rag.retrieve(q)

    ours, one = [], []
    for q in qs:
        a, b = interleaved(lambda q=q: with_threads(n, q), lambda q=q: with_threads(1, q), rounds=1, warmup=0)
        ours += a
        one += b
    torch.set_num_threads(n)
    r.add(f"retrieve.docs.p50_ms_torch_{n}_threads", median(ours) * 1000, "ms")
    r.add("retrieve.docs.p50_ms_torch_1_thread", median(one) * 1000, "ms",
          note="the same questions, question embedded with torch.set_num_threads(1)")
