"""The index store, on both engines: incremental updates, atomic swaps, and clear refusals.

Every test taking ``engine`` runs against the FAISS folder and against Milvus Lite (a local
``.db``, the same code path as a Milvus server, only the URI differs).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rag import RAG, Config, IndexCorruptError, IndexMismatchError, IndexMissingError, StoreUnavailableError
from rag.indexing import build_index
from rag.stores import open_engine, open_store
from rag.stores.faiss import live_version, load_store

from .conftest import ROOT, EchoGenerator, HashEmbedder, is_span

ENGINES = ["faiss", "milvus"]


@pytest.fixture(params=ENGINES)
def engine(request):
    return request.param


def _config(corpus, tmp_path, engine="faiss", **kw):
    store = f"milvus://{tmp_path}/index.db" if engine == "milvus" else "faiss"
    return Config(docs_dir=str(corpus), index_dir=str(tmp_path / "index"), store=store, **kw)


def _open(config, embedder="hash-64", dim=64):
    return open_store(config, embedder, dim)


def _release(config):
    """Let go of a Milvus Lite database this process opened, so another process may open it."""
    if config.store != "faiss":
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(f"{config.store.removeprefix('milvus://')}")


def test_build_writes_a_self_describing_manifest(corpus, tmp_path, fake_embedder, engine):
    config = _config(corpus, tmp_path, engine)
    report = build_index(config, fake_embedder)
    assert report.written and report.documents == 5 and report.embedded == report.chunks
    store = _open(config)
    manifest = store.manifest
    assert manifest.format == "rag-index" and manifest.version == 1 and manifest.engine == engine
    assert manifest.embedder == "hash-64" and manifest.dim == 64
    assert manifest.faiss_type == "flat" and manifest.count == len(store) == report.chunks
    assert set(manifest.documents) == {p.stem for p in corpus.iterdir()}
    assert all(len(d["sha256"]) == 64 for d in manifest.documents.values())
    doc = (corpus / "000_9b77c177f7e2b0b1.txt").read_text()
    for chunk in store.chunks:
        if chunk.doc_id == "000_9b77c177f7e2b0b1":
            assert is_span(doc, chunk), chunk
    vectors = store.vectors_of([3, 0, 3])
    assert vectors.shape == (3, 64) and (vectors[0] == vectors[2]).all()
    assert store.search(vectors[1], 1)[0][0] == 0  # a stored vector finds its own row


def test_faiss_folder_holds_no_pickle_and_names_its_files(corpus, tmp_path, fake_embedder):
    build_index(_config(corpus, tmp_path), fake_embedder)
    manifest = json.loads((live_version(tmp_path / "index") / "manifest.json").read_text())
    assert set(manifest["files"]) == {"chunks.jsonl", "vectors.npy", "faiss.index"}
    assert not list((tmp_path / "index").rglob("*.pkl"))


def test_rerun_embeds_nothing_changed_doc_only_removed_doc_leaves(corpus, tmp_path, fake_embedder, engine):
    config = _config(corpus, tmp_path, engine)
    first = build_index(config, fake_embedder)
    version = _open(config).manifest.created, _open(config).manifest.count

    fake_embedder.calls = 0
    again = build_index(config, fake_embedder)
    assert fake_embedder.calls == 0 and not again.written and again.unchanged == 5
    assert (_open(config).manifest.created, _open(config).manifest.count) == version

    changed = corpus / "002_01c6e4c94616b3f2.txt"
    changed.write_text(changed.read_text() + "\nA brand new sentence about Damascus was added.\n")
    (corpus / "004_9f0895b9e707810c.txt").unlink()
    update = build_index(config, fake_embedder)
    assert update.changed == ("002_01c6e4c94616b3f2",) and update.removed == ("004_9f0895b9e707810c",)
    store = _open(config)
    assert fake_embedder.calls == len(store.rows_by_doc["002_01c6e4c94616b3f2"])
    assert "004_9f0895b9e707810c" not in {c.doc_id for c in store.chunks}
    assert any("Damascus" in c.text for c in store.chunks)
    assert first.chunks != update.chunks
    kept = store.rows_by_doc["000_9b77c177f7e2b0b1"]  # copied from the old version, not re-embedded
    assert (store.vectors_of(kept) == fake_embedder.embed([store.chunks[r].readable for r in kept])).all()
    if engine == "faiss":
        assert [p.name for p in (tmp_path / "index").iterdir() if p.name.startswith("v-")] == [store.path.name]
    else:  # the live version and the one before it, for readers that have not reloaded yet
        assert len(open_engine(config).versions()) == 2


def test_bad_files_are_skipped_and_the_rest_indexed(corpus, tmp_path, fake_embedder, engine):
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02\x03")
    (corpus / "latin.txt").write_bytes("Le caf\xe9 est ferm\xe9.".encode("latin-1"))
    (corpus / "empty.md").write_text("")
    report = build_index(_config(corpus, tmp_path, engine), fake_embedder)
    assert report.documents == 5
    assert len(report.skipped) == 3
    assert any("binary.txt" in s and "binary" in s for s in report.skipped)
    assert any("latin.txt" in s and "UTF-8" in s for s in report.skipped)


def test_missing_index_is_a_clear_error(tmp_path, engine):
    with pytest.raises(IndexMissingError, match="rag index"):
        _open(_config(tmp_path, tmp_path / "nowhere", engine))


def test_other_embedder_is_refused(corpus, tmp_path, fake_embedder, engine):
    config = _config(corpus, tmp_path, engine)
    build_index(config, fake_embedder)
    with pytest.raises(IndexMismatchError, match="hash-64.*all-MiniLM-L6-v2.*rebuild") as refused:
        _open(config, "all-MiniLM-L6-v2", 384)
    assert str(refused.value).count(". ") == 0 and str(refused.value).endswith(".")  # one sentence


@pytest.mark.parametrize("damage", ["truncate", "edit", "delete", "manifest", "pointer"])
def test_damaged_faiss_index_is_refused_with_the_fix(corpus, tmp_path, fake_embedder, damage):
    build_index(_config(corpus, tmp_path), fake_embedder)
    version = live_version(tmp_path / "index")
    target = version / "vectors.npy"
    if damage == "truncate":
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 2])
    elif damage == "edit":
        data = bytearray((version / "chunks.jsonl").read_bytes())
        data[200] = ord("X") if data[200] != ord("X") else ord("Y")
        (version / "chunks.jsonl").write_bytes(bytes(data))
    elif damage == "delete":
        (version / "faiss.index").unlink()
    elif damage == "manifest":
        (version / "manifest.json").write_text("{not json")
    else:
        (tmp_path / "index" / "CURRENT").write_text("v-gone\n")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_store(tmp_path / "index", "hash-64", 64)


def test_rows_added_in_large_blocks_keep_their_numbers(tmp_path, engine):
    import numpy as np

    from rag.stores import Manifest
    from rag.types import Chunk

    config = _config(tmp_path, tmp_path, engine)
    n = 5000  # more than one Milvus insert call per add
    vectors = np.eye(64, dtype=np.float32)[np.arange(n) % 64]
    chunks = [Chunk(f"d:{i}-{i + 1}", "d", f"passage {i}", i, i + 1) for i in range(n)]
    store_engine = open_engine(config)
    with store_engine.lock():
        writer = store_engine.writer(64)
        writer.add(chunks[:4500], vectors[:4500])
        writer.add(chunks[4500:], vectors[4500:])
        writer.commit(Manifest("hash-64", 64, 2, 360, "flat", n, {"d": {"path": "", "sha256": "", "title": "",
                                                                         "rows": [0, n]}}, {}))
    store = _open(config)
    assert [c.text for c in store.chunks] == [c.text for c in chunks]
    assert (store.vectors_of([0, 4499, 4500, 4999]) == vectors[[0, 4499, 4500, 4999]]).all()


def test_milvus_version_missing_its_passages_is_refused(corpus, tmp_path, fake_embedder):
    config = _config(corpus, tmp_path, "milvus")
    build_index(config, fake_embedder)
    engine = open_engine(config)
    engine.client.delete(engine.live(), ids=[5])
    with pytest.raises(IndexCorruptError, match="missing passages.*rebuild"):
        engine.open("hash-64", 64)


def _crash_at_the_swap(monkeypatch, config):
    """Make the one step that makes a new version live raise, as a kill just before it would."""
    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    if config.store == "faiss":
        monkeypatch.setattr(os, "replace", crash)
    else:
        from pymilvus import MilvusClient

        monkeypatch.setattr(MilvusClient, "alter_alias", crash)


def test_a_crash_before_the_swap_leaves_the_old_index(corpus, tmp_path, fake_embedder, monkeypatch, engine):
    config = _config(corpus, tmp_path, engine)
    build_index(config, fake_embedder)
    before = _open(config).manifest.created
    (corpus / "001_d8d46347fe4a8a82.txt").write_text("Completely new text about Damascus today.\n")
    _crash_at_the_swap(monkeypatch, config)
    with pytest.raises(KeyboardInterrupt):
        build_index(config, fake_embedder)
    monkeypatch.undo()
    store = _open(config)
    assert store.manifest.created == before
    assert not any("Damascus" in c.text for c in store.chunks)
    assert build_index(config, fake_embedder).written
    assert any("Damascus" in c.text for c in _open(config).chunks)


WRITER = textwrap.dedent("""
    import importlib, sys, time
    sys.path.insert(0, {root!r})
    from tests.conftest import HashEmbedder
    from rag import Config
    from rag.indexing import build_index

    class Slow(HashEmbedder):
        def embed(self, texts):
            time.sleep(0.01 * len(texts))
            return super().embed(texts)

    def pause_at(point):
        # "before:os.replace" -> stop just before os.replace runs (or just after, with "after:") until killed
        when, target = point.split(":")
        path, name = target.rsplit(".", 1)
        try:
            owner = importlib.import_module(path)
        except ImportError:
            module, cls = path.rsplit(".", 1)
            owner = getattr(importlib.import_module(module), cls)
        real = getattr(owner, name)

        def paused(*args, **kwargs):
            if when == "before":
                print("paused", flush=True)
                time.sleep(60)
            out = real(*args, **kwargs)
            print("paused", flush=True)
            time.sleep(60)
            return out

        setattr(owner, name, paused)

    pause_at(sys.argv[4])
    print("started", flush=True)
    build_index(Config(docs_dir=sys.argv[1], index_dir=sys.argv[2], store=sys.argv[3]), Slow(), rebuild=True)
""")

# Where the writer is killed, and which version must be live afterwards.
KILL_POINTS = {
    "faiss": [("before:rag.stores.faiss.VersionWriter.add", "old"), ("before:os.rename", "old"),
              ("before:os.replace", "old"), ("after:os.replace", "new")],
    "milvus": [("before:pymilvus.MilvusClient.insert", "old"), ("before:pymilvus.MilvusClient.create_index", "old"),
               ("before:pymilvus.MilvusClient.alter_alias", "old"), ("after:pymilvus.MilvusClient.alter_alias", "new")],
}


@pytest.mark.parametrize("step", range(4), ids=["adding", "finishing", "swapping", "swapped"])
def test_sigkill_during_index_leaves_a_whole_index(corpus, tmp_path, fake_embedder, engine, step):
    """A real `rag index` run killed with SIGKILL at several points: the old version or the new, never half."""
    point, expected = KILL_POINTS[engine][step]
    config = _config(corpus, tmp_path, engine)
    RAG.build(config=config, embedder=fake_embedder)
    before = _open(config).manifest.created
    (corpus / "001_d8d46347fe4a8a82.txt").write_text("Completely new text about Damascus today.\n")
    _release(config)
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    proc = subprocess.Popen([sys.executable, str(script), config.docs_dir, config.index_dir, config.store, point],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
        assert proc.stdout.readline().strip() == "paused"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    store = _open(config)  # complete either way
    assert (store.manifest.created == before) == (expected == "old")
    assert any("Damascus" in c.text for c in store.chunks) == (expected == "new")
    assert len(store.chunks) == store.manifest.count > 50
    assert {c.doc_id for c in store.chunks} == {p.stem for p in corpus.iterdir()}
    answer = RAG.open(config=config, embedder=fake_embedder, generator=EchoGenerator("ISIS extremists")).ask(
        "Who killed Hamedani?")
    assert answer.citations and not answer.abstained
    RAG.build(config=config, embedder=fake_embedder)  # the next run completes and cleans up
    if engine == "faiss":
        assert not [p for p in (tmp_path / "index").iterdir() if p.name.startswith(".tmp-")]
    else:
        assert all(open_engine(config).manifest(v) is not None for v in open_engine(config).versions())


def test_changed_chunk_settings_rebuild(corpus, tmp_path, engine):
    embedder = HashEmbedder()
    build_index(_config(corpus, tmp_path, engine), embedder)
    embedder.calls = 0
    report = build_index(_config(corpus, tmp_path, engine, chunk_sentences=1), embedder)
    assert report.written and embedder.calls == report.chunks


def test_large_corpus_switches_to_hnsw(tmp_path, fake_embedder, engine):
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(30):
        (docs / f"d{i}.txt").write_text(f"Document {i} talks about topic {i}. It has a second sentence {i}.\n")
    config = _config(docs, tmp_path, engine, exact_limit=10)
    build_index(config, fake_embedder)
    store = _open(config)
    assert store.manifest.faiss_type == "hnsw"
    row, _ = store.search(fake_embedder.embed(["Document 7 talks about topic 7."])[0], 1)[0]
    assert store.chunks[row].doc_id == "d7"


# -- Milvus: the URI, and what happens when the server is not there ------------------------------

@pytest.mark.parametrize("store, uri", [
    ("milvus:///srv/x.db", "/srv/x.db"), ("milvus://./x.db", "./x.db"),
    ("milvus://db.example:19530", "http://db.example:19530"), ("https://db.example:443", "https://db.example:443"),
])
def test_milvus_uris(store, uri):
    from rag.stores.milvus import client_uri

    assert client_uri(store) == uri


def test_unknown_store_is_a_config_error():
    from rag import ConfigError

    with pytest.raises(ConfigError, match="store must be faiss"):
        Config(store="postgres://x")._check()


def test_unreachable_milvus_is_one_sentence_naming_it_and_loses_nothing(corpus, tmp_path, fake_embedder):
    config = Config(docs_dir=str(corpus), store="milvus://127.0.0.1:9", milvus_timeout=2)
    for attempt in (lambda: build_index(config, fake_embedder), lambda: RAG.open(config=config, embedder=fake_embedder)):
        with pytest.raises(StoreUnavailableError, match=r"Milvus at milvus://127\.0\.0\.1:9 cannot be reached") as err:
            attempt()
        assert "\n" not in str(err.value)


def test_cli_unreachable_milvus_prints_one_line(corpus, tmp_path):
    env = {**os.environ, "RAG_STORE": "milvus://127.0.0.1:9", "RAG_MILVUS_TIMEOUT": "2"}
    for args in (["index", "--docs", str(corpus)], ["ask", "Who killed Hamedani?"]):
        out = subprocess.run([sys.executable, "-m", "rag.cli", *args], capture_output=True, text=True, cwd=ROOT,
                             env=env, timeout=120)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        said = [line for line in out.stderr.splitlines() if not line.startswith("indexing ")]  # the progress bar
        assert len(said) == 1 and said[0].startswith("rag: Milvus at milvus://127.0.0.1:9 cannot be reached")


def test_lite_file_in_use_by_another_process_is_one_sentence(corpus, tmp_path, fake_embedder):
    config = _config(corpus, tmp_path, "milvus")
    build_index(config, fake_embedder)
    _release(config)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pymilvus import MilvusClient
        MilvusClient({str(tmp_path / 'index.db')!r}).list_collections()
        print("holding", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreUnavailableError, match="in use by another process") as err:
            _open(config)
        assert "\n" not in str(err.value)
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow
def test_the_cli_gives_the_same_cited_answer_on_milvus_as_on_faiss(tmp_path):
    """`rag index` then `rag ask "Who killed Hamedani?"`, real models, once per engine: the same answer and citations."""
    from rag.models import DEFAULT_LLM

    from .conftest import ARTICLES

    answers = {}
    for store in ("faiss", f"milvus://{tmp_path}/x.db"):
        env = {**os.environ, "RAG_STORE": store, "RAG_LLM": os.environ.get("RAG_TEST_LLM", DEFAULT_LLM)}
        common = ["--index", str(tmp_path / "index")]
        built = subprocess.run([sys.executable, "-m", "rag.cli", "index", "--docs", str(ARTICLES), *common], env=env,
                               cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert built.returncode == 0, built.stderr
        asked = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "Who killed Hamedani?", "--json", *common],
                               env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        assert asked.returncode == 0, asked.stderr
        answers[store] = json.loads(asked.stdout)
    on_faiss, on_milvus = answers.values()
    assert on_faiss["citations"] and not on_faiss["abstained"]
    assert on_milvus["answer"] == on_faiss["answer"] and on_milvus["citations"] == on_faiss["citations"]
    assert [p["doc_id"] for p in on_milvus["passages"]] == [p["doc_id"] for p in on_faiss["passages"]]


def test_a_milvus_server_is_the_same_code_path_and_a_lost_server_is_one_sentence(corpus, tmp_path, fake_embedder):
    """`milvus-lite server` stands in for a Milvus standalone: only RAG_STORE changes (milvus://host:port)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def serve():
        proc = subprocess.Popen([sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(tmp_path / "server"),
                                 "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException

        deadline = time.monotonic() + 60  # a busy machine starts it slowly
        while time.monotonic() < deadline:
            try:
                MilvusClient(f"http://127.0.0.1:{port}", timeout=2).list_collections()
                return proc
            except MilvusException:
                time.sleep(0.2)
        proc.kill()
        raise AssertionError("milvus-lite server did not start")

    config = Config(docs_dir=str(corpus), store=f"milvus://127.0.0.1:{port}", milvus_timeout=5)
    server = serve()
    try:
        rag = RAG.build(config=config, embedder=fake_embedder, generator=EchoGenerator("ISIS extremists"))
        assert rag.ask("Who killed Hamedani?").citations
    finally:
        server.kill()
        server.wait()
    with pytest.raises(StoreUnavailableError, match=f"Milvus at milvus://127.0.0.1:{port} cannot be reached") as err:
        rag.retrieve("Who killed Hamedani?")
    assert "\n" not in str(err.value)
    server = serve()  # nothing was lost: the index is there when the server is back
    try:
        assert RAG.open(config=config, embedder=fake_embedder).retrieve("Who killed Hamedani?")
    finally:
        server.kill()
        server.wait()


def test_equal_scores_come_in_row_order_on_every_engine(tmp_path, engine):
    """Identical passages (a sentence two articles share) tie; both engines list the tie the same way."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("b", "a", "c"):
        (docs / f"{name}.txt").write_text("The same shared sentence appears in several wires today.\n")
    config = _config(docs, tmp_path, engine)
    embedder = HashEmbedder()
    build_index(config, embedder)
    store = _open(config)
    found = store.search(embedder.embed(["The same shared sentence appears in several wires today."])[0], 2)
    assert [row for row, _ in found] == [0, 1] and found[0][1] == pytest.approx(found[1][1])
