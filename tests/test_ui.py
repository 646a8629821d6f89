"""The chat page: escaping helpers and handlers with fakes, then the `/ask` API over the real models."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag import ABSTAIN, RAG, Answer, Chunk, Citation, Config, ConfigError, Hit

from .conftest import KNOWN_ANSWERS, EchoGenerator, article, free_port, heavy_after, is_span, names_one_of

gr = pytest.importorskip("gradio")
from gradio_client import Client  # noqa: E402

from ui import render  # noqa: E402
from ui.app import ChatPage, build_app, launch, open_rag, parse_auth  # noqa: E402

EVIL = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> [click](javascript:window.__pwned=1)'
IS = re.compile(r"\bIS\b|ISIS|ISIL|Islamic State|Daesh", re.I)


# -- rendering ---------------------------------------------------------------------------------
def test_answer_markers_become_buttons_and_everything_else_is_text():
    out = render.answer_text_html(f"{EVIL} said “[infidel] terrorists” [1].", {"1": "src-0-1"})
    assert "<script" not in out and "<img" not in out and "href" not in out
    assert "&lt;script&gt;" in out and "[infidel]" in out  # brackets that are not issued keys stay text
    assert out.count("<button") == 1 and 'popovertarget="src-0-1"' in out


def test_context_marks_the_cited_span_of_plain_and_html_sources():
    plain = "Intro. <b>Killed</b> by ISIS & co. Outro."
    chunks = [Chunk("d:0-6", "d", plain[:6], 0, 6, "Intro."),
              Chunk("d:7-34", "d", plain[7:34], 7, 34, " ".join(plain[7:34].split())),
              Chunk("d:35-41", "d", plain[35:], 35, 41, "Outro.")]
    out = render.context_html(Citation("1", "d", 7, 34, plain[7:34]), chunks)
    assert "<mark>&lt;b&gt;Killed&lt;/b&gt; by ISIS &amp; co.</mark>" in out  # literal tags in a .txt stay visible
    assert out.index("Intro.") < out.index("<mark>") < out.index("Outro.")

    raw = '<p>Killed by <b>ISIS</b> &amp; <img src=x onerror="window.__pwned=1">co.</p>'
    html_chunk = Chunk("h:0-80", "h", raw, 0, len(raw), "Killed by ISIS & co.")
    out = render.context_html(Citation("1", "h", 0, len(raw), raw), [html_chunk], markup=True)
    assert out == "<p><mark>Killed by ISIS &amp; co.</mark></p>"  # tags dropped, entity shown once escaped


def test_the_document_kind_decides_whether_tags_are_markup(corpus, tmp_path, fake_embedder):
    (corpus / "zebra.html").write_text("<p>The zebra parade was held in <b>Lisbon</b> on Sunday &amp; Monday.</p>",
                                       encoding="utf-8")
    (corpus / "okapi.txt").write_text("The okapi parade was held in <b>Porto</b> on Sunday &amp; Monday.\n",
                                      encoding="utf-8")
    rag = RAG.build(corpus, tmp_path / "index", embedder=fake_embedder)
    assert rag.is_markup("zebra") and not rag.is_markup("okapi") and not rag.is_markup("no-such-document")
    shown = {}
    for doc_id in ("zebra", "okapi"):
        chunk = next(h.chunk for h in rag.retrieve(f"Where was the {doc_id} parade held?") if h.chunk.doc_id == doc_id)
        citation = Citation("1", doc_id, chunk.start, chunk.end, chunk.text)
        answer = Answer("Where?", "It was there [1].", False, (citation,), (Hit(chunk, 0.5),))
        shown[doc_id] = render.answer_html(answer, rag.context, rag.documents(), 0, markup=rag.is_markup)
    assert "<mark>The zebra parade was held in Lisbon on Sunday &amp; Monday.</mark>" in shown["zebra"]
    assert "held in &lt;b&gt;Porto&lt;/b&gt; on Sunday &amp;amp; Monday.</mark>" in shown["okapi"]


def test_sources_list_passages_best_first_with_scores_and_escape_them():
    hits = tuple(Hit(Chunk(f"d{i}:0-9", f"d{i}", EVIL, 0, 9), score) for i, score in enumerate([0.3, 0.2, 0.1]))
    answer = Answer("q <i>", "It did [2].", False, (Citation("2", "d1", 0, 9, EVIL),), hits)
    out = render.sources_html(answer, {"d0": "<b>Title</b>"})
    assert "<script" not in out and "<img" not in out and "<i>" not in out and "<b>Title" not in out
    assert [m.group(1) for m in re.finditer(r"class=\"num\">score (0\.\d+)", out)] == ["0.300", "0.200", "0.100"]
    assert out.count("cited [2]") == 1 and "&lt;b&gt;Title&lt;/b&gt;" in out


def test_abstention_reads_the_sentence_and_lists_the_closest_passages():
    hits = tuple(Hit(Chunk(f"d:{i}-9", "d", f"passage {i}", i, 9), 0.1) for i in range(5))
    out = render.answer_html(Answer("q", ABSTAIN, True, (), hits, mode="abstained"), lambda *a: [], {}, 0)
    assert ABSTAIN in out and "Closest passages looked at" in out
    assert out.count("<li>") == render.CLOSEST and "<button" not in out


def test_a_misspelt_question_shows_how_it_was_read_escaped():
    answer = Answer("who kiled <b>", ABSTAIN, True, (), (), mode="abstained", read_as="who killed <b>")
    out = render.answer_html(answer, lambda *a: [], {}, 0)
    assert "Read as: <em>who killed &lt;b&gt;</em>" in out
    assert "for “who killed &lt;b&gt;”" in render.sources_html(answer, {})  # the passages were found for that
    assert "Read as" not in render.answer_html(Answer("q", ABSTAIN, True, (), (), mode="abstained"), lambda *a: [], {}, 0)


def test_parse_auth():
    assert parse_auth("me:pa:ss") == ("me", "pa:ss") and parse_auth(None) is None
    with pytest.raises(ConfigError, match="user:password"):
        parse_auth("nopassword")


def test_bad_auth_is_refused_before_anything_loads(tmp_path):
    from ui.app import serve

    with pytest.raises(ConfigError, match="user:password"):
        serve(Config(index_dir=str(tmp_path / "none")), auth="just-a-name")
    assert not (tmp_path / "none").exists()


def test_importing_the_app_loads_no_model():
    assert heavy_after("ui.app", ["torch", "llama_cpp", "sentence_transformers"]) == []


# -- the handlers, with fakes ---------------------------------------------------------------------
@pytest.fixture
def fake_rag(corpus, tmp_path, fake_embedder) -> RAG:
    config = Config(docs_dir=str(corpus), index_dir=str(tmp_path / "index"))
    generator = EchoGenerator(f"Hamedani was killed by ISIS extremists [1]. {EVIL}")
    return RAG.build(config=config, embedder=fake_embedder, generator=generator)


def test_chat_streams_a_provisional_draft_then_the_verified_answer(fake_rag):
    page = ChatPage(fake_rag)
    steps = list(page.answer("Who killed Hamedani?", [], 5, fake_rag.config.llm))
    drafts, (chat, sources, turns, history) = steps[:-1], steps[-1]
    assert len(drafts) > 3 and all('class="answer draft"' in d[0] for d in drafts)
    assert "<img" not in "".join(d[0] for d in drafts)  # the unverified draft is escaped too
    assert len(turns) == 1 and "draft" not in chat and "ISIS" in chat
    assert re.search(r'<button class="cite" popovertarget="src-0-\d+"', chat)
    assert re.search(r"<mark>[^<]*killed by ISIS", chat)  # the popover shows the source in place
    assert "Passages looked at" in sources and sources.count('<li class="passage') == 5
    # A follow-up keeps the first turn and gives its citations ids of their own.
    *_, (chat2, _, turns2, history2) = page.answer("Who killed General Hamedani?", turns, 5, None, history)
    assert len(turns2) == 2 and turns2[0] == turns[0] and "src-1-" in chat2
    assert [h["question"] for h in history2] == ["Who killed Hamedani?", "Who killed General Hamedani?"]
    chat3, sources3, turns3, history3 = page.new_conversation()
    assert turns3 == [] and history3 == [] and "Who killed" not in chat3


def test_a_citation_of_an_html_article_shows_its_text_not_its_tags(corpus, tmp_path, fake_embedder):
    article = corpus / "000_9b77c177f7e2b0b1.txt"
    paragraphs = article.read_text(encoding="utf-8").replace("killed by ISIS", "killed by <b>ISIS</b>").split("\n\n")
    article.with_suffix(".html").write_text("".join(f"<p>{p}</p>\n" for p in paragraphs), encoding="utf-8")
    article.unlink()
    generator = EchoGenerator("Hamedani was killed by ISIS extremists [1].")
    rag = RAG.build(corpus, tmp_path / "index", embedder=fake_embedder, generator=generator)
    *_, (chat, _, _, _) = ChatPage(rag).answer("Who killed Hamedani?", [], 5, None)
    assert re.search(r"<mark>[^<]*killed by ISIS extremists", chat) and "&lt;b&gt;" not in chat


def test_chat_shows_library_errors_as_a_sentence(fake_rag):
    *_, (chat, sources, turns, _) = ChatPage(fake_rag).answer("why " * 1000, [], 5, None)
    assert 'role="alert"' in chat and "limit is 2,000" in chat and "Traceback" not in chat
    assert sources == gr.skip() and len(turns) == 1


def test_chat_refuses_a_model_the_page_does_not_offer(fake_rag):
    *_, (chat, _, _, _) = ChatPage(fake_rag).answer("Who killed Hamedani?", [], 5, "/etc/passwd")
    assert 'role="alert"' in chat and "no model called" in chat and "smollm2, gemma3" in chat


def test_upload_refuses_other_types_and_makes_text_citable(fake_rag, tmp_path):
    page = ChatPage(fake_rag)
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    status, library, files = page.add([str(tmp_path / "notes.docx")])
    assert "notes.docx is not a .txt, .md, .html or .pdf file" in status and files is None
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4")
    status, library, files = page.add([str(tmp_path / "scan.pdf")])
    assert "Skipped scan.pdf: it is not a readable PDF" in status and files is None
    new = tmp_path / "zebra.md"
    new.write_text("# Zebra parade\n\nThe zebra parade was held in Lisbon on Sunday.\n", encoding="utf-8")
    seen = []
    status, library, _ = page.add([str(new)], lambda value, desc=None: seen.append((value, desc)))
    assert "Indexed zebra.md" in status and "6 articles indexed" in library and seen
    assert fake_rag.retrieve("Where was the zebra parade held?")[0].chunk.doc_id == "zebra"


def test_api_handler_returns_the_json_contract_and_refuses_empty_questions(fake_rag):
    page = ChatPage(fake_rag)
    data = page.ask("Who killed Hamedani?")
    assert {"question", "answer", "abstained", "citations", "passages", "timings"} <= set(data)
    with pytest.raises(gr.Error, match="empty"):
        page.ask("   ")


def test_missing_index_is_built_before_serving(corpus, tmp_path, fake_embedder):
    rag = open_rag(Config(docs_dir=str(corpus), index_dir=str(tmp_path / "new-index")), embedder=fake_embedder)
    assert len(rag.documents()) == 5


class SlowGenerator:
    """Counts how many requests are inside the model at once."""

    name = "slow"

    def __init__(self) -> None:
        self.active = self.most = 0
        self.guard = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt, max_tokens: int):
        with self.guard:
            self.active += 1
            self.most = max(self.most, self.active)
        try:
            for word in prompt.user.split()[-6:]:  # echoes the question's tail, so answers are tellable apart
                time.sleep(0.05)
                yield word + " "
        finally:
            with self.guard:
                self.active -= 1


def test_the_queue_lets_one_request_into_the_model_at_a_time(corpus, tmp_path, fake_embedder):
    generator = SlowGenerator()
    rag = RAG.build(corpus, tmp_path / "index", embedder=fake_embedder, generator=generator,
                    relevance=0.0)  # the fake embedder's cosines are low: let every question reach the model
    app = build_app(rag)
    url = launch(app, port=free_port(), block=False)
    try:
        questions = [f"Where did the missiles crash, case {i}?" for i in range(4)]
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda q: Client(url, verbose=False).predict(q, api_name="/ask"), questions))
    finally:
        app.close()
    assert [r["question"] for r in results] == questions
    assert generator.most == 1


def test_auth_protects_the_page_and_the_api(fake_rag):
    import httpx

    app = build_app(fake_rag)
    url = launch(app, port=free_port(), auth=("me", "secret"), block=False)
    try:
        assert httpx.get(url + "config").status_code == 401
        assert httpx.post(url + "gradio_api/call/ask", json={"data": ["Who killed Hamedani?"]}).status_code == 401
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises a plain error on a refused login
            Client(url, auth=("me", "wrong"), verbose=False)
        data = Client(url, auth=("me", "secret"), verbose=False).predict("Who killed Hamedani?", api_name="/ask")
    finally:
        app.close()
    assert data["question"] == "Who killed Hamedani?"


# -- the real models over HTTP ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_url(real_rag):
    from ui.gate import Gate

    app = build_app(real_rag, gate=Gate(len(KNOWN_ANSWERS)))  # every user of the concurrency test waits in line
    url = launch(app, port=free_port(), block=False)
    yield url
    app.close()


def ask(url: str, question: str) -> dict:
    return Client(url, verbose=False).predict(question, api_name="/ask")


@pytest.mark.slow
def test_api_answers_with_a_verified_citation(real_url):
    data = ask(real_url, "Who killed Hamedani?")
    assert not data["abstained"] and data["citations"]
    assert IS.search(data["answer"]), data["answer"]
    assert any(re.search(r"killed by (ISIS|IS|ISIL|Islamic State)", c["text"]) for c in data["citations"]), data
    for c in data["citations"]:
        assert is_span(article(c["doc_id"]), c), c


@pytest.mark.slow
def test_api_abstains_when_the_articles_do_not_say(real_url):
    data = ask(real_url, "What is the capital of France?")
    assert data["abstained"] and data["answer"] == ABSTAIN and not data["citations"] and data["passages"]


@pytest.mark.slow
def test_the_chat_can_switch_to_the_other_packaged_model(real_rag):
    other = "gemma3" if real_rag.config.llm != "gemma3" else "smollm2"
    *_, (chat, sources, _, _) = ChatPage(real_rag).answer("Where did the Russian cruise missiles crash?", [], 3, other)
    assert f"· {other}</div>" in chat and "Iran" in chat and 'role="alert"' not in chat
    assert sources.count('<li class="passage') == 3


@pytest.mark.slow
def test_concurrent_users_each_get_the_answer_to_their_own_question(real_url):
    questions = list(KNOWN_ANSWERS)  # each with its own user, all at once; Hamedani has its own test above
    with ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(lambda q: ask(real_url, q), questions))
    for question, data in zip(questions, results, strict=True):
        aliases = KNOWN_ANSWERS[question]
        assert data["question"] == question
        if aliases is None:
            assert data["abstained"], data
        else:
            assert not data["abstained"] and data["citations"] and names_one_of(data["answer"], aliases), data

