"""Build or update the index: embed only what changed, then swap the new version in.

Unchanged documents (same sha256) keep their chunks and vectors; changed ones are re-chunked
and re-embedded; documents no longer in the folder leave the index. Passages stream to the new
version's files as they are made, so memory does not grow with the size of the corpus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .chunk import chunk_document
from .config import Config
from .documents import SkippedFile, file_of, iter_paths, load_file
from .embed import Embedder
from .errors import DocumentError, RagIndexError, StoreUnavailableError
from .retrieve import search_text
from .stores import Engine, Manifest, Store, Writer, index_kind, open_engine
from .types import Chunk

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, what) -> None
EMBED_BLOCK = 512  # passages per embedder call when indexing (across documents)
COPY_BLOCK = 16_384  # unchanged passages copied to the new version per read of the old one (24 MiB at 384-d)


@dataclass(frozen=True)
class IndexReport:
    """What an index run did, for the CLI and the chat page."""

    documents: int  # files indexed (a PDF is one, whatever its pages)
    chunks: int
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    embedded: int = 0  # chunks that went through the embedder in this run
    skipped: tuple[str, ...] = field(default=())  # one sentence per skipped file
    written: bool = False


def _previous(engine: Engine, config: Config, embedder: Embedder, rebuild: bool) -> Store | None:
    """The live index if it can be reused; None means embed everything."""
    if rebuild:
        return None
    try:
        store = engine.open(embedder.name, embedder.dim)
    except StoreUnavailableError:
        raise  # an unreachable store is not an empty one: stop, and lose nothing
    except RagIndexError as exc:
        if engine.exists():
            log.warning("Rebuilding from scratch: %s", exc)
        return None
    m = store.manifest
    if (m.chunk_sentences, m.chunk_chars) != (config.chunk_sentences, config.chunk_chars):
        log.warning("Chunk settings changed; rebuilding from scratch.")
        return None
    return store


def build_index(config: Config, embedder: Embedder, paths: Iterable[Path] | None = None,
                rebuild: bool = False, progress: Progress | None = None) -> IndexReport:
    """Index ``paths`` (default: every file in config.docs_dir) into the store Config.store names."""
    # faiss sets the OpenMP thread count torch also uses: keep it at n_threads for embedding.
    engine = open_engine(config, threads=config.n_threads)
    docs_dir = Path(config.docs_dir)
    if paths is None:
        if not docs_dir.is_dir():
            raise DocumentError(f"The documents folder {docs_dir} does not exist; pass --docs DIR.")
        paths = iter_paths(docs_dir)
    paths = list(paths)
    with engine.lock():
        engine.remove_unfinished()
        old = _previous(engine, config, embedder, rebuild)
        old_docs = old.manifest.documents if old else {}
        with _Rows(engine, embedder, old) as rows:
            documents = rows.documents
            added, changed, skipped = [], [], []
            unchanged = 0
            old_files = _by_file(old_docs)
            files: list[str] = []  # ids of the files indexed, in order
            for i, path in enumerate(paths):
                if progress:
                    progress(i, len(paths), path.name)
                file_id = path.stem
                if file_id in files:
                    skipped.append(f"Skipped {path}: another file already has the id {file_id}.")
                    log.warning(skipped[-1])
                    continue
                try:
                    data_hash = _hash(path, config.max_doc_bytes)
                    previous = old_files.get(file_id, [])
                    if old is not None and previous and all(old_docs[d]["sha256"] == data_hash for d in previous):
                        for doc_id in previous:
                            rows.keep(doc_id, {**old_docs[doc_id], "path": str(path)})
                        files.append(file_id)
                        unchanged += 1
                        continue
                    docs = load_file(path, config.max_doc_bytes)
                except SkippedFile as exc:
                    skipped.append(str(exc))
                    log.warning("%s", exc)
                    continue
                chunked = [(doc, chunk_document(doc, config.chunk_sentences, config.chunk_chars)) for doc in docs]
                if not any(doc_chunks for _, doc_chunks in chunked):
                    skipped.append(f"Skipped {path}: no sentences found in it.")
                    continue
                for doc, doc_chunks in chunked:
                    if doc_chunks:
                        rows.embed(doc.id, {"path": str(path), "sha256": doc.sha256, "title": doc.title}, doc_chunks)
                files.append(file_id)
                (changed if file_id in old_files else added).append(file_id)
            if progress:
                progress(len(paths), len(paths), "writing index")
            rows.embed_queued()
            removed = sorted(set(old_files) - set(files))
            if not documents:
                raise DocumentError(f"No readable documents in {docs_dir}; nothing was indexed.")
            report = IndexReport(len(files), rows.count, tuple(added), tuple(changed), tuple(removed), unchanged,
                                 rows.embedded, tuple(skipped))
            if old is not None and not (added or changed or removed) and list(old_docs) == list(documents):
                return report
            manifest = Manifest(
                embedder=embedder.name, dim=embedder.dim, chunk_sentences=config.chunk_sentences,
                chunk_chars=config.chunk_chars, faiss_type=index_kind(rows.count, config.exact_limit),
                count=rows.count, documents=documents, files={}, docs_dir=str(docs_dir),
            )
            rows.commit(manifest, config.n_threads)
        return IndexReport(**{**report.__dict__, "written": True})


class _Rows:
    """The new version's rows, in document order, streamed to the engine's Writer.

    Unchanged documents are copied from the old version; new ones are embedded in blocks of
    about EMBED_BLOCK passages across documents (bigger encode calls pad less). Nothing is
    written until the first document has to be embedded, so a run that changes nothing
    writes nothing.
    """

    def __init__(self, engine: Engine, embedder: Embedder, old: Store | None) -> None:
        self.engine = engine
        self.embedder = embedder
        self.old = old
        self.documents: dict[str, dict] = {}  # doc_id -> manifest entry, rows assigned in order
        self.count = 0  # rows assigned so far
        self.embedded = 0
        self._queue: list[tuple[int, int] | list[Chunk]] = []  # old row spans to copy, or chunks to embed
        self._queued_texts = 0
        self._writer: Writer | None = None

    def __enter__(self) -> _Rows:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.abort()

    def keep(self, doc_id: str, entry: dict) -> None:
        first, count = entry["rows"]
        self.documents[doc_id] = {**entry, "rows": [self.count, count]}
        self.count += count
        self._queue.append((first, count))

    def embed(self, doc_id: str, entry: dict, chunks: list[Chunk]) -> None:
        self.documents[doc_id] = {**entry, "rows": [self.count, len(chunks)]}
        self.count += len(chunks)
        self._queue.append(chunks)
        self._queued_texts += len(chunks)
        if self._queued_texts >= EMBED_BLOCK:
            self._flush()

    def embed_queued(self) -> None:
        """Embed and write what is queued, if anything needs embedding."""
        if self._queued_texts:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self._writer = self.engine.writer(self.embedder.dim)
        new = [c for item in self._queue if isinstance(item, list) for c in item]
        vectors = self.embedder.embed([search_text(c) for c in new]) if new else None
        self.embedded += len(new)
        at, kept = 0, []  # kept: consecutive old row spans not written yet
        for item in self._queue:
            if isinstance(item, list):
                assert vectors is not None
                self._copy(kept)
                kept = []
                self._writer.add(item, vectors[at:at + len(item)])
                at += len(item)
            else:
                kept.append(item)
                if sum(count for _, count in kept) >= COPY_BLOCK:
                    self._copy(kept)
                    kept = []
        self._copy(kept)
        self._queue, self._queued_texts = [], 0

    def _copy(self, spans: list[tuple[int, int]]) -> None:
        """Write unchanged documents' rows from the old version, their vectors read in one call."""
        if not spans:
            return
        assert self.old is not None and self._writer is not None  # only rows of an old version are kept
        rows = [row for first, count in spans for row in range(first, first + count)]
        self._writer.add([self.old.chunks[row] for row in rows], self.old.vectors_of(rows))

    def commit(self, manifest: Manifest, threads: int) -> None:
        self._flush()
        assert self._writer is not None
        self._writer.commit(manifest, threads)


def _by_file(documents: dict[str, dict]) -> dict[str, list[str]]:
    """Document ids by the file they come from, in index order: {"r#p1", "r#p2", "a"} -> {"r": [...], "a": ["a"]}."""
    out: dict[str, list[str]] = {}
    for doc_id in documents:
        out.setdefault(file_of(doc_id), []).append(doc_id)
    return out


def _hash(path: Path, max_bytes: int) -> str:
    import hashlib

    from .documents import read_bytes

    return hashlib.sha256(read_bytes(path, max_bytes)).hexdigest()
