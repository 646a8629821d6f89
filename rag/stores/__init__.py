"""Where the index lives: one interface (rag.stores.base), two engines, chosen by Config.store.

    engine = open_engine(config)           # FaissEngine for "faiss", MilvusEngine for milvus:// and http(s)://
    store = engine.open(embedder.name, embedder.dim)   # a read-only Store: search, vectors_of, chunks, manifest
    with engine.lock():                    # writers: engine.writer(dim) -> add(...), commit(manifest)

    open_store(config, "all-MiniLM-L6-v2", 384)  -> the live Store, whichever engine holds it

The pipeline and the retriever see only `Store`; nothing outside this package imports an engine.
"""

from __future__ import annotations

from ..config import Config
from .base import Engine, Manifest, Store, Writer, index_kind


def open_engine(config: Config, threads: int | None = None) -> Engine:
    """The engine Config.store names (nothing is connected until it is used).

    ``threads`` (default Config.faiss_threads) is the OpenMP thread count FAISS sets when it opens
    an index; it is process-wide and torch shares it, so an indexing run passes Config.n_threads.
    """
    if config.store == "faiss":
        from .faiss import FaissEngine

        return FaissEngine(config.index_dir, threads or config.faiss_threads)
    from .milvus import MilvusEngine

    return MilvusEngine(config.store, config.milvus_collection, config.milvus_token, config.milvus_timeout)


def open_store(config: Config, embedder: str | None = None, dim: int | None = None) -> Store:
    """The live index version of Config.store; refuses one built by another embedder."""
    return open_engine(config).open(embedder, dim)


__all__ = ["Engine", "Manifest", "Store", "Writer", "index_kind", "open_engine", "open_store"]
