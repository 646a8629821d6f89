"""Build or update the index: embed only what changed, then swap the new version in.

Unchanged documents (same sha256) keep their chunks and vectors; changed ones are re-chunked
and re-embedded; documents no longer in the folder leave the index. Passages stream to the new
version's files as they are made, so memory does not grow with the size of the corpus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .chunk import chunk_document
from .config import Config
from .documents import SUFFIXES, TYPES, SkippedFile, file_of, iter_paths, load_file
from .embed import Embedder
from .errors import DocumentError, RagIndexError, StoreUnavailableError
from .retrieve import search_text
from .stores import Engine, Manifest, Store, Writer, index_kind, open_engine
from .types import Chunk, Document

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
    files: tuple[str, ...] = ()  # RAG.add_documents: the names of the given files that the index now holds


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
                    chunked = read_document(path, config)
                except SkippedFile as exc:
                    skipped.append(str(exc))
                    log.warning("%s", exc)
                    continue
                for doc, doc_chunks in chunked:
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


def read_document(path: Path, config: Config) -> list[tuple[Document, list[Chunk]]]:
    """A file as the index would hold it: each of its documents (a PDF: each page with text) and their
    passages; raises SkippedFile (saying why) if it would be skipped."""
    chunked = [(doc, chunks) for doc in load_file(path, config.max_doc_bytes)
               if (chunks := chunk_document(doc, config.chunk_sentences, config.chunk_chars))]
    if not chunked:
        raise SkippedFile(f"Skipped {path}: no sentences found in it.")
    return chunked


@dataclass(frozen=True)
class Upload:
    """Files checked for `RAG.add_documents`: what to copy into the documents folder, and what was skipped."""

    copies: tuple[tuple[Path, Path], ...]  # (source, target in the documents folder), each one indexable
    skipped: tuple[str, ...]  # one sentence per file that would not be indexed, naming it (not its temporary path)


def plan_upload(config: Config, files: Sequence[Path]) -> Upload:
    """Check every file before any is copied; DocumentError refuses the whole upload in one sentence.

    Refused outright: too many files (max_upload_files), a type that is not indexed, a name or
    document id that would replace another document, or a documents folder that would grow past
    max_corpus_bytes. Skipped, with the reason: a file the index would not hold (empty, binary,
    not UTF-8, over max_doc_bytes, no sentences), so it never enters the documents folder.
    """
    if len(files) > config.max_upload_files:
        raise DocumentError(f"{len(files)} files were sent; at most {config.max_upload_files} can be added at once "
                            "(setting max_upload_files), so none was added.")
    docs_dir = Path(config.docs_dir)
    present = {p.stem: p for p in iter_paths(docs_dir)} if docs_dir.is_dir() else {}
    taken: dict[str, str] = {}  # doc id -> name, within this upload
    copies, skipped, new_bytes = [], [], 0
    for source in files:
        name = source.name
        if source.suffix.lower() not in SUFFIXES:
            raise DocumentError(f"{name} is not a {TYPES} file; only those can be added.")
        if name.startswith("."):
            raise DocumentError(f"{name} starts with a dot, and such files are never indexed; rename it.")
        target, doc_id = docs_dir / name, source.stem
        if doc_id in taken:
            raise DocumentError(f"{taken[doc_id]} and {name} would both be the document {doc_id}; rename one.")
        taken[doc_id] = name
        other = present.get(doc_id)
        same_file = other is not None and other.resolve() == source.resolve()
        if other is not None and not same_file and (other != target or other.read_bytes() != source.read_bytes()):
            what = f"named {name}" if other == target else f"{other.name}, with the id {doc_id},"
            raise DocumentError(f"A different document {what} is already indexed; rename the file.")
        try:
            read_document(source, config)
        except SkippedFile as exc:
            skipped.append(str(exc).replace(f"Skipped {source}:", f"Skipped {name}:", 1))
            log.warning("%s", skipped[-1])
            continue
        if other is None:
            new_bytes += source.stat().st_size
        copies.append((source, target))
    total = sum(p.stat().st_size for p in present.values()) + new_bytes
    if new_bytes and total > config.max_corpus_bytes:
        raise DocumentError(f"Adding these files would bring the documents to {total:,} bytes, over the "
                            f"{config.max_corpus_bytes:,}-byte limit (setting max_corpus_bytes), so none was added.")
    return Upload(tuple(copies), tuple(skipped))


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
