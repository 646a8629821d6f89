"""Indexing: the embedding stage against plain sentence-transformers, then `rag index` end to end.

1. rag's embedder (SentenceTransformerEmbedder.embed) against SentenceTransformer.encode of the
   same passage texts with the same model object and batch size, interleaved; ratio >= 0.95.
2. `rag index --rebuild` on the articles plus a sample of the Python documentation: documents/s,
   passages/s and peak memory of that process (in the quick run: build_index in this process).
3. `rag index` again with nothing changed, as a fresh process: <= 2 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import OUT, VENV_BIN, Context, docs_corpus, interleaved, log, median, peak_rss_self, run_measured, seconds


def passage_texts(corpus: Path, config) -> list[str]:
    """The texts `rag index` embeds for ``corpus``, in indexing order."""
    from rag.chunk import chunk_document
    from rag.documents import SkippedFile, iter_paths, load_document
    from rag.retrieve import search_text

    texts = []
    for path in iter_paths(corpus):
        try:
            doc = load_document(path, config.max_doc_bytes)
        except SkippedFile:
            continue
        texts += [search_text(c) for c in chunk_document(doc, config.chunk_sentences, config.chunk_chars)]
    return texts


def run(ctx: Context) -> None:
    r = ctx.results
    r.section("1. indexing")
    corpus = docs_corpus(ctx.quick)
    config = ctx.config
    embedder = ctx.embedder

    # -- the embedding stage against plain encode ------------------------------------------------------
    texts = passage_texts(corpus, config)
    n_sample = 32 if ctx.quick else 256
    sample = [texts[i] for i in np.linspace(0, len(texts) - 1, n_sample).astype(int)]  # spread over the corpus
    rounds = 1 if ctx.quick else 5
    log(f"embedding {n_sample} passages x {rounds} rounds, rag vs plain encode (batch {embedder.batch_size})")
    model = embedder.model
    import torch

    torch.set_num_threads(config.n_threads)  # faiss calls elsewhere in this process may have lowered it
    ours, plain = interleaved(lambda: embedder.embed(sample),
                              lambda: model.encode(sample, batch_size=embedder.batch_size), rounds)
    r.compare("index.embed_passages_per_s", n_sample / median(ours), n_sample / median(plain), "passages/s",
              "SentenceTransformer.encode", target=0.95)

    # -- the whole pipeline on a fresh index --------------------------------------------------------------
    index = OUT / ("index-docs-quick" if ctx.quick else "index-docs")
    n_docs = sum(1 for p in corpus.iterdir() if p.is_file())
    log(f"rag index --rebuild: {n_docs} files, {len(texts)} passages")
    if ctx.quick:
        from rag.indexing import build_index

        cfg = config.with_values({"docs_dir": str(corpus), "index_dir": str(index)})
        box = []
        wall = seconds(lambda: box.append(build_index(cfg, embedder, rebuild=True)))
        report = box[0]
        documents, passages, peak = report.documents, report.chunks, peak_rss_self()
        how = "build_index in the benchmark process; its peak RSS includes the benchmark"
    else:
        run_ = run_measured([str(VENV_BIN / "rag"), "index", "--docs", str(corpus), "--index", str(index), "--rebuild"])
        if run_.returncode != 0:
            raise RuntimeError(f"rag index failed: {run_.stderr[-2000:]}")
        from rag.stores.faiss import live_version, read_manifest

        manifest = read_manifest(live_version(index))
        documents, passages, wall, peak = len(manifest.documents), manifest.count, run_.seconds, run_.peak_rss
        how = "fresh `rag index --rebuild` process, model load included"
    r.add("index.corpus_documents", documents)
    r.add("index.corpus_passages", passages)
    r.add("index.build_s", wall, "s", note=how)
    r.add("index.documents_per_s", documents / wall, "documents/s")
    r.add("index.passages_per_s", passages / wall, "passages/s")
    r.add("index.embedding_share", passages / (n_sample / median(ours)) / wall, "",
          note="time the embedder alone would need for these passages / whole build")
    r.add("index.build_peak_rss_mb", peak / 2**20, "MiB")

    # -- nothing changed: a fresh `rag index` that writes nothing -------------------------------------------
    cmd = [str(VENV_BIN / "rag"), "index", "--docs", str(corpus), "--index", str(index)]
    runs = 1 if ctx.quick else 3
    log(f"rag index with nothing changed x {runs} (+1 warm-up)" if not ctx.quick else "rag index with nothing changed")
    if not ctx.quick:
        run_measured(cmd)
    again = [run_measured(cmd) for _ in range(runs)]
    if any(a.returncode != 0 or "nothing written" not in " ".join(a.stdout.split()) for a in again):
        raise RuntimeError(f"the second rag index did not report 'nothing written': {again[-1].stdout} {again[-1].stderr}")
    r.add("index.unchanged_rerun_s", median(a.seconds for a in again), "s", ("<=", 2.0),
          note="fresh process: start-up, hash every file, load and check the index")
    r.add("index.unchanged_rerun_peak_rss_mb", max(a.peak_rss for a in again) / 2**20, "MiB")
