"""Uploads and the API tell the truth and leave nothing behind (issue 18).

The page reports each skipped file with its reason; the documents folder holds only what the
index holds; only the types the library indexes get in, through the widget or the endpoint;
Gradio's temporary copies are deleted; limits refuse an upload in one sentence with nothing
half-indexed; /ask says a question must be text. All on loopback, over the fake embedder.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from rag import DOCUMENT_SUFFIXES, RAG, Config, DocumentError, QuestionError
from rag.documents import iter_paths
from rag.indexing import build_index
from rag.pipeline import clean_question

from .conftest import EchoGenerator
from .servers import FakeRequest, files_named, login, post_upload, served, upload_event

gr = pytest.importorskip("gradio")
import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

from ui.access import Access, upload_folder  # noqa: E402
from ui.app import ChatPage  # noqa: E402

ZEBRA = "# Zebra parade\n\nThe zebra parade was held in Lisbon on Sunday. Thousands watched it.\n"
NOT_TEXT = [123, None, ["Who killed Hamedani?"], {"question": "Who killed Hamedani?"}, True, 4.5]


@pytest.fixture
def make_rag(corpus, tmp_path, fake_embedder):
    def make(**settings) -> RAG:
        config = Config(docs_dir=str(corpus), index_dir=str(tmp_path / "index"), **settings)
        return RAG.build(config=config, embedder=fake_embedder, generator=EchoGenerator("It was ISIS [1]."))
    return make


@pytest.fixture
def gradio_folder(tmp_path) -> Path:
    """A stand-in for Gradio's upload folder, laid out as Gradio lays it out: one sub-folder per file."""
    return tmp_path / "gradio"


def staged(folder: Path, name: str, data: bytes | str) -> str:
    path = folder / uuid.uuid4().hex / name
    path.parent.mkdir(parents=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


def held_by_folder_and_index(rag: RAG) -> tuple[set[str], set[str]]:
    return {p.stem for p in iter_paths(rag.config.docs_dir)}, set(rag.documents())


# -- the page tells the truth --------------------------------------------------------------------------
def test_the_upload_report_names_a_binary_and_an_empty_file_as_skipped(make_rag, gradio_folder):
    rag = make_rag()
    page = ChatPage(rag)
    page.upload_folder = str(gradio_folder)
    files = [staged(gradio_folder, "zebra.md", ZEBRA), staged(gradio_folder, "binary.txt", b"GIF89a\x00\x01\x02" * 50),
             staged(gradio_folder, "empty.txt", b"")]
    status, library, cleared = page.add(files)
    assert "Indexed zebra.md" in status and "6 articles indexed" in library and cleared is None
    assert "Not indexed" in status
    assert "Skipped binary.txt: it looks like a binary file" in status
    assert "Skipped empty.txt: the file is empty" in status
    assert str(gradio_folder) not in status  # names, not temporary paths
    assert "zebra" in rag.documents() and "binary" not in rag.documents() and "empty" not in rag.documents()


def test_an_upload_that_indexes_nothing_says_so(make_rag, gradio_folder):
    page = ChatPage(make_rag())
    page.upload_folder = str(gradio_folder)
    status, _, _ = page.add([staged(gradio_folder, "binary.txt", b"\x00\x01\x02\x03" * 100)])
    assert "Nothing was indexed" in status and "binary.txt" in status and 'role="alert"' in status
    assert "Indexed" not in status and "You can ask" not in status


def test_the_documents_folder_holds_only_indexed_files(make_rag, gradio_folder, fake_embedder):
    rag = make_rag()
    page = ChatPage(rag)
    page.upload_folder = str(gradio_folder)
    page.add([staged(gradio_folder, "zebra.md", ZEBRA), staged(gradio_folder, "binary.txt", b"\x00\xff" * 300),
              staged(gradio_folder, "empty.md", b"   \n"), staged(gradio_folder, "latin1.txt", "café".encode("latin-1")),
              staged(gradio_folder, "menu.html", "<html><nav>Home</nav></html>")])
    in_folder, in_index = held_by_folder_and_index(rag)
    assert in_folder == in_index and "zebra" in in_index and len(in_index) == 6
    assert build_index(rag.config, fake_embedder).skipped == ()  # a later re-index has nothing to warn about
    assert list(gradio_folder.rglob("*.*")) == []  # every temporary copy, indexed or refused, is deleted


def test_a_file_that_would_be_skipped_is_never_planned_into_the_folder(make_rag, tmp_path):
    from rag.indexing import plan_upload

    rag = make_rag()
    binary, empty, good = tmp_path / "binary.txt", tmp_path / "empty.md", tmp_path / "zebra.md"
    binary.write_bytes(b"\x00\x01" * 100)
    empty.write_text("")
    good.write_text(ZEBRA)
    plan = plan_upload(rag.config, [binary, empty, good])
    assert [target.name for _, target in plan.copies] == ["zebra.md"]
    assert [s.split(":")[0] for s in plan.skipped] == ["Skipped binary.txt", "Skipped empty.md"]


def test_a_reupload_of_the_same_file_is_reported_as_already_indexed(make_rag, gradio_folder):
    page = ChatPage(make_rag())
    page.upload_folder = str(gradio_folder)
    page.add([staged(gradio_folder, "zebra.md", ZEBRA)])
    status, _, _ = page.add([staged(gradio_folder, "zebra.md", ZEBRA)])
    assert "Already indexed, unchanged: zebra.md" in status and "Indexed zebra.md" not in status


# -- limits: each refused in one sentence, nothing half-indexed -----------------------------------------------
def test_too_many_files_at_once_are_refused_and_nothing_is_added(make_rag, tmp_path):
    rag = make_rag(max_upload_files=2)
    files = []
    for n in range(3):
        files.append(tmp_path / f"note{n}.md")
        files[-1].write_text(f"# Note {n}\n\nThe zebra number {n} was seen in Lisbon.\n")
    before = held_by_folder_and_index(rag)
    with pytest.raises(DocumentError, match=r"at most 2 can be added at once \(setting max_upload_files\)"):
        rag.add_documents(files)
    assert held_by_folder_and_index(rag) == before


def test_an_upload_past_the_corpus_limit_is_refused_and_nothing_is_added(make_rag, tmp_path, corpus):
    size = sum(p.stat().st_size for p in iter_paths(corpus))
    rag = make_rag(max_corpus_bytes=size + 100)
    big = tmp_path / "big.md"
    big.write_text("# Big\n\n" + "The zebra parade was long. " * 20)
    before = held_by_folder_and_index(rag)
    with pytest.raises(DocumentError, match=r"over the [\d,]+-byte limit \(setting max_corpus_bytes\)"):
        rag.add_documents([big])
    assert held_by_folder_and_index(rag) == before
    small = tmp_path / "small.md"
    small.write_text("# Small\n\nA zebra.\n")
    assert rag.add_documents([small]).files == ("small.md",)  # under the limit it fits


def test_a_file_over_the_size_limit_is_skipped_with_its_reason(make_rag, tmp_path):
    rag = make_rag(max_doc_bytes=5000)  # the five articles are smaller
    big, ok = tmp_path / "big.md", tmp_path / "ok.md"
    big.write_text("# Big\n\n" + "The zebra parade was long. " * 250)
    ok.write_text("# Ok\n\nThe zebra parade was short.\n")
    report = rag.add_documents([big, ok])
    assert report.files == ("ok.md",) and len(report.skipped) == 1
    assert report.skipped[0].startswith("Skipped big.md: ") and "setting max_doc_bytes" in report.skipped[0]
    in_folder, in_index = held_by_folder_and_index(rag)
    assert in_folder == in_index and "big" not in in_folder


def test_a_failure_while_indexing_leaves_folder_and_index_as_they_were(make_rag, tmp_path, fake_embedder):
    rag = make_rag()
    before = held_by_folder_and_index(rag)
    new = tmp_path / "zebra.md"
    new.write_text(ZEBRA)

    def broken(texts):
        raise RuntimeError("the embedder fell over")

    fake_embedder.embed = broken
    with pytest.raises(RuntimeError, match="fell over"):
        rag.add_documents([new])
    assert held_by_folder_and_index(rag) == before
    assert not (Path(rag.config.docs_dir) / "zebra.md").exists()


def test_a_name_that_would_replace_another_document_is_refused(make_rag, tmp_path):
    rag = make_rag()
    first = tmp_path / "a" / "zebra.md"
    first.parent.mkdir()
    first.write_text(ZEBRA)
    rag.add_documents([first])
    other = tmp_path / "zebra.txt"  # another file, same document id
    other.write_text("Other zebra text.")
    with pytest.raises(DocumentError, match="already indexed; rename"):
        rag.add_documents([other])
    dotted = tmp_path / ".hidden.md"
    dotted.write_text(ZEBRA)
    with pytest.raises(DocumentError, match="starts with a dot"):
        rag.add_documents([dotted])
    assert held_by_folder_and_index(rag)[0] == held_by_folder_and_index(rag)[1]


# -- only the types the library indexes, in the widget and on the server ----------------------------------
def test_py_is_refused_by_the_widget_and_by_the_upload_endpoint_and_no_copy_remains(make_rag, tmp_path):
    rag = make_rag()
    evil = tmp_path / f"evil-{uuid.uuid4().hex[:8]}.py"
    evil.write_text("import os\nos.system('echo pwned')\n")
    good = tmp_path / f"zebra-{uuid.uuid4().hex[:8]}.md"
    good.write_text(ZEBRA)
    with served(rag, Access({"w": "pw"}, frozenset({"w"}))) as url:
        writer = login(url, "w", "pw")
        config = writer.get("config").json()
        widget = next(c for c in config["components"] if c.get("props", {}).get("elem_id") == "upload")
        assert widget["props"]["file_types"] == list(DOCUMENT_SUFFIXES)  # the browser offers and accepts only these

        refused = post_upload(writer, evil, good)
        assert refused.status_code == 415 and f"{evil.name} is not a .txt, .md, .html or .pdf file" in refused.json()["detail"]
        assert files_named(upload_folder(), evil.name) == [] and files_named(upload_folder(), good.name) == []

        stored = post_upload(writer, good).json()
        assert [Path(p).name for p in stored] == [good.name] and files_named(upload_folder(), good.name)
        status = upload_event(writer, stored)
    assert f"Indexed {good.name}" in status and good.stem in rag.documents()
    assert files_named(upload_folder(), good.name) == []  # deleted once indexed


def test_the_endpoint_refuses_more_files_than_one_upload_may_add(make_rag, tmp_path):
    files = []
    for n in range(3):
        files.append(tmp_path / f"n{n}-{uuid.uuid4().hex[:8]}.md")
        files[-1].write_text(f"# Note {n}\n\nZebra {n}.\n")
    with served(make_rag(max_upload_files=2)) as url:
        response = post_upload(httpx.Client(base_url=url, timeout=30), *files)
    assert response.status_code == 413 and "at most 2" in response.json()["detail"]
    assert all(files_named(upload_folder(), f.name) == [] for f in files)


# -- the question must be text ------------------------------------------------------------------------------
@pytest.mark.parametrize("question", NOT_TEXT, ids=lambda q: type(q).__name__)
def test_a_question_that_is_not_text_is_refused_as_such(question):
    with pytest.raises(QuestionError, match="must be text"):
        clean_question(question, 2000)


def test_ask_with_each_non_string_type_says_it_must_be_text(make_rag):
    with served(make_rag()) as url:
        client = Client(url, verbose=False, httpx_kwargs={"timeout": 30})
        messages = []
        for question in NOT_TEXT:
            with pytest.raises(Exception) as refused:  # noqa: B017 - gradio_client's AppError
                client.predict(question, api_name="/ask")
            messages.append(str(refused.value))
    assert all("The question must be text" in m for m in messages), messages
    assert "empty" not in " ".join(messages)


def test_the_api_checks_its_inputs_before_taking_a_place_in_line(make_rag):
    from ui.gate import Gate

    gate = Gate(waiting=0)
    page = ChatPage(make_rag(), gate=gate)
    with gate.enter("someone else"):  # the line is full, yet bad input is told what is wrong with it
        with pytest.raises(gr.Error, match="must be text"):
            page.ask(123, request=FakeRequest("s"))
        with pytest.raises(gr.Error, match="history"):
            page.ask("Who killed Hamedani?", "not a list", request=FakeRequest("s"))
        with pytest.raises(gr.Error, match="busy"):
            page.ask("Who killed Hamedani?", request=FakeRequest("s"))
