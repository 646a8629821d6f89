"""Embedding throughput of the packaged embedder on this machine, for docs/SCALING.md's arithmetic.

Plain `SentenceTransformer.encode` (the baseline) and rag's `SentenceTransformerEmbedder.embed`
over the same passages: the seed articles' passages, as `rag index` cuts them, repeated to N
(full: 4,000; quick: 400), batch Config.embed_batch, torch at Config.n_threads, interleaved.
"""

from __future__ import annotations

from .bench_index import passage_texts
from .common import ARTICLES, Context, interleaved, log, median

DAY = 86_400


def run(ctx: Context) -> None:
    import torch

    r = ctx.results
    r.section("embed: passages per second, the packaged embedder on this machine")
    config = ctx.config
    torch.set_num_threads(config.n_threads)
    seed = passage_texts(ARTICLES, config)
    n = 400 if ctx.quick else 4_000
    texts = (seed * (n // len(seed) + 1))[:n]
    model = ctx.embedder.model

    def plain() -> None:
        model.encode(texts, batch_size=config.embed_batch, show_progress_bar=False, convert_to_numpy=True)

    ours, theirs = interleaved(lambda: ctx.embedder.embed(texts), plain, rounds=1 if ctx.quick else 3)
    rate, base = n / median(ours), n / median(theirs)
    log(f"{n} passages of {sum(map(len, texts)) / n:.0f} characters on average")
    r.compare("embed.passages_per_s", rate, base, "passages/s", "plain SentenceTransformer.encode")
    r.add("embed.passages_per_day", base * DAY, "passages", note=f"plain encode, one machine of {config.n_threads} threads")
