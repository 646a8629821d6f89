"""Faults: a killed `rag index` never costs the previous index; damaged files are named."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from rag import RAG, IndexCorruptError, IndexMismatchError, ModelError
from rag.stores.faiss import live_version, load_store

from .conftest import ROOT, EchoGenerator

WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from tests.conftest import HashEmbedder
    from rag import Config
    from rag.indexing import build_index

    class Slow(HashEmbedder):
        def embed(self, texts):
            time.sleep(0.02 * len(texts))
            return super().embed(texts)

    build_index(Config(docs_dir=sys.argv[1], index_dir=sys.argv[2]), Slow(), rebuild=True)
""")


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.3, 1.8, 2.4, 3.0])
def test_sigkill_during_index_leaves_the_previous_index_answering(corpus, tmp_path, fake_embedder, delay):
    index = tmp_path / "index"
    RAG.build(corpus, index, embedder=fake_embedder)
    before = live_version(index)
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    proc = subprocess.Popen([sys.executable, str(script), str(corpus), str(index)], cwd=ROOT)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = load_store(index, "hash-64", 64)  # the old or the new version, complete either way
    assert store.path in (before, live_version(index)) and len(store.chunks) > 50
    answer = RAG.open(index, embedder=fake_embedder, generator=EchoGenerator("ISIS extremists")).ask(
        "Who killed Hamedani?")
    assert answer.citations and not answer.abstained
    RAG.build(corpus, index, embedder=fake_embedder)  # the next run completes and cleans up
    assert not [p for p in index.iterdir() if p.name.startswith(".tmp-")]
    assert len([p for p in index.iterdir() if p.name.startswith("v-")]) == 1


def test_missing_chunk_file_is_named(corpus, tmp_path, fake_embedder):
    RAG.build(corpus, tmp_path / "index", embedder=fake_embedder)
    (live_version(tmp_path / "index") / "chunks.jsonl").unlink()
    with pytest.raises(IndexCorruptError, match="chunks.jsonl.*rebuild"):
        RAG.open(tmp_path / "index", embedder=fake_embedder)


def test_manifest_from_another_embedder_is_refused(corpus, tmp_path, fake_embedder, real_embedder):
    RAG.build(corpus, tmp_path / "index", embedder=fake_embedder)
    with pytest.raises(IndexMismatchError, match="hash-64.*all-MiniLM-L6-v2.*rebuild"):
        RAG.open(tmp_path / "index", embedder=real_embedder)


def test_missing_model_files_are_named(tmp_path):
    from rag.embed import SentenceTransformerEmbedder
    from rag.generate import LlamaGenerator

    with pytest.raises(ModelError, match="nowhere.gguf"):
        LlamaGenerator(str(tmp_path / "nowhere.gguf"))
    with pytest.raises(ModelError, match="does not exist"):
        SentenceTransformerEmbedder(str(tmp_path / "no-model-dir"))


def test_unloadable_model_file_is_a_clear_error(tmp_path):
    from rag.generate import LlamaGenerator
    from rag.prompts import build_prompt

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(64))
    generator = LlamaGenerator(str(bad))
    with pytest.raises(ModelError, match="broken.gguf"):
        list(generator.generate(build_prompt("q?", [], 10), 4))


@pytest.mark.slow
def test_cli_reports_a_corrupt_index_in_one_sentence(corpus, tmp_path, real_embedder):
    RAG.build(corpus, tmp_path / "index", embedder=real_embedder)
    version = live_version(tmp_path / "index")
    (version / "faiss.index").write_bytes(b"garbage")
    out = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "Who killed Hamedani?", "--index",
                          str(tmp_path / "index")], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "rebuild" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_warming_up_finds_an_unloadable_model_before_any_question(corpus, tmp_path, fake_embedder, caplog):
    from ui.app import warm

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + os.urandom(64))
    rag = RAG.build(corpus, tmp_path / "index", embedder=fake_embedder, llm=str(bad))
    with pytest.raises(ModelError, match="broken.gguf"):
        rag.warm()
    with caplog.at_level("WARNING"):
        warm(rag)  # what `rag serve` runs beside the page: one logged sentence, no traceback
    assert any("broken.gguf" in r.getMessage() for r in caplog.records)
