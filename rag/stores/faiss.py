"""The embedded default engine: a versioned folder that describes itself, swapped in atomically.

Layout::

    index/
      CURRENT              name of the live version folder (replaced atomically)
      v-<time>-<rand>/
        manifest.json      format, embedder, chunking, FAISS type, sha256 per source and per file
        chunks.jsonl       one chunk per line, row i matches vector i
        vectors.npy        float32 [n, dim], L2-normalised (reused for unchanged documents)
        faiss.index        FAISS index over the vectors (inner product = cosine)

A new version is written beside the live one and only then named in CURRENT, so killing the
writer at any moment leaves the previous version loadable. No pickle anywhere. Chunks and
vectors are streamed to disk as they come (`VersionWriter`), so building an index of a million
passages never holds every passage's text in memory at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import struct
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..errors import REBUILD_HINT, IndexCorruptError, IndexMissingError
from ..types import Chunk
from .base import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    IVF_NPROBE,
    TIE_SLACK,
    Manifest,
    Store,
    WriterBase,
    check_embedder,
    ivf_lists,
    parse_manifest,
    ranked,
)

log = logging.getLogger(__name__)

FILES = ("chunks.jsonl", "vectors.npy", "faiss.index")
_HASH_LIMIT = 512 * 1024 * 1024  # above this total size only sizes are checked at load
_NPY_HEADER = 128  # bytes reserved for the .npy header, written once the row count is known
_ADD_BLOCK = 16_384  # rows (24 MiB at 384-d) read and handed to FAISS at a time while building it

def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def faiss_module(threads: int | None = None):
    """The faiss module; with ``threads``, first set the OpenMP thread count (process-wide: torch shares it)."""
    import faiss

    if threads is not None:
        faiss.omp_set_num_threads(threads)
    return faiss


def _training_rows(rows: int, lists: int) -> np.ndarray:
    """Evenly spread row numbers for k-means: 40 per list (faiss asks for at least 39)."""
    return np.unique(np.linspace(0, rows - 1, min(rows, 40 * lists)).astype(np.int64))


def make_faiss_index(vectors: np.ndarray, kind: str, threads: int = 2):
    """An inner-product FAISS index over ``vectors`` (may be memory-mapped): "flat" (exact), "hnsw" or "ivf"."""
    blocks = (vectors[start:start + _ADD_BLOCK] for start in range(0, len(vectors), _ADD_BLOCK))
    train = vectors[_training_rows(len(vectors), ivf_lists(len(vectors)))] if kind == "ivf" else None
    return _faiss_from_blocks(blocks, len(vectors), vectors.shape[1], kind, threads, train)


def _faiss_from_blocks(blocks: Iterable[np.ndarray], rows: int, dim: int, kind: str, threads: int,
                       train: np.ndarray | None = None):
    faiss = faiss_module(threads)
    if kind == "ivf":
        lists = ivf_lists(rows)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        index.nprobe = min(IVF_NPROBE, lists)
        index.train(np.ascontiguousarray(train, dtype=np.float32))
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if kind != "ivf":
        # Reserve the vector storage once (grow, then shrink: the capacity stays), so adding block by
        # block does not reallocate and copy it on every doubling.
        storage = faiss.downcast_index(index.storage) if kind == "hnsw" else index
        storage.codes.resize(rows * dim * 4)
        storage.codes.resize(0)
    for block in blocks:
        index.add(np.ascontiguousarray(block, dtype=np.float32))
    return index


def _npy_blocks(path: Path, rows: int, dim: int) -> Iterator[np.ndarray]:
    """Read a float32 .npy written by VersionWriter block by block (read(), not mmap: no resident copy)."""
    with path.open("rb") as fh:
        fh.seek(_NPY_HEADER)
        for start in range(0, rows, _ADD_BLOCK):
            yield np.fromfile(fh, dtype="<f4", count=min(_ADD_BLOCK, rows - start) * dim).reshape(-1, dim)


class FaissStore(Store):
    """A loaded FAISS version: chunks in memory, vectors memory-mapped, the FAISS index read in."""

    def __init__(self, path: Path, manifest: Manifest, chunks: list[Chunk], vectors: np.ndarray, faiss_index) -> None:
        super().__init__(manifest, chunks)
        self.path = path
        self.where = str(path.parent)
        self.vectors = vectors
        self.faiss_index = faiss_index

    def search(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """Top ``n`` (row, cosine) for one normalised query vector (threads were set once, at load)."""
        if not self.chunks:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)  # no copy when already float32
        scores, rows = self.faiss_index.search(query, min(n + TIE_SLACK, len(self.chunks)))
        return ranked([(r, s) for r, s in zip(rows[0].tolist(), scores[0].tolist()) if r >= 0], n)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        return np.asarray(self.vectors[list(rows)], dtype=np.float32).reshape(len(rows), self.manifest.dim)


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
        text = (path / "manifest.json").read_text()
    except FileNotFoundError:
        raise IndexCorruptError(f"The index at {path.parent} has no manifest.json; {REBUILD_HINT}.") from None
    except OSError as exc:
        raise IndexCorruptError(f"The index manifest at {path} cannot be read ({exc}); {REBUILD_HINT}.") from None
    return parse_manifest(text, str(path))


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


def load_store(index_dir: str | Path, embedder: str | None = None, dim: int | None = None,
               threads: int | None = None) -> FaissStore:
    """Load and verify the live index; refuse one built by another embedder.

    ``threads`` sets FAISS's OpenMP thread count once, here, for the searches to come.
    """
    index_dir = Path(index_dir)
    path = live_version(index_dir)
    manifest = read_manifest(path)
    check_embedder(manifest, str(index_dir), embedder, dim)
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
    return FaissStore(path, manifest, chunks, vectors, faiss_index)


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


def remove_unfinished(index_dir: Path) -> None:
    """Delete temporary version folders a killed writer left behind (call under write_lock)."""
    for tmp in index_dir.glob(".tmp-v-*"):
        if tmp.is_dir():
            log.info("Removing %s, left by an index run that did not finish.", tmp)
            shutil.rmtree(tmp, ignore_errors=True)


def _npy_header(rows: int, dim: int) -> bytes:
    """A version 1.0 .npy header for a little-endian float32 [rows, dim] matrix, padded to _NPY_HEADER bytes."""
    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {dim}), }}"
    body = text.ljust(_NPY_HEADER - 11) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin-1")


class VersionWriter(WriterBase):
    """Writes one new index version row by row, then swaps it in with `commit`.

    Chunks go straight to chunks.jsonl and vectors to vectors.npy (its header is filled in at
    the end), so memory holds only what is being added. Until `commit` renames it, the version
    is a hidden temporary folder; `abort` (also run on leaving a ``with`` block) removes it.
    """

    def __init__(self, index_dir: Path, dim: int) -> None:
        index_dir.mkdir(parents=True, exist_ok=True)
        self.index_dir = index_dir
        self.dim = dim
        self.count = 0
        self.name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self.tmp = index_dir / f".tmp-{self.name}"
        self.tmp.mkdir()
        self._chunks = (self.tmp / "chunks.jsonl").open("w", encoding="utf-8")
        self._vectors = (self.tmp / "vectors.npy").open("wb")
        self._vectors.write(_npy_header(0, dim))
        self._done = False

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Append passages and their vectors (row i of ``vectors`` belongs to ``chunks[i]``)."""
        self.check_rows(chunks, vectors)
        self._chunks.writelines(json.dumps(asdict(c), ensure_ascii=False) + "\n" for c in chunks)
        self._vectors.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
        self.count += len(chunks)

    def commit(self, manifest: Manifest, threads: int = 2) -> Path:
        """Finish the files, build FAISS, fsync, point CURRENT at the new version, drop old versions."""
        if manifest.count != self.count:
            raise ValueError(f"The manifest counts {manifest.count} passages but {self.count} were written.")
        self._chunks.close()
        self._vectors.seek(0)
        self._vectors.write(_npy_header(self.count, self.dim))
        self._vectors.close()
        tmp, index_dir, name = self.tmp, self.index_dir, self.name
        faiss = faiss_module(threads)
        train = None
        if manifest.faiss_type == "ivf":
            matrix = np.load(tmp / "vectors.npy", mmap_mode="r", allow_pickle=False)
            train = np.array(matrix[_training_rows(self.count, ivf_lists(self.count))])
            del matrix
        index = _faiss_from_blocks(_npy_blocks(tmp / "vectors.npy", self.count, self.dim), self.count, self.dim,
                                   manifest.faiss_type, threads, train)
        faiss.write_index(index, str(tmp / "faiss.index"))
        del index
        files = {f: {"bytes": (tmp / f).stat().st_size, "sha256": _sha256(tmp / f)} for f in FILES}
        manifest = Manifest(**{**asdict(manifest), "files": files, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        (tmp / "manifest.json").write_text(manifest.to_json())
        for file in tmp.iterdir():
            with file.open("rb") as fh:
                os.fsync(fh.fileno())
        final = index_dir / name
        os.rename(tmp, final)
        self._done = True
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

    def abort(self) -> None:
        """Close and remove the temporary folder unless the version was committed."""
        self._chunks.close()
        self._vectors.close()
        if not self._done:
            self._done = True
            shutil.rmtree(self.tmp, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FaissEngine:
    """The FAISS folder at ``index_dir`` as an engine (rag.stores.base.Engine)."""

    def __init__(self, index_dir: str | Path, threads: int = 1) -> None:
        self.index_dir = Path(index_dir)
        self.where = str(self.index_dir)
        self.threads = threads

    def open(self, embedder: str | None = None, dim: int | None = None) -> FaissStore:
        return load_store(self.index_dir, embedder, dim, self.threads)

    def writer(self, dim: int) -> VersionWriter:
        return VersionWriter(self.index_dir, dim)

    def lock(self):
        return write_lock(self.index_dir)

    def remove_unfinished(self) -> None:
        remove_unfinished(self.index_dir)

    def exists(self) -> bool:
        return (self.index_dir / "CURRENT").exists()
