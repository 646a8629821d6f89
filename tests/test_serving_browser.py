"""The served page as its users see it, in headless Chromium: a reader, a writer, a waiting and a refused asker.

Over the fake embedder and a stand-in model that can be held, so a line forms on demand.
Screenshots go to tests/artifacts/ (gitignored): serving_reader.png, serving_writer.png,
serving_waiting.png, serving_busy.png.
"""

from __future__ import annotations

import shutil
import uuid

import pytest

from rag import RAG, Config

from .conftest import ARTICLES, CHROMIUM, ROOT, HashEmbedder
from .servers import BlockingGenerator, files_named, served, until

ARTIFACTS = ROOT / "tests" / "artifacts"
ACCOUNTS = {"reader": "r-secret-1", "writer": "w-secret-2", "reader2": "r-secret-3", "reader3": "r-secret-4"}
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (`make browser`)"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """(url, generator, gate) of a page with readers and one writer, one question waiting at most."""
    from ui.access import Access
    from ui.gate import Gate

    root = tmp_path_factory.mktemp("serving-browser")
    shutil.copytree(ARTICLES, root / "articles")
    generator = BlockingGenerator()
    generator.release.set()  # answers flow until a test holds the model
    rag = RAG.build(config=Config(docs_dir=str(root / "articles"), index_dir=str(root / "index")),
                    embedder=HashEmbedder(), generator=generator)
    gate = Gate(waiting=1)
    with served(rag, Access(dict(ACCOUNTS), frozenset({"writer"})), gate) as url:
        yield url, generator, gate


@pytest.fixture
def open_as(browser, site):
    """Log in through the page's own form as ``user``; a fresh browser session each time."""
    contexts = []

    def open_page(user: str):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.uploads = []
        page.on("request", lambda r: page.uploads.append(r.url) if "/gradio_api/upload" in r.url else None)
        page.goto(site[0])
        page.locator("input[type=text]").fill(user)
        page.locator("input[type=password]").fill(ACCOUNTS[user])
        page.get_by_role("button", name="Login").click()
        page.wait_for_selector("#question textarea", timeout=WAIT_MS)
        page.wait_for_selector("#library summary", timeout=WAIT_MS)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        return page

    yield open_page
    for context in contexts:
        context.close()


def ask(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#ask")


def test_a_reader_sees_no_upload_control(open_as):
    page = open_as("reader")
    page.wait_for_timeout(1_000)  # the page's load event has run (library shown); nothing appears later
    assert page.get_by_text("Add articles").count() == 0 or not page.get_by_text("Add articles").first.is_visible()
    assert page.locator("#upload input[type=file]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "serving_reader.png"), full_page=True)


def test_a_writer_adds_articles_and_the_widget_refuses_other_types(open_as, tmp_path):
    from ui.access import upload_folder

    page = open_as("writer")
    page.get_by_text("Add articles").click()
    upload = page.locator("#upload input[type=file]")
    upload.wait_for(state="attached", timeout=WAIT_MS)
    assert ".md" in (upload.get_attribute("accept") or "")  # the file chooser offers only the indexed types
    evil = tmp_path / f"evil-{uuid.uuid4().hex[:6]}.py"
    evil.write_text("import os\n")
    upload.set_input_files(str(evil))
    page.get_by_text("Invalid file type").first.wait_for(timeout=WAIT_MS)
    page.wait_for_timeout(500)
    assert page.uploads == []  # refused in the browser: nothing was sent

    good = tmp_path / f"zebra-{uuid.uuid4().hex[:6]}.md"
    good.write_text("# Zebra parade\n\nThe zebra parade was held in Lisbon on Sunday.\n")
    binary = tmp_path / f"photo-{uuid.uuid4().hex[:6]}.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 40)
    upload.set_input_files([str(good), str(binary)])
    page.wait_for_selector("#upload-status .upload-ok", timeout=WAIT_MS)
    status = page.locator("#upload-status").inner_text()
    assert f"Indexed {good.name}" in status
    assert f"Skipped {binary.name}: it looks like a binary file" in status
    page.locator("#upload-status").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "serving_writer.png"), full_page=True)
    assert files_named(upload_folder(), good.name) == [] and files_named(upload_folder(), binary.name) == []


def test_a_waiting_page_shows_its_place_and_a_full_line_says_busy(open_as, site):
    _, generator, gate = site
    first, second, third = open_as("reader"), open_as("reader2"), open_as("reader3")
    generator.release.clear()
    try:
        entered = generator.entered
        ask(first, "Who killed Hamedani?")
        until(lambda: generator.entered == entered + 1, 30, "the first question reaching the model")
        ask(second, "Where did the Russian cruise missiles crash?")
        second.get_by_text("1 question ahead of yours").wait_for(timeout=WAIT_MS)
        assert len(gate) == 2
        second.screenshot(path=str(ARTIFACTS / "serving_waiting.png"), full_page=True)
        ask(third, "How many sorties did Russian aircraft carry out?")
        third.get_by_text("busy, try again in a moment").wait_for(timeout=WAIT_MS)
        third.screenshot(path=str(ARTIFACTS / "serving_busy.png"), full_page=True)
        assert third.locator("#question textarea").is_enabled()  # the refused reader may ask again
    finally:
        generator.release.set()
    for page in (first, second):
        page.wait_for_selector("#chat .turn .answer:not(.draft)", timeout=WAIT_MS)
        assert "ahead of yours" not in page.locator("#chat").inner_text()
