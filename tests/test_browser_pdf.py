"""A cited PDF page on the chat page, in real headless Chromium: the span marked in the page's text.

The app runs over the articles plus a two-page PDF wire, indexed in Milvus Lite with the packaged
embedder; a stand-in generator drafts the PDF's sentence so that the answer cites it. The
screenshot goes to tests/artifacts/chat_pdf_citation.png.
"""

from __future__ import annotations

import shutil

import pytest

from rag import RAG, Config

from .conftest import ARTICLES, CHROMIUM, EchoGenerator, free_port
from .pdfs import make_pdf
from .test_browser import ARTIFACTS, ask, normalised
from .test_pdf import WIRE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (`make browser`)"),
]


def test_a_cited_pdf_page_is_shown_with_the_span_marked(tmp_path, real_embedder, browser):
    from ui.app import build_app, launch

    docs = tmp_path / "docs"
    shutil.copytree(ARTICLES, docs)
    make_pdf(docs / "ferry_wire.pdf", WIRE, title="Baltic ferry aground off Tallinn")
    config = Config(docs_dir=str(docs), store=f"milvus://{tmp_path}/index.db")
    draft = "Salvage crews refloated the Baltic Star at high tide on Wednesday."
    rag = RAG.build(config=config, embedder=real_embedder, generator=EchoGenerator(draft))
    app = build_app(rag)
    url = launch(app, port=free_port(), block=False, max_file_size=config.max_doc_bytes)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("#question textarea")
        ask(page, "When was the Baltic Star refloated?", 1)
        page.locator("#chat button.cite").first.click()
        popover = page.locator(".source-pop:popover-open")
        popover.wait_for(state="visible")
        assert "ferry_wire.pdf" in popover.inner_text() and "page 2" in popover.inner_text()
        marked = normalised(popover.locator("mark").inner_text())
        assert marked.startswith("Salvage crews refloated the Baltic Star")
        assert "Estonian Safety Investigation Bureau" in popover.inner_text()  # the rest of the page around it
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "chat_pdf_citation.png"))
    finally:
        app.close()
