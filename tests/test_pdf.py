"""PDF articles: one document per page, citations that name the page, bad PDFs skipped by name."""

import json
import shutil

import pytest

from rag import RAG, Config
from rag.chunk import chunk_document
from rag.documents import SkippedFile, load_file
from rag.indexing import build_index

from .conftest import EchoGenerator
from .pdfs import make_corrupt_pdf, make_pdf, make_scanned_pdf

WIRE = [
    ["Baltic ferry aground off Tallinn",
     "The harbour authority of Tallinn said on Tuesday that the ferry Baltic Star ran aground on a sandbank "
     "two kilometres from the port while carrying 212 passengers.",
     "Nobody was hurt, and tugs were sent from the port within the hour."],
    ["Salvage crews refloated the Baltic Star at high tide on Wednesday, the authority said.",
     "Investigators from the Estonian Safety Investigation Bureau boarded the ship to read its voyage recorder."],
]


@pytest.fixture
def wire(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    make_pdf(folder / "ferry_wire.pdf", WIRE, title="Baltic ferry aground off Tallinn")
    return folder


def test_a_pdf_is_one_document_per_page_with_offsets_into_the_page_text(wire):
    docs = load_file(wire / "ferry_wire.pdf")
    assert [d.id for d in docs] == ["ferry_wire#p1", "ferry_wire#p2"]
    assert all(d.title == "Baltic ferry aground off Tallinn" for d in docs)
    assert len({d.sha256 for d in docs}) == 1  # the file's hash, for incremental updates
    assert "Salvage crews refloated" in docs[1].text and "Salvage" not in docs[0].text
    words = " ".join(" ".join(page) for page in WIRE).split()
    assert " ".join(d.text for d in docs).split() == words  # pypdf gives back every word, in order
    for doc in docs:
        for chunk in chunk_document(doc):
            assert doc.text[chunk.start:chunk.end] == chunk.text and chunk.page == int(doc.id[-1])


@pytest.mark.parametrize("make, reason", [
    (make_scanned_pdf, "no text layer"),
    (make_corrupt_pdf, "not a readable PDF"),
    (lambda p: make_pdf(p, WIRE, user_password="secret"), "encrypted with a password"),
])
def test_unusable_pdfs_are_skipped_by_name(tmp_path, make, reason):
    path = make(tmp_path / "bad.pdf")
    with pytest.raises(SkippedFile, match=f"bad.pdf.*{reason}"):
        load_file(path)


def test_a_pdf_locked_only_against_editing_is_read(tmp_path):
    path = make_pdf(tmp_path / "owner.pdf", WIRE, owner_password="owner-only")
    assert [d.id for d in load_file(path)] == ["owner#p1", "owner#p2"]


def test_a_folder_with_bad_pdfs_indexes_the_rest(wire, corpus, tmp_path, fake_embedder):
    for article in corpus.iterdir():
        shutil.copy(article, wire)
    make_scanned_pdf(wire / "scanned_page.pdf")
    make_corrupt_pdf(wire / "broken.pdf")
    make_pdf(wire / "locked.pdf", WIRE, user_password="secret")
    report = build_index(Config(docs_dir=str(wire), index_dir=str(tmp_path / "index")), fake_embedder)
    assert report.documents == 6 and "ferry_wire" in report.added
    assert len(report.skipped) == 3
    for name, why in (("scanned_page.pdf", "no text layer"), ("broken.pdf", "not a readable PDF"),
                      ("locked.pdf", "encrypted")):
        assert any(name in s and why in s for s in report.skipped), name


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_a_pdf_citation_names_the_page_and_its_span(wire, tmp_path, fake_embedder, store):
    uri = f"milvus://{tmp_path}/index.db" if store == "milvus" else "faiss"
    draft = "Salvage crews refloated the Baltic Star at high tide on Wednesday."
    rag = RAG.build(wire, tmp_path / "index", embedder=fake_embedder, generator=EchoGenerator(draft), store=uri)
    answer = rag.ask("When was the Baltic Star refloated?")
    assert answer.citations and not answer.abstained
    cited = answer.citations[0]
    assert cited.doc_id == "ferry_wire#p2" and cited.page == 2
    page = load_file(wire / "ferry_wire.pdf")[1]
    assert page.text[cited.start:cited.end] == cited.text and "refloated" in cited.text
    record = json.loads(json.dumps(answer.to_dict()))
    assert record["citations"][0]["page"] == 2 and record["citations"][0]["doc_id"] == "ferry_wire#p2"
    assert all(p["page"] in (1, 2) for p in record["passages"])
    whole_page = rag.context(cited.doc_id, cited.start, cited.end)
    assert {c.doc_id for c in whole_page} == {"ferry_wire#p2"} and len(whole_page) == len(rag.store.rows_by_doc["ferry_wire#p2"])


def test_a_changed_pdf_is_re_embedded_and_a_removed_one_leaves(wire, tmp_path, fake_embedder):
    config = Config(docs_dir=str(wire), index_dir=str(tmp_path / "index"))
    build_index(config, fake_embedder)
    fake_embedder.calls = 0
    assert not build_index(config, fake_embedder).written and fake_embedder.calls == 0
    make_pdf(wire / "ferry_wire.pdf", WIRE[:1], title="Baltic ferry aground off Tallinn")
    make_pdf(wire / "second.pdf", WIRE[1:])
    report = build_index(config, fake_embedder)
    assert report.changed == ("ferry_wire",) and report.added == ("second",)
    (wire / "second.pdf").unlink()
    assert build_index(config, fake_embedder).removed == ("second",)
    assert set(RAG.open(config=config, embedder=fake_embedder).documents()) == {"ferry_wire#p1"}


def test_the_cli_names_the_page_of_a_pdf_source():
    from rich.console import Console

    from rag import Answer, Citation
    from rag.cli import _print_answer

    console = Console(record=True, width=200)
    _print_answer(Answer("q?", "It ran aground [1].", False, (Citation("1", "ferry_wire#p1", 10, 30, "ran aground"),)),
                  console)
    assert "[1] ferry_wire.pdf, page 1 (10-30): “ran aground”" in console.export_text()


def test_the_chat_page_shows_the_cited_span_in_the_page(wire, tmp_path, fake_embedder):
    from ui.render import answer_html

    draft = "Salvage crews refloated the Baltic Star at high tide on Wednesday."
    rag = RAG.build(wire, tmp_path / "index", embedder=fake_embedder, generator=EchoGenerator(draft))
    answer = rag.ask("When was the Baltic Star refloated?")
    page = answer_html(answer, rag.context, rag.documents(), 0)
    assert "ferry_wire.pdf</code> · <span class=\"page\">page 2</span>" in page and "of the page" in page
    assert "<mark>Salvage crews refloated the Baltic Star at high tide on Wednesday, the authority said.</mark>" in page
    assert "Investigators from the Estonian Safety Investigation Bureau" in page  # the rest of the page, around it


def test_the_library_counts_a_pdf_once_with_its_pages():
    from ui.render import library_html

    listing = library_html({"a": "Article A", "ferry_wire#p1": "Ferry", "ferry_wire#p2": "Ferry"})
    assert "2 articles indexed" in listing and "<code>ferry_wire.pdf</code> · 2 pages" in listing
