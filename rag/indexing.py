"""Build or update the index: embed only what changed, then swap the new version in.

Unchanged documents (same sha256) keep their chunks and vectors; changed ones are re-chunked
and re-embedded; documents no longer in the folder leave the index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .chunk import chunk_document
from .config import Config
from .documents import SkippedFile, iter_paths, load_document
from .embed import Embedder
from .errors import DocumentError, IndexError_
from .retrieve import search_text
from .store import Manifest, Store, load_store, write_lock, write_version
from .types import Chunk

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, what) -> None


@dataclass(frozen=True)
class IndexReport:
    """What an index run did, for the CLI and the chat page."""

    documents: int
    chunks: int
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    embedded: int = 0  # chunks that went through the embedder in this run
    skipped: tuple[str, ...] = field(default=())  # one sentence per skipped file
    written: bool = False


def _previous(index_dir: Path, config: Config, embedder: Embedder, rebuild: bool) -> Store | None:
    """The live index if it can be reused; None means embed everything."""
    if rebuild:
        return None
    try:
        store = load_store(index_dir, embedder.name, embedder.dim)
    except IndexError_ as exc:
        if (index_dir / "CURRENT").exists():
            log.warning("Rebuilding from scratch: %s", exc)
        return None
    m = store.manifest
    if (m.chunk_sentences, m.chunk_chars) != (config.chunk_sentences, config.chunk_chars):
        log.warning("Chunk settings changed; rebuilding from scratch.")
        return None
    return store


def build_index(config: Config, embedder: Embedder, paths: Iterable[Path] | None = None,
                rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
    """Index ``paths`` (default: every file in config.docs_dir) into config.index_dir."""
    index_dir = Path(config.index_dir)
    docs_dir = Path(config.docs_dir)
    if paths is None:
        if not docs_dir.is_dir():
            raise DocumentError(f"The documents folder {docs_dir} does not exist; pass --docs DIR.")
        paths = iter_paths(docs_dir)
    paths = list(paths)
    with write_lock(index_dir):
        old = _previous(index_dir, config, embedder, rebuild)
        old_docs = old.manifest.documents if old else {}
        chunks: list[Chunk] = []
        vectors: list[np.ndarray] = []
        documents: dict[str, dict] = {}
        added, changed, skipped = [], [], []
        embedded = unchanged = 0
        for i, path in enumerate(paths):
            if progress:
                progress(i, len(paths), path.name)
            doc_id = path.stem
            if doc_id in documents:
                skipped.append(f"Skipped {path}: another file already has the id {doc_id}.")
                log.warning(skipped[-1])
                continue
            try:
                data_hash = _hash(path, config.max_doc_bytes)
                previous = old_docs.get(doc_id)
                if old is not None and previous and previous["sha256"] == data_hash:
                    first, count = previous["rows"]
                    documents[doc_id] = {**previous, "rows": [len(chunks), count], "path": str(path)}
                    chunks.extend(old.chunks[first:first + count])
                    vectors.append(np.asarray(old.vectors[first:first + count], dtype=np.float32))
                    unchanged += 1
                    continue
                doc = load_document(path, config.max_doc_bytes)
            except SkippedFile as exc:
                skipped.append(str(exc))
                log.warning("%s", exc)
                continue
            doc_chunks = chunk_document(doc, config.chunk_sentences, config.chunk_chars)
            if not doc_chunks:
                skipped.append(f"Skipped {path}: no sentences found in it.")
                continue
            vectors.append(embedder.embed([search_text(c) for c in doc_chunks]))
            embedded += len(doc_chunks)
            documents[doc_id] = {"path": str(path), "sha256": doc.sha256, "title": doc.title,
                                 "rows": [len(chunks), len(doc_chunks)]}
            chunks.extend(doc_chunks)
            (changed if doc_id in old_docs else added).append(doc_id)
        if progress:
            progress(len(paths), len(paths), "writing index")
        removed = sorted(set(old_docs) - set(documents))
        if not documents:
            raise DocumentError(f"No readable documents in {docs_dir}; nothing was indexed.")
        report = IndexReport(len(documents), len(chunks), tuple(added), tuple(changed), tuple(removed), unchanged,
                             embedded, tuple(skipped))
        if old is not None and not (added or changed or removed) and list(old_docs) == list(documents):
            return report
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, embedder.dim), np.float32)
        manifest = Manifest(
            embedder=embedder.name, dim=embedder.dim, chunk_sentences=config.chunk_sentences,
            chunk_chars=config.chunk_chars, faiss_type="flat" if len(chunks) < config.exact_limit else "hnsw",
            count=len(chunks), documents=documents, files={}, docs_dir=str(docs_dir),
        )
        write_version(index_dir, manifest, chunks, matrix, config.n_threads)
        return IndexReport(**{**report.__dict__, "written": True})


def _hash(path: Path, max_bytes: int) -> str:
    import hashlib

    from .documents import read_bytes

    return hashlib.sha256(read_bytes(path, max_bytes)).hexdigest()
