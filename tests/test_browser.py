"""The chat page in real headless Chromium, over the real packaged models.

One app per module, over a copy of the articles in a temporary folder (uploads land there).
Screenshots go to tests/artifacts/ (gitignored) so a person can look at the page.
"""

from __future__ import annotations

import re
import shutil
from urllib.parse import urlparse

import pytest

from rag import ABSTAIN, RAG, Config

from .conftest import ARTICLES, CHROMIUM, ROOT, free_port

ARTIFACTS = ROOT / "tests" / "artifacts"
ANSWER_TIMEOUT = 180_000  # ms; two CPU cores shared with other work
PWN = "window.__pwned=1"
EVIL_MD = f"""# Lighthouse keeper reports green lights over Zanzibar

The lighthouse keeper in Zanzibar reported green lights over the harbour <script>{PWN}</script> on Tuesday night.

He said the lights <img src=x onerror="{PWN}"> drifted north before vanishing; see [click](javascript:{PWN}).
"""
EVIL_HTML = f"""<html><head><title>Zanzibar keeper interview</title><script>{PWN}</script></head><body>
<h1>Zanzibar keeper interview</h1>
<p>The Zanzibar lighthouse keeper said the green lights &lt;script&gt;{PWN}&lt;/script&gt; were brighter than stars.</p>
<p>He showed a photo <img src=x onerror="{PWN}"> and a <a href="javascript:{PWN}">link</a> of the harbour lights.</p>
</body></html>
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (`make browser`)"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory, real_embedder, real_generator):
    """The app over a writable copy of the five articles; yields (url, docs folder)."""
    from ui.app import build_app, launch

    root = tmp_path_factory.mktemp("browser")
    docs = root / "articles"
    shutil.copytree(ARTICLES, docs)
    config = Config(docs_dir=str(docs), index_dir=str(root / "index"))
    rag = RAG.build(config=config, embedder=real_embedder, generator=real_generator)
    app = build_app(rag)
    url = launch(app, port=free_port(), block=False, max_file_size=config.max_doc_bytes)
    yield url, docs
    app.close()


@pytest.fixture
def page(browser, site):
    """A fresh browser session that records dialogs and any request leaving the machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.dialogs, page.external = [], []
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: page.external.append(r.url)
            if urlparse(r.url).hostname not in (None, "127.0.0.1", "localhost") and r.url.startswith("http") else None)
    page.goto(site[0])
    page.wait_for_selector("#question textarea")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()


def ask(page, question: str, turn: int) -> None:
    """Type a question and wait until turn number ``turn`` (1-based) holds a verified answer."""
    page.fill("#question textarea", question)
    page.click("#ask")
    page.wait_for_selector(f"#chat .turn:nth-child({turn}) .answer:not(.draft)", timeout=ANSWER_TIMEOUT)


def normalised(text: str) -> str:
    return " ".join(text.split())


def test_streamed_answer_has_a_clickable_citation_and_follow_ups_work(page):
    # Record every provisional draft the page shows while the model writes.
    page.evaluate("""() => { window.__drafts = [];
        new MutationObserver(() => { const d = document.querySelector('#chat .answer.draft .answer-text');
            if (d && d.textContent.trim() && d.textContent.trim() !== '…') window.__drafts.push(d.textContent); })
        .observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true}); }""")
    ask(page, "Who killed Hamedani?", 1)
    assert page.evaluate("window.__drafts.length") > 0, "no provisional draft was shown while streaming"
    answer = page.locator("#chat .turn:nth-child(1) .answer")
    assert "draft" not in (answer.get_attribute("class") or "")  # the draft was replaced by the verified text
    assert not re.search(r"\[\d+\]", answer.locator(".answer-text").evaluate(
        "e => Array.from(e.childNodes).filter(n => n.nodeType === 3).map(n => n.textContent).join('')"))

    passages = page.locator("#sources li.passage")
    assert passages.count() >= 3 and page.locator("#sources li.is-cited").count() >= 1
    scores = [float(s) for s in re.findall(r"score (\d\.\d+)", page.locator("#sources").inner_text())]
    assert scores == sorted(scores, reverse=True)

    page.locator("#chat button.cite").first.click()
    popover = page.locator(".source-pop:popover-open")
    popover.wait_for(state="visible")
    marked = normalised(popover.locator("mark").inner_text())
    sources = {p.stem: normalised(p.read_text(encoding="utf-8")) for p in ARTICLES.glob("*.txt")}
    doc_id = next(d for d, text in sources.items() if marked in text)  # the highlight is real source text
    assert doc_id in popover.inner_text() and len(marked) > 20
    page.screenshot(path=str(ARTIFACTS / "chat_citation.png"))

    page.keyboard.press("Escape")
    page.get_by_text("Settings", exact=True).first.click()
    # Set k = 3 with the keyboard on the slider itself, as a user can: Home, then two steps right.
    # Typing into its number box was lost twice under CI load (the question went out with k=5, or
    # the slider never took the value), so the keys are pressed again until the slider holds 3.
    slider = page.locator("#k input[type=range]")
    slider.wait_for(state="visible")
    for _ in range(5):
        slider.focus()
        for key in ("Home", "ArrowRight", "ArrowRight"):
            slider.press(key)
        if slider.evaluate("e => e.value") == "3":
            break
        page.wait_for_timeout(1_000)
    page.wait_for_function("document.querySelector('#k input[type=range]').value === '3'", timeout=30_000)
    page.wait_for_function("document.querySelector('#k input[type=number]').value === '3'", timeout=30_000)
    ask(page, "What is the capital of France?", 2)
    second = page.locator("#chat .turn:nth-child(2) .answer")
    assert second.locator(".answer-text").inner_text().strip() == ABSTAIN
    assert second.locator(".closest li").count() >= 1
    assert page.locator("#chat .turn").count() == 2  # the first turn is still there
    assert "Closest passages looked at" in page.locator("#sources").inner_text()
    assert page.locator("#sources li.passage").count() == 3  # the k setting was used
    page.screenshot(path=str(ARTIFACTS / "chat_abstention.png"), full_page=True)
    assert not page.external and not page.dialogs


def test_uploaded_markup_is_shown_as_text_and_never_runs(page, site, tmp_path):
    page.get_by_text("Add articles").click()
    upload = page.locator("#upload input[type=file]")
    (tmp_path / "report.docx").write_bytes(b"PK\x03\x04")
    upload.set_input_files(str(tmp_path / "report.docx"))
    page.get_by_text("Invalid file type: report.docx").first.wait_for(timeout=60_000)  # refused by the widget

    (tmp_path / "lighthouse.md").write_text(EVIL_MD, encoding="utf-8")
    (tmp_path / "keeper_interview.html").write_text(EVIL_HTML, encoding="utf-8")
    upload.set_input_files([str(tmp_path / "lighthouse.md"), str(tmp_path / "keeper_interview.html")])
    page.wait_for_selector("#upload-status .upload-ok", timeout=ANSWER_TIMEOUT)
    assert (site[1] / "lighthouse.md").exists()

    ask(page, "What did the Zanzibar lighthouse keeper report about the green lights?", 1)
    sources = page.locator("#sources").inner_text()
    assert f"<script>{PWN}</script>" in sources  # the .md passage, shown literally
    assert "lighthouse" in sources and "keeper_interview" in sources
    if page.locator("#chat button.cite").count():
        page.locator("#chat button.cite").first.click()
        page.locator(".source-pop:popover-open mark").wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "upload_markup.png"), full_page=True)

    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert not page.dialogs
    for region in ("#chat", "#sources"):
        assert page.locator(f"{region} script, {region} img, {region} a[href^='javascript']").count() == 0
    assert not page.external


def test_a_follow_up_is_read_with_the_conversation_and_new_conversation_forgets_it(page):
    ask(page, "Who killed Hamedani?", 1)
    ask(page, "When was he killed?", 2)
    second = page.locator("#chat .turn:nth-child(2)")
    read_as = second.locator(".read-as").inner_text()
    assert "Hamedani" in read_as, read_as
    answer = second.locator(".answer-text").inner_text()  # about his death, not the killers again, and never
    assert "Friday" not in answer and "Thursday" in answer, answer  # the day it was told
    second.locator("button.cite").first.click()  # its citation opens on the passage that says Thursday
    assert "Thursday" in page.locator(".source-pop:popover-open mark").first.inner_text()
    assert "Hamedani" in page.locator("#sources .asked").inner_text()  # the passages panel names the question read
    page.screenshot(path=str(ARTIFACTS / "chat_follow_up.png"), full_page=True)

    page.click("#new-conversation")
    page.wait_for_function("document.querySelectorAll('#chat .turn').length === 0", timeout=30_000)
    ask(page, "When was he killed?", 1)  # nothing to lean on now: the page asks for the names
    assert page.locator("#chat .turn:nth-child(1) .read-as").count() == 0
    assert "ask it with the names" in page.locator("#chat .turn:nth-child(1) .answer-text").inner_text()
    assert not page.external and not page.dialogs
