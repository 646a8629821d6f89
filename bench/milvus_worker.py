"""One engine at one size, in a process of its own (so its peak memory is its own): build, open, query.

    python bench/milvus_worker.py faiss|milvus VECTORS.npy QUERIES.npy TRUTH.npz WORKDIR EXACT_LIMIT

Builds an index version through rag's own writer for that engine (rag.stores: the FAISS folder or
a Milvus Lite database), opens it as the pipeline would, and times one-query searches at one
OpenMP thread. Prints one JSON line of figures.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

K = 10
ROWS_PER_DOC = 16  # passages per synthetic document (the seed articles have about 15)
BLOCK = 16_384


def _blocks(path: Path):
    """The rows of a float32 .npy, block by block, read (not memory-mapped, so they are not resident twice)."""
    with path.open("rb") as fh:
        major, _ = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, _ = read_header(fh)
        rows, dim = shape
        for start in range(0, rows, BLOCK):
            yield start, np.fromfile(fh, dtype="<f4", count=min(BLOCK, rows - start) * dim).reshape(-1, dim)


def _settle(uri: str, collection: str) -> None:
    """Wait for Milvus Lite's background compaction and index builds, so queries time the steady state.

    Benchmark-only: it reaches into the in-process Lite server (a private method), which rag never does.
    """
    from milvus_lite.server_manager import server_manager_instance

    _, db, _ = server_manager_instance._servers[str(Path(uri).resolve())]
    db.get_collection(collection)._wait_for_bg()


def main(engine_name: str, vectors: str, queries: str, truth: str, workdir: str, exact_limit: str) -> None:
    from rag.stores import Manifest, index_kind
    from rag.stores.faiss import FaissEngine, faiss_module
    from rag.stores.milvus import MilvusEngine
    from rag.types import Chunk

    work = Path(workdir)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    engine = FaissEngine(work / "index") if engine_name == "faiss" else MilvusEngine(f"milvus://{work}/index.db")
    shape = np.load(vectors, mmap_mode="r").shape
    rows, dim = shape
    started = time.perf_counter()
    documents = {}
    with engine.lock():
        writer = engine.writer(dim)
        for start, block in _blocks(Path(vectors)):
            chunks = [Chunk(f"s{i // ROWS_PER_DOC}:{i}-{i + 1}", f"s{i // ROWS_PER_DOC}", f"passage {i}", i, i + 1)
                      for i in range(start, start + len(block))]
            writer.add(chunks, block)
        for doc in range(0, rows, ROWS_PER_DOC):
            documents[f"s{doc // ROWS_PER_DOC}"] = {"path": "", "sha256": "0" * 64, "title": "",
                                                     "rows": [doc, min(ROWS_PER_DOC, rows - doc)]}
        added = time.perf_counter()
        kind = index_kind(rows, int(exact_limit))
        writer.commit(Manifest("synthetic-384", dim, 2, 360, kind, rows, documents, {}), threads=2)
    built = time.perf_counter()
    store = engine.open("synthetic-384", dim)
    opened = time.perf_counter()
    if engine_name == "milvus":
        _settle(engine.uri, store.collection)
    settled = time.perf_counter()
    faiss_module(1)  # one OpenMP thread for the searches, for both engines (FaissEngine would set it at open)
    qs = np.load(queries)
    for q in qs[:5]:
        store.search(q, K)
    times, found = [], []
    for q in qs:
        t = time.perf_counter()
        hits = store.search(q, K)
        times.append((time.perf_counter() - t) * 1000)
        found.append([r for r, _ in hits] + [-1] * (K - len(hits)))
    found = np.asarray(found)
    data = np.load(truth)
    base = np.load(vectors, mmap_mode="r")
    shares = []
    for q, ids, kth in zip(qs, found, data["kth"]):
        ids = np.unique(ids[ids >= 0])
        scores = np.asarray(base[np.sort(ids)], dtype=np.float32) @ q if len(ids) else np.zeros(0)
        shares.append(min(int(np.sum(scores >= kth - 1e-5)), K) / K)
    disk = int(subprocess.run(["du", "-sb", str(work)], capture_output=True, text=True).stdout.split()[0])
    print(json.dumps({
        "kind": kind, "add_s": added - started, "build_s": built - started, "open_s": opened - built,
        "settle_s": settled - opened,
        "p50_ms": float(np.percentile(times, 50)), "p95_ms": float(np.percentile(times, 95)),
        "recall10": float(np.mean(shares)), "disk_mb": disk / 2**20,
    }), flush=True)
    store.close()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
