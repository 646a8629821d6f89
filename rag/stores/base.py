"""What every store engine shares: the manifest, the read-only Store view and the writer's contract.

A store holds one live *version* of the index: the passages (row i is ``chunks[i]``), their
vectors and a manifest saying what built them. A writer builds a whole new version beside the
live one and swaps it in at the very end (`Writer.commit`), so a killed writer leaves the old
version or the new one, never half of either. Each engine keeps that promise its own way
(rag.stores.faiss: a folder renamed into place; rag.stores.milvus: a collection per version and
an alias switched to it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import REBUILD_HINT, IndexCorruptError, IndexMismatchError
from ..types import Chunk

FORMAT = "rag-index"
VERSION = 1

# Index types by size, measured by bench/bench_scale.py on 384-d MiniLM-like vectors (bench/RESULTS.md):
# exact below Config.exact_limit, HNSW up to IVF_MIN_ROWS, IVF above (at 1M on 2 cores IVF builds
# in under a minute against eight for HNSW, and keeps recall@10 above 0.95 where HNSW levelled off).
HNSW_M = 32  # graph links per vector
HNSW_EF_CONSTRUCTION = 80  # candidate list while building
HNSW_EF_SEARCH = 256  # candidate list while searching
IVF_MIN_ROWS = 100_000  # from this many passages: IVF, whose k-means needs ~40 training rows per list
IVF_MAX_LISTS = 2048  # more lists would search less but train for minutes on two cores
IVF_NPROBE = 16  # lists searched per query


@dataclass(frozen=True)
class Manifest:
    """What built the index, and what it holds."""

    embedder: str
    dim: int
    chunk_sentences: int
    chunk_chars: int
    faiss_type: str  # the vector index kind: "flat" (exact), "hnsw" or "ivf" (the name predates Milvus)
    count: int
    documents: dict[str, dict[str, Any]]  # doc_id -> {path, sha256, title, rows: [first, count]}
    files: dict[str, dict[str, Any]]  # file name -> {bytes, sha256} (FAISS folder only)
    docs_dir: str = ""
    created: str = ""
    format: str = FORMAT
    version: int = VERSION
    engine: str = "faiss"  # "faiss" or "milvus"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def parse_manifest(text: str, where: str) -> Manifest:
    """A Manifest from its JSON; IndexCorruptError or IndexMismatchError naming ``where`` if it is not one."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise IndexCorruptError(f"The index manifest at {where} cannot be read ({exc}); {REBUILD_HINT}.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else "?"
        raise IndexMismatchError(f"{where} is not a rag index (format {found}); {REBUILD_HINT}.")
    if raw.get("version") != VERSION:
        raise IndexMismatchError(
            f"The index at {where} has format version {raw.get('version')}, this rag reads version {VERSION}; {REBUILD_HINT}."
        )
    try:
        return Manifest(**raw)
    except TypeError as exc:
        raise IndexCorruptError(f"The index manifest at {where} is incomplete ({exc}); {REBUILD_HINT}.") from None


def check_embedder(manifest: Manifest, where: str, embedder: str | None, dim: int | None) -> None:
    """Refuse, in one sentence, an index built by another embedder than the configured one."""
    if embedder is not None and (manifest.embedder != embedder or (dim is not None and manifest.dim != dim)):
        raise IndexMismatchError(
            f"The index at {where} was built with embedder {manifest.embedder} ({manifest.dim} dimensions), "
            f"but {embedder} is configured; {REBUILD_HINT} or set RAG_EMBEDDER={manifest.embedder}."
        )


def index_kind(rows: int, exact_limit: int) -> str:
    """The index type for ``rows`` passages: "flat" below exact_limit, "ivf" from IVF_MIN_ROWS, else "hnsw"."""
    if rows < exact_limit:
        return "flat"
    return "ivf" if rows >= IVF_MIN_ROWS else "hnsw"


def ivf_lists(rows: int) -> int:
    """Inverted lists for ``rows`` vectors: about 4 * sqrt(rows), a power of two, 64..IVF_MAX_LISTS."""
    import math

    return int(min(IVF_MAX_LISTS, max(64, 2 ** round(math.log2(4 * math.sqrt(max(rows, 1)))))))


class Store:
    """A loaded index version, read-only: what the retriever and the chat page need.

    Engines implement `search` and `vectors_of`; rows are 0..len-1 in document order.
    """

    where: str = ""  # the folder or URI, for messages

    def __init__(self, manifest: Manifest, chunks: Sequence[Chunk]) -> None:
        self.manifest = manifest
        self.chunks = chunks
        self.rows_by_doc: dict[str, range] = {
            doc_id: range(info["rows"][0], info["rows"][0] + info["rows"][1]) for doc_id, info in manifest.documents.items()
        }

    def __len__(self) -> int:
        return len(self.chunks)

    def search(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Top ``n`` (row, cosine) for one normalised query vector, best first, equal scores in row order."""
        raise NotImplementedError

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of ``rows``, float32 [len(rows), dim], in that order."""
        raise NotImplementedError

    def neighbours(self, chunk: Chunk, window: int = 1) -> list[Chunk]:
        """The chunk with up to ``window`` chunks of its document on each side, in order."""
        rows = self.rows_by_doc.get(chunk.doc_id, range(0))
        for row in rows:
            if self.chunks[row].id == chunk.id:
                lo, hi = max(rows.start, row - window), min(rows.stop, row + window + 1)
                return list(self.chunks[lo:hi])
        return [chunk]

    def close(self) -> None:
        """Let go of the engine's resources (a no-op where there are none)."""


class Writer(Protocol):
    """Builds one new version: `add` rows in order, then `commit` swaps it in; `abort` throws it away."""

    count: int

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...

    def commit(self, manifest: Manifest, threads: int = 2) -> None: ...

    def abort(self) -> None: ...


class WriterBase:
    """What both engines' writers share: use as a context manager (leaving without commit aborts),
    and one check that ``add`` was given one ``dim``-wide vector per chunk."""

    dim: int

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()

    def abort(self) -> None:
        raise NotImplementedError

    def check_rows(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        if len(chunks) != len(vectors) or (len(vectors) and vectors.shape[1] != self.dim):
            raise ValueError(f"{len(chunks)} chunks but vectors of shape {vectors.shape}; expected one {self.dim}-d row each.")


class Engine(Protocol):
    """One place the index lives (a FAISS folder, a Milvus database): open, write, lock, tidy up."""

    where: str

    def open(self, embedder: str | None = None, dim: int | None = None) -> Store: ...

    def writer(self, dim: int) -> Writer: ...

    def lock(self) -> AbstractContextManager[None]: ...

    def remove_unfinished(self) -> None: ...

    def exists(self) -> bool: ...


TIE_SLACK = 8  # extra candidates asked of an engine, so that passages tied at the n-th score are all seen


def ranked(found: list[tuple[int, float]], n: int) -> list[tuple[int, float]]:
    """The best ``n`` of (row, score), equal scores in row order, the same whichever engine found them.

    Identical passages (a sentence two articles share) have equal scores, and engines list such
    ties in different orders: [(25, 0.6), (14, 0.6), (3, 0.9)], 2 -> [(3, 0.9), (14, 0.6)]
    """
    return sorted(found, key=lambda hit: (-round(hit[1], 6), hit[0]))[:n]


def blocks(rows: range, size: int) -> Iterator[range]:
    """``rows`` cut into consecutive ranges of at most ``size``: range(0, 5), 2 -> [0:2], [2:4], [4:5]."""
    for start in range(rows.start, rows.stop, size):
        yield range(start, min(start + size, rows.stop))
