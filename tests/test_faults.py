"""Faults: damaged or missing index and model files are named (killed writers: tests/test_store.py)."""

import os
import subprocess
import sys

import pytest

from rag import RAG, IndexCorruptError, IndexMismatchError, ModelError
from rag.stores.faiss import live_version

from .conftest import ROOT


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
