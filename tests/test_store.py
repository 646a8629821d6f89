"""The index folder: incremental updates, atomic swaps, and clear refusals."""

import json
import os
import shutil

import pytest

from rag import Config, IndexCorruptError, IndexMismatchError, IndexMissingError
from rag.indexing import build_index
from rag.stores.faiss import live_version, load_store

from .conftest import HashEmbedder


def _config(corpus, tmp_path, **kw):
    return Config(docs_dir=str(corpus), index_dir=str(tmp_path / "index"), **kw)


def test_build_writes_a_self_describing_manifest(corpus, tmp_path, fake_embedder):
    report = build_index(_config(corpus, tmp_path), fake_embedder)
    assert report.written and report.documents == 5 and report.embedded == report.chunks
    manifest = json.loads((live_version(tmp_path / "index") / "manifest.json").read_text())
    assert manifest["format"] == "rag-index" and manifest["version"] == 1
    assert manifest["embedder"] == "hash-64" and manifest["dim"] == 64
    assert manifest["faiss_type"] == "flat"
    assert set(manifest["documents"]) == {p.stem for p in corpus.iterdir()}
    assert all(len(d["sha256"]) == 64 for d in manifest["documents"].values())
    assert not list((tmp_path / "index").glob("*.pkl"))
    store = load_store(tmp_path / "index", "hash-64", 64)
    doc = (corpus / "000_9b77c177f7e2b0b1.txt").read_text()
    for chunk in store.chunks:
        if chunk.doc_id == "000_9b77c177f7e2b0b1":
            assert doc[chunk.start:chunk.end] == chunk.text


def test_rerun_embeds_nothing_changed_doc_only_removed_doc_leaves(corpus, tmp_path, fake_embedder):
    config = _config(corpus, tmp_path)
    first = build_index(config, fake_embedder)
    version = live_version(tmp_path / "index")

    fake_embedder.calls = 0
    again = build_index(config, fake_embedder)
    assert fake_embedder.calls == 0 and not again.written and again.unchanged == 5
    assert live_version(tmp_path / "index") == version

    changed = corpus / "002_01c6e4c94616b3f2.txt"
    changed.write_text(changed.read_text() + "\nA brand new sentence about Damascus was added.\n")
    (corpus / "004_9f0895b9e707810c.txt").unlink()
    update = build_index(config, fake_embedder)
    assert update.changed == ("002_01c6e4c94616b3f2",) and update.removed == ("004_9f0895b9e707810c",)
    store = load_store(tmp_path / "index", "hash-64", 64)
    assert fake_embedder.calls == len(store.rows_by_doc["002_01c6e4c94616b3f2"])
    assert "004_9f0895b9e707810c" not in {c.doc_id for c in store.chunks}
    assert any("Damascus" in c.text for c in store.chunks)
    assert first.chunks != update.chunks
    assert [p.name for p in (tmp_path / "index").iterdir() if p.name.startswith("v-")] == [store.path.name]


def test_bad_files_are_skipped_and_the_rest_indexed(corpus, tmp_path, fake_embedder):
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02\x03")
    (corpus / "latin.txt").write_bytes("Le caf\xe9 est ferm\xe9.".encode("latin-1"))
    (corpus / "empty.md").write_text("")
    report = build_index(_config(corpus, tmp_path), fake_embedder)
    assert report.documents == 5
    assert len(report.skipped) == 3
    assert any("binary.txt" in s and "binary" in s for s in report.skipped)
    assert any("latin.txt" in s and "UTF-8" in s for s in report.skipped)


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(IndexMissingError, match="rag index"):
        load_store(tmp_path / "nowhere")


def test_other_embedder_is_refused(corpus, tmp_path, fake_embedder):
    build_index(_config(corpus, tmp_path), fake_embedder)
    with pytest.raises(IndexMismatchError, match="hash-64.*rebuild"):
        load_store(tmp_path / "index", "all-MiniLM-L6-v2", 384)


@pytest.mark.parametrize("damage", ["truncate", "edit", "delete", "manifest", "pointer"])
def test_damaged_index_is_refused_with_the_fix(corpus, tmp_path, fake_embedder, damage):
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


def test_a_crash_before_the_swap_leaves_the_old_index(corpus, tmp_path, fake_embedder, monkeypatch):
    config = _config(corpus, tmp_path)
    build_index(config, fake_embedder)
    before = live_version(tmp_path / "index")
    (corpus / "001_d8d46347fe4a8a82.txt").write_text("Completely new text about Damascus today.\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # stands for a kill between writing files and renaming

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        build_index(config, fake_embedder)
    monkeypatch.undo()
    store = load_store(tmp_path / "index", "hash-64", 64)
    assert store.path == before
    assert not any("Damascus" in c.text for c in store.chunks)
    assert build_index(config, fake_embedder).written
    assert any("Damascus" in c.text for c in load_store(tmp_path / "index", "hash-64", 64).chunks)


def test_changed_chunk_settings_rebuild(corpus, tmp_path):
    embedder = HashEmbedder()
    build_index(_config(corpus, tmp_path), embedder)
    embedder.calls = 0
    report = build_index(_config(corpus, tmp_path, chunk_sentences=1), embedder)
    assert report.written and embedder.calls == report.chunks


def test_large_corpus_switches_to_hnsw(tmp_path, fake_embedder):
    docs = tmp_path / "many"
    docs.mkdir()
    for i in range(30):
        (docs / f"d{i}.txt").write_text(f"Document {i} talks about topic {i}. It has a second sentence {i}.\n")
    build_index(Config(docs_dir=str(docs), index_dir=str(tmp_path / "idx"), exact_limit=10), fake_embedder)
    store = load_store(tmp_path / "idx", "hash-64", 64)
    assert store.manifest.faiss_type == "hnsw"
    row, _ = store.search(fake_embedder.embed(["Document 7 talks about topic 7."])[0], 1)[0]
    assert store.chunks[row].doc_id == "d7"
    shutil.rmtree(tmp_path / "idx")
