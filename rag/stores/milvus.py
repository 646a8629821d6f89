"""Milvus as the store, through pymilvus's MilvusClient; one code path for every deployment.

    RAG_STORE=milvus:///path/to/file.db    embedded Milvus Lite (no server; one process at a time)
    RAG_STORE=milvus://host:19530          a Milvus standalone or cluster (also http://, https://;
                                           RAG_MILVUS_TOKEN for "user:password" or an API key)

In the database, for the name Config.milvus_collection (default "rag")::

    rag                  alias naming the live version's collection
    rag_v<time>_<rand>   one collection per version: row (primary key = row number), the chunk's
                         fields, its vector; indexed FLAT, HNSW or IVF_FLAT by size, as FAISS is
    rag_manifests        each version's manifest JSON in parts of under 64 KiB (a VARCHAR's limit)

A writer fills a new version's collection, indexes and loads it, writes its manifest, and only
then moves the alias to it, which Milvus does in one step. A killed writer leaves a collection
without a complete manifest, which no reader opens and the next writer drops. The version before
the live one is kept until the next write, so a reader that opened it keeps answering until it
reloads (a reader pins the collection it opened, never the alias: rows must match its chunks).
"""

from __future__ import annotations

import fcntl
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from ..errors import REBUILD_HINT, IndexCorruptError, IndexMissingError, StoreUnavailableError
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
    blocks,
    check_embedder,
    ivf_lists,
    parse_manifest,
    ranked,
)

log = logging.getLogger(__name__)

INSERT_BLOCK = 2048  # rows per insert call (3 MiB of 384-d vectors, well under gRPC's message limit)
QUERY_BLOCK = 16_384  # Milvus caps one query's limit at 16,384 rows
MANIFEST_PART = 60_000  # characters of ASCII JSON per manifest row (VARCHAR holds 65,535 bytes)
TEXT_BYTES = 65_535  # VARCHAR limit for chunk text
_LOCKS: dict[str, threading.Lock] = {}  # one writer at a time per database in this process

_FIELDS = ("row", "chunk_id", "doc_id", "text", "start", "end", "clean")


def client_uri(store: str) -> str:
    """The URI pymilvus takes for a RAG_STORE value.

    "milvus:///tmp/x.db" -> "/tmp/x.db"; "milvus://./x.db" -> "./x.db"; "milvus://h:19530" -> "http://h:19530"
    """
    parsed = urlparse(store)
    if parsed.scheme in ("http", "https"):
        return store
    if parsed.scheme != "milvus":
        raise ValueError(store)
    if parsed.path.endswith(".db"):
        return parsed.netloc + parsed.path if parsed.netloc else parsed.path
    return f"http://{parsed.netloc}{parsed.path}"


def _quiet() -> None:
    # pymilvus logs every failed call with its traceback, Milvus Lite logs one when a database cannot be opened,
    # and its in-process gRPC server one per RPC it does not implement; the errors raised here say it in one sentence.
    for name in ("pymilvus", "milvus_lite", "grpc._server"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class MilvusEngine:
    """A Milvus database (a Lite file or a server) as an engine (rag.stores.base.Engine)."""

    def __init__(self, store: str, collection: str = "rag", token: str = "", timeout: float = 10.0) -> None:
        self.store = store
        self.uri = client_uri(store)
        self.lite = self.uri.endswith(".db")
        self.where = store
        self.name = collection
        self.token = token
        self.timeout = timeout
        self._client = None

    # -- connection ---------------------------------------------------------------------------
    @property
    def client(self):
        if self._client is None:
            self._client = self._connect()
        return self._client

    def _connect(self):
        _quiet()
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        if self.lite:
            if not Path(self.uri).parent.is_dir():
                raise IndexMissingError(f"No index at {self.store}: the folder {Path(self.uri).parent} does not exist; "
                                        f"build it with `rag index`.")
        # Milvus Lite's in-process gRPC server refuses pymilvus's 10-second keepalive pings when idle
        # (GOAWAY "too_many_pings", printed by gRPC's C core); a server accepts them.
        options = {"grpc_options": {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": 0}}
        try:
            return MilvusClient(uri=self.uri, token=self.token, timeout=self.timeout, **(options if self.lite else {}))
        except MilvusException as exc:
            raise self._unavailable(exc, connecting=True) from None

    def _unavailable(self, exc: Exception, connecting: bool = False) -> StoreUnavailableError:
        reason = (getattr(exc, "message", "") or str(exc)).rstrip(".")
        if connecting and self.lite and _locked(Path(self.uri)):
            return StoreUnavailableError(
                f"The Milvus Lite database {self.uri} is in use by another process (Milvus Lite allows one at a time); "
                "stop it, or serve the database with `milvus-lite server` and set RAG_STORE=milvus://127.0.0.1:19530."
            )
        if connecting or getattr(exc, "code", None) == 2:  # 2: the server is unavailable
            return StoreUnavailableError(f"Milvus at {self.store} cannot be reached ({reason}); start it or check RAG_STORE.")
        return StoreUnavailableError(f"Milvus at {self.store} failed a request ({reason}); {REBUILD_HINT} if it persists.")

    @contextmanager
    def _calls(self) -> Iterator[None]:
        """Turn a Milvus failure during a call into one sentence naming the URI."""
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as exc:
            raise self._unavailable(exc) from None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- reading --------------------------------------------------------------------------------
    def live(self) -> str | None:
        """The collection the alias names, or None if there is no index yet."""
        with self._calls():
            if self.name not in self.client.list_aliases().get("aliases", []):
                return None
            return self.client.describe_alias(self.name)["collection_name"]

    def exists(self) -> bool:
        return self.live() is not None

    def open(self, embedder: str | None = None, dim: int | None = None) -> MilvusStore:
        """The live version; IndexMissingError, IndexMismatchError or IndexCorruptError with a sentence if unusable."""
        if self.lite and not Path(self.uri).exists():
            raise IndexMissingError(f"No index at {self.store}; build it with `rag index` and RAG_STORE={self.store}.")
        collection = self.live()
        if collection is None:
            raise IndexMissingError(f"No index named {self.name} at {self.store}; build it with `rag index` "
                                    f"and RAG_STORE={self.store}.")
        manifest = self.manifest(collection)
        if manifest is None:
            raise IndexCorruptError(f"The index at {self.store} ({collection}) has no complete manifest; {REBUILD_HINT}.")
        check_embedder(manifest, self.store, embedder, dim)
        with self._calls():
            self._loaded(collection)
            chunks = self._chunks(collection, manifest.count)
        return MilvusStore(self, collection, manifest, chunks)

    def _chunks(self, collection: str, count: int) -> list[Chunk]:
        chunks: list[Chunk | None] = [None] * count
        for rows in blocks(range(count), QUERY_BLOCK):
            found = self.client.query(collection, filter=f"row >= {rows.start} and row < {rows.stop}",
                                      output_fields=list(_FIELDS), limit=len(rows))
            for hit in found:
                row = int(hit["row"])
                if 0 <= row < count:
                    chunks[row] = Chunk(hit["chunk_id"], hit["doc_id"], hit["text"], int(hit["start"]), int(hit["end"]),
                                        hit["clean"])
        if any(c is None for c in chunks):
            raise IndexCorruptError(f"The index at {self.store} ({collection}) is missing passages its manifest lists; "
                                    f"{REBUILD_HINT}.")
        return chunks  # type: ignore[return-value]

    def _loaded(self, collection: str) -> None:
        """Load ``collection`` for searching if it is not (Milvus Lite releases everything when it restarts)."""
        state = self.client.get_load_state(collection).get("state")
        if getattr(state, "name", str(state)) != "Loaded":
            self.client.load_collection(collection)

    def manifest(self, collection: str) -> Manifest | None:
        """The complete manifest of ``collection``, or None if it has none (an unfinished version)."""
        table = f"{self.name}_manifests"
        with self._calls():
            if not self.client.has_collection(table):
                return None
            self._loaded(table)
            parts = self.client.query(table, filter=f'version == "{collection}"', output_fields=["part", "total", "text"],
                                      limit=QUERY_BLOCK)
        parts = sorted(parts, key=lambda p: p["part"])
        if not parts or len(parts) != parts[0]["total"] or [p["part"] for p in parts] != list(range(len(parts))):
            return None
        return parse_manifest("".join(p["text"] for p in parts), f"{self.store} ({collection})")

    # -- writing --------------------------------------------------------------------------------
    def writer(self, dim: int) -> MilvusWriter:
        return MilvusWriter(self, dim)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One writer at a time in this process (Milvus Lite also locks its file against other processes)."""
        if self.lite:
            Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
        lock = _LOCKS.setdefault(self.uri, threading.Lock())
        with lock:
            yield

    def versions(self) -> list[str]:
        with self._calls():
            return sorted(c for c in self.client.list_collections() if c.startswith(f"{self.name}_v"))

    def remove_unfinished(self) -> None:
        """Drop version collections a killed writer left (those without a complete manifest)."""
        live = self.live()
        for collection in self.versions():
            if collection != live and self.manifest(collection) is None:
                log.info("Removing %s, left by an index run that did not finish.", collection)
                self._drop(collection)

    def _drop(self, collection: str) -> None:
        with self._calls():
            self.client.drop_collection(collection)
            table = f"{self.name}_manifests"
            if self.client.has_collection(table):
                self.client.delete(table, filter=f'version == "{collection}"')

    def _manifest_table(self) -> str:
        from pymilvus import DataType, MilvusClient

        table = f"{self.name}_manifests"
        if not self.client.has_collection(table):
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
            schema.add_field("version", DataType.VARCHAR, max_length=256)
            schema.add_field("part", DataType.INT64)
            schema.add_field("total", DataType.INT64)
            schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
            schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # Milvus requires a vector field
            index = self.client.prepare_index_params()
            index.add_index(field_name="unused", index_type="FLAT", metric_type="L2")
            self.client.create_collection(table, schema=schema, index_params=index)
        self._loaded(table)
        return table


def _locked(path: Path) -> bool:
    """True if another process holds Milvus Lite's lock on the database folder ``path``."""
    lock = path / "LOCK"
    if not lock.exists():
        return False
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)
    return False


def _search_params(kind: str) -> dict[str, Any]:
    params = {"hnsw": {"ef": HNSW_EF_SEARCH}, "ivf": {"nprobe": IVF_NPROBE}}.get(kind, {})
    return {"metric_type": "IP", "params": params}


class MilvusStore(Store):
    """A loaded Milvus version: chunks in memory (the lexical index and the speller read them), vectors in Milvus."""

    def __init__(self, engine: MilvusEngine, collection: str, manifest: Manifest, chunks: list[Chunk]) -> None:
        super().__init__(manifest, chunks)
        self.engine = engine
        self.collection = collection
        self.where = engine.where
        self._params = _search_params(manifest.faiss_type)

    def search(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        if not self.chunks:
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1).tolist()
        with self.engine._calls():
            found = self.engine.client.search(self.collection, data=[query], anns_field="vector",
                                              limit=min(n + TIE_SLACK, len(self)), search_params=self._params)
        return ranked([(int(h["row"]), float(h["distance"])) for h in found[0]], n)

    def vectors_of(self, rows: Sequence[int]) -> np.ndarray:
        rows = [int(r) for r in rows]
        out = np.zeros((len(rows), self.manifest.dim), dtype=np.float32)
        if not rows:
            return out
        at: dict[int, list[int]] = {}
        for i, row in enumerate(rows):
            at.setdefault(row, []).append(i)
        wanted = sorted(at)
        with self.engine._calls():
            for start in range(0, len(wanted), QUERY_BLOCK):
                for hit in self.engine.client.get(self.collection, ids=wanted[start:start + QUERY_BLOCK],
                                                  output_fields=["vector"]):
                    out[at[int(hit["row"])]] = np.asarray(hit["vector"], dtype=np.float32)
        return out

    def close(self) -> None:
        self.engine.close()


class MilvusWriter(WriterBase):
    """Fills one new version's collection; `commit` indexes it, writes its manifest and moves the alias to it."""

    def __init__(self, engine: MilvusEngine, dim: int) -> None:
        from pymilvus import DataType, MilvusClient

        self.engine = engine
        self.dim = dim
        self.count = 0
        self.collection = f"{engine.name}_v{time.strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:6]}"
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row", DataType.INT64, is_primary=True)
        schema.add_field("chunk_id", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("text", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("clean", DataType.VARCHAR, max_length=TEXT_BYTES)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        with engine._calls():
            engine.client.create_collection(self.collection, schema=schema)
        self._done = False

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Append passages and their vectors (row i of ``vectors`` belongs to ``chunks[i]``)."""
        self.check_rows(chunks, vectors)
        vectors = np.asarray(vectors, dtype=np.float32)
        first = self.count
        for part in blocks(range(len(chunks)), INSERT_BLOCK):
            rows = [{"row": first + i, "chunk_id": chunks[i].id, "doc_id": chunks[i].doc_id, "text": chunks[i].text,
                     "start": chunks[i].start, "end": chunks[i].end, "clean": chunks[i].clean, "vector": vectors[i].tolist()}
                    for i in part]
            with self.engine._calls():
                self.engine.client.insert(self.collection, rows)
            self.count += len(part)

    def commit(self, manifest: Manifest, threads: int = 2) -> None:
        """Index and load the collection, write the manifest, then move the alias (the one atomic step)."""
        if manifest.count != self.count:
            raise ValueError(f"The manifest counts {manifest.count} passages but {self.count} were written.")
        engine, client = self.engine, self.engine.client
        manifest = Manifest(**{**asdict(manifest), "engine": "milvus", "files": {},
                               "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        index = client.prepare_index_params()
        kind = manifest.faiss_type
        if kind == "hnsw":
            index.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                            params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
        elif kind == "ivf":
            index.add_index(field_name="vector", index_type="IVF_FLAT", metric_type="IP",
                            params={"nlist": ivf_lists(self.count)})
        else:
            index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        with engine._calls():
            client.flush(self.collection)
            client.create_index(self.collection, index)
            client.load_collection(self.collection)
            previous = engine.live()
            table = engine._manifest_table()
            text = json.dumps(asdict(manifest), sort_keys=True, ensure_ascii=True)
            parts = [text[i:i + MANIFEST_PART] for i in range(0, len(text), MANIFEST_PART)]
            client.insert(table, [{"key": f"{self.collection}/{i}", "version": self.collection, "part": i,
                                   "total": len(parts), "text": part, "unused": [0.0, 0.0]} for i, part in enumerate(parts)])
            client.flush(table)
            if previous is None:
                client.create_alias(self.collection, engine.name)
            else:
                client.alter_alias(self.collection, engine.name)
        self._done = True
        keep = {self.collection, previous}
        for old in engine.versions():
            if old not in keep:
                engine._drop(old)

    def abort(self) -> None:
        """Drop the collection unless the version was committed."""
        if not self._done:
            self._done = True
            try:
                self.engine._drop(self.collection)
            except StoreUnavailableError as exc:  # the next writer drops it instead
                log.warning("%s", exc)
