"""The index on disk: a versioned folder that describes itself, swapped in atomically.

Layout::

    index/
      CURRENT              name of the live version folder (replaced atomically)
      v-<time>-<rand>/
        manifest.json      format, embedder, chunking, FAISS type, sha256 per source and per file
        chunks.jsonl       one chunk per line, row i matches vector i
        vectors.npy        float32 [n, dim], L2-normalised (reused for unchanged documents)
        faiss.index        FAISS index over the vectors (inner product = cosine)

A new version is written beside the live one and only then named in CURRENT, so killing the
writer at any moment leaves the previous version loadable. No pickle anywhere.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .errors import REBUILD_HINT, IndexCorruptError, IndexMismatchError, IndexMissingError
from .types import Chunk

log = logging.getLogger(__name__)

FORMAT = "rag-index"
VERSION = 1
FILES = ("chunks.jsonl", "vectors.npy", "faiss.index")
_HASH_LIMIT = 512 * 1024 * 1024  # above this total size only sizes are checked at load


@dataclass(frozen=True)
class Manifest:
    """What built the index, and what it holds."""

    embedder: str
    dim: int
    chunk_sentences: int
    chunk_chars: int
    faiss_type: str  # "flat" (exact) or "hnsw"
    count: int
    documents: dict[str, dict[str, Any]]  # doc_id -> {path, sha256, title, rows: [first, count]}
    files: dict[str, dict[str, Any]]  # file name -> {bytes, sha256}
    docs_dir: str = ""
    created: str = ""
    format: str = FORMAT
    version: int = VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def faiss_module(threads: int = 1):
    import faiss

    faiss.omp_set_num_threads(threads)
    return faiss


def make_faiss_index(vectors: np.ndarray, kind: str, threads: int = 2):
    """An inner-product FAISS index over ``vectors``: exact ("flat") or HNSW."""
    faiss = faiss_module(threads)
    dim = vectors.shape[1]
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 96
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(vectors)
    return index


class Store:
    """A loaded index version: chunks, vectors and the FAISS index, read-only."""

    def __init__(self, path: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, faiss_index) -> None:
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self.vectors = vectors
        self.faiss_index = faiss_index
        self.rows_by_doc: dict[str, range] = {
            doc_id: range(info["rows"][0], info["rows"][0] + info["rows"][1]) for doc_id, info in manifest.documents.items()
        }

    def __len__(self) -> int:
        return len(self.chunks)

    def search(self, vector: np.ndarray, n: int, threads: int = 1) -> list[tuple[int, float]]:
        """Top ``n`` (row, cosine) for one normalised query vector."""
        faiss_module(threads)
        if not self.chunks:
            return []
        scores, rows = self.faiss_index.search(vector.reshape(1, -1).astype(np.float32), min(n, len(self.chunks)))
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def neighbours(self, chunk: Chunk, window: int = 1) -> list[Chunk]:
        """The chunk with up to ``window`` chunks of its document on each side, in order."""
        rows = self.rows_by_doc.get(chunk.doc_id, range(0))
        for row in rows:
            if self.chunks[row].id == chunk.id:
                lo, hi = max(rows.start, row - window), min(rows.stop, row + window + 1)
                return self.chunks[lo:hi]
        return [chunk]


def live_version(index_dir: Path) -> Path:
    """The folder CURRENT names; raises IndexMissingError if there is none."""
    current = index_dir / "CURRENT"
    if not current.is_file():
        raise IndexMissingError(f"No index at {index_dir}; build it with `rag index --index {index_dir}`.")
    name = current.read_text().strip()
    path = index_dir / name
    if not name or "/" in name or not path.is_dir():
        raise IndexCorruptError(f"The index at {index_dir} names a version ({name!r}) that is not there; {REBUILD_HINT}.")
    return path


def read_manifest(path: Path) -> Manifest:
    try:
        raw = json.loads((path / "manifest.json").read_text())
    except FileNotFoundError:
        raise IndexCorruptError(f"The index at {path.parent} has no manifest.json; {REBUILD_HINT}.") from None
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"The index manifest at {path} cannot be read ({exc}); {REBUILD_HINT}.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise IndexMismatchError(f"{path} is not a rag index (format {raw.get('format') if isinstance(raw, dict) else '?'}); {REBUILD_HINT}.")
    if raw.get("version") != VERSION:
        raise IndexMismatchError(
            f"The index at {path.parent} has format version {raw.get('version')}, this rag reads version {VERSION}; {REBUILD_HINT}."
        )
    try:
        return Manifest(**raw)
    except TypeError as exc:
        raise IndexCorruptError(f"The index manifest at {path} is incomplete ({exc}); {REBUILD_HINT}.") from None


def check_files(path: Path, manifest: Manifest) -> None:
    """Every file present, the right size, and (for indexes that are not huge) the right hash."""
    total = sum(info.get("bytes", 0) for info in manifest.files.values())
    for name in FILES:
        info = manifest.files.get(name)
        file = path / name
        if info is None or not file.is_file():
            raise IndexCorruptError(f"The index at {path.parent} is missing {name}; {REBUILD_HINT}.")
        if file.stat().st_size != info["bytes"]:
            raise IndexCorruptError(f"The index file {file} is truncated or changed (size differs from the manifest); {REBUILD_HINT}.")
        if total <= _HASH_LIMIT and _sha256(file) != info["sha256"]:
            raise IndexCorruptError(f"The index file {file} was changed after it was written (checksum differs); {REBUILD_HINT}.")


def load_store(index_dir: str | Path, embedder: str | None = None, dim: int | None = None, threads: int = 1) -> Store:
    """Load and verify the live index; refuse one built by another embedder."""
    index_dir = Path(index_dir)
    path = live_version(index_dir)
    manifest = read_manifest(path)
    if embedder is not None and (manifest.embedder != embedder or (dim is not None and manifest.dim != dim)):
        raise IndexMismatchError(
            f"The index at {index_dir} was built with embedder {manifest.embedder} ({manifest.dim} dimensions), "
            f"but {embedder} is configured; {REBUILD_HINT} or set RAG_EMBEDDER={manifest.embedder}."
        )
    check_files(path, manifest)
    try:
        chunks = [Chunk(**json.loads(line)) for line in (path / "chunks.jsonl").read_text(encoding="utf-8").splitlines() if line]
        vectors = np.load(path / "vectors.npy", allow_pickle=False, mmap_mode="r")
        faiss = faiss_module(threads)
        faiss_index = faiss.read_index(str(path / "faiss.index"))
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise IndexCorruptError(f"The index at {index_dir} cannot be read ({exc}); {REBUILD_HINT}.") from None
    if not (len(chunks) == manifest.count == vectors.shape[0] == faiss_index.ntotal) or vectors.shape[1:] != (manifest.dim,):
        raise IndexCorruptError(f"The index at {index_dir} is inconsistent (counts differ between its files); {REBUILD_HINT}.")
    return Store(path, manifest, chunks, vectors, faiss_index)


@contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index folder (a second `rag index` waits)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def write_version(index_dir: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, threads: int = 2) -> Path:
    """Write a complete new version, fsync it, point CURRENT at it, then drop old versions."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as fh:
        for chunk in chunks:
            fh.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    np.save(tmp / "vectors.npy", np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    faiss = faiss_module(threads)
    faiss.write_index(make_faiss_index(np.asarray(vectors, dtype=np.float32), manifest.faiss_type, threads), str(tmp / "faiss.index"))
    files = {f: {"bytes": (tmp / f).stat().st_size, "sha256": _sha256(tmp / f)} for f in FILES}
    manifest = Manifest(**{**asdict(manifest), "files": files, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    (tmp / "manifest.json").write_text(manifest.to_json())
    for file in tmp.iterdir():
        with file.open("rb") as fh:
            os.fsync(fh.fileno())
    final = index_dir / name
    os.rename(tmp, final)
    pointer = index_dir / ".CURRENT.tmp"
    pointer.write_text(name + "\n")
    with pointer.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer, index_dir / "CURRENT")
    _fsync_dir(index_dir)
    for old in index_dir.iterdir():
        if old.is_dir() and old.name != name and (old.name.startswith("v-") or old.name.startswith(".tmp-")):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
