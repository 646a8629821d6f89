"""The chat page: `build_app(rag)` wires the library into Gradio, `serve(config)` opens it.

Each browser session keeps its own conversation in `gr.State`, so answers never mix between
users. Every event that enters the LLM (the chat and the `/ask` API) shares one concurrency
group of size one: a second request waits in Gradio's queue and its page says so.
All text from documents and the model is escaped by `ui.render` before it reaches the page.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read by gradio: no telemetry, no version check

import gradio as gr  # noqa: E402

from rag import PACKAGED_LLMS, RAG, Answer, Config, ConfigError, IndexMissingError, RagError  # noqa: E402
from ui import render  # noqa: E402

log = logging.getLogger(__name__)

LLM_GROUP = "llm"  # concurrency id shared by every event that runs the model
INDEX_GROUP = "index"  # uploads re-index one at a time
MAX_K = 50  # the most passages Config allows
# System fonts: the page needs nothing from the network and reads like the rest of the desktop.
FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
EXAMPLES = ["Who killed Hamedani?", "Where did the Russian cruise missiles crash?",
            "How many sorties did Russian aircraft carry out?"]


class ChatPage:
    """The page's behaviour, independent of the widgets: each method is one event handler."""

    def __init__(self, rag: RAG) -> None:
        self.rag = rag

    def llm_choices(self) -> list[str]:
        configured = self.rag.config.llm
        return list(PACKAGED_LLMS) + ([configured] if configured not in PACKAGED_LLMS else [])

    def _llm(self, choice: str | None) -> str | None:
        """None means the configured model (and the generator passed to RAG, if any)."""
        if choice and choice not in self.llm_choices():  # the page offers a fixed list; never load a path from a request
            raise ConfigError(f"There is no model called {choice!r}; choose one of {', '.join(self.llm_choices())}.")
        return None if not choice or choice == self.rag.config.llm else choice

    # -- the /ask API --------------------------------------------------------------------------
    def ask(self, question: str) -> dict[str, Any]:
        """Answer one question; returns the JSON contract of `Answer.to_dict()`."""
        try:
            return self.rag.ask(question).to_dict()
        except RagError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    # -- the chat --------------------------------------------------------------------------------
    def start(self, question: str, turns: list[str]) -> tuple[Any, ...]:
        """Show the question at once (with a waiting note) and lock the input until it is answered."""
        if not question or not question.strip():
            return gr.skip(), gr.skip(), None, gr.skip()
        question = question.strip()
        shown = render.chat_html(turns + [render.turn_html(question, render.waiting_html())])
        return shown, gr.update(value="", interactive=False), question, gr.update(interactive=False)

    def answer(self, question: str | None, turns: list[str], k: float, llm: str | None) -> Iterator[tuple[Any, ...]]:
        """Stream the draft as provisional text, then replace it with the verified answer."""
        if question is None:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        turn, draft, final = len(turns), "", None
        try:
            for piece in self.rag.stream(question, k=min(max(int(k), 1), MAX_K), llm=self._llm(llm)):
                if isinstance(piece, Answer):
                    final = piece
                    continue
                draft += piece
                yield render.chat_html(turns + [render.turn_html(question, render.draft_html(draft))]), gr.skip(), gr.skip()
        except RagError as exc:
            body, sources = render.error_html(str(exc)), gr.skip()
        else:
            assert final is not None  # RAG.stream always ends with the Answer
            titles = self.rag.documents()
            body = render.answer_html(final, self.rag.context, titles, turn, llm or self.rag.config.llm)
            sources = render.sources_html(final, titles)
        turns = turns + [render.turn_html(question, body)]
        yield render.chat_html(turns), sources, turns

    # -- uploads ---------------------------------------------------------------------------------
    def add(self, files: list[str] | None, progress: gr.Progress | None = None) -> tuple[Any, ...]:
        """Index uploaded files; refusals and failures become a message on the page."""
        if not files:
            return gr.skip(), gr.skip(), gr.skip()

        def report(done: int, total: int, what: str) -> None:
            if progress is not None:
                progress((done, total), desc=f"Indexing: {what}")

        names = [Path(f).name for f in files]
        try:
            result = self.rag.add_documents([Path(f) for f in files], progress=report)
        except RagError as exc:
            return render.upload_error_html(str(exc)), gr.skip(), None
        return render.report_html(names, result), render.library_html(self.rag.documents()), None

    def library(self) -> str:
        return render.library_html(self.rag.documents())


def build_app(rag: RAG) -> gr.Blocks:
    """The chat page over ``rag``. Building it loads no model; the first question does."""
    page = ChatPage(rag)
    with gr.Blocks(title="rag: ask the news articles", analytics_enabled=False) as app:
        # CSS travels with the Blocks (gradio 6 only takes css= at launch).
        gr.HTML(f"<style>{render.CSS}</style>", js_on_load=None, apply_default_css=False, elem_id="rag-style")
        turns = gr.State([])  # this session's finished turns, as HTML
        pending = gr.State(None)  # the question waiting for the model
        gr.Markdown("## Ask the news articles\nAnswers come only from the indexed articles, with their sources.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=360):
                chat = gr.HTML(render.chat_html([]), elem_id="chat", js_on_load=None, autoscroll=True,
                               min_height=320, max_height=640, container=True, padding=True)
                with gr.Row(equal_height=True):
                    question = gr.Textbox(show_label=False, placeholder="Ask a question about the articles…",
                                          elem_id="question", scale=5, max_lines=4, autofocus=True)
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=80)
                gr.Examples(EXAMPLES, inputs=question, label="Try")
            with gr.Column(scale=2, min_width=300):
                sources = gr.HTML(render.sources_html(None, {}), elem_id="sources", js_on_load=None,
                                  container=True, padding=True, max_height=560)
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, min(MAX_K, max(20, rag.config.k)), value=rag.config.k, step=1,
                                  label="Passages to retrieve (k)", elem_id="k")
                    llm = gr.Radio(page.llm_choices(), value=rag.config.llm, label="Model that answers", elem_id="llm")
                with gr.Accordion("Add articles", open=False):
                    files = gr.File(label="Upload .txt, .md, .html or .pdf files", file_count="multiple", type="filepath",
                                    height=140, elem_id="upload")
                    upload_status = gr.HTML("", js_on_load=None, elem_id="upload-status")
                library = gr.HTML(page.library(), js_on_load=None, elem_id="library")

        started = gr.on([question.submit, ask.click], page.start, inputs=[question, turns],
                        outputs=[chat, question, pending, ask], queue=False, api_visibility="private")
        started.then(page.answer, inputs=[pending, turns, k, llm], outputs=[chat, sources, turns],
                     concurrency_id=LLM_GROUP, concurrency_limit=1, show_progress="full", api_visibility="private"
                     ).then(lambda: (gr.update(interactive=True), gr.update(interactive=True), None),
                            outputs=[question, ask, pending], queue=False, api_visibility="private")

        def add(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            return page.add(files, progress)

        files.upload(add, inputs=files, outputs=[upload_status, library, files], concurrency_id=INDEX_GROUP,
                     concurrency_limit=1, show_progress="full", api_visibility="private")
        app.load(page.library, outputs=library, queue=False, show_progress="hidden", api_visibility="private")

        def ask_api(question: str) -> dict:
            """Answer a question about the articles; returns the answer, its citations and the passages."""
            return page.ask(question)

        gr.api(ask_api, api_name="ask", concurrency_id=LLM_GROUP, concurrency_limit=1)
    app.queue(default_concurrency_limit=1)
    return app


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           block: bool = True, max_file_size: int | None = None) -> str:
    """Start the server (loopback unless told; never a share link); returns the local URL.

    With ``block`` it serves until Ctrl-C, which closes the server.
    """
    _, url, _ = app.launch(server_name=host, server_port=port, auth=auth, share=False, prevent_thread_lock=True,
                           show_error=False, quiet=True, footer_links=["api", "settings"], run_history=False,
                           enable_monitoring=False, max_file_size=max_file_size, ssr_mode=False,
                           theme=gr.themes.Default(font=FONTS, font_mono=MONO))
    if block:
        print(f"rag: chat page at {url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
        app.block_thread()
    return url


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    """'user:pass' -> ('user', 'pass'); the password may contain colons."""
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("--auth must look like user:password, with both parts non-empty.")
    return user, password


def open_rag(config: Config, embedder: Any = None) -> RAG:
    """Open the index, building it from config.docs_dir first if there is none (embedder: the RAG.open seam)."""
    try:
        return RAG.open(config=config, embedder=embedder)
    except IndexMissingError:
        log.warning("no index at %s; building it from %s", config.index_dir, config.docs_dir)
        return RAG.build(config=config, embedder=embedder)


def serve(config: Config, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None) -> int:
    """Open the chat page and serve it until interrupted; the exit status for `rag serve`."""
    credentials = parse_auth(auth)
    rag = open_rag(config)
    threading.Thread(target=warm, args=(rag,), name="rag-warm", daemon=True).start()
    launch(build_app(rag), host, port, credentials, block=True, max_file_size=config.max_doc_bytes)
    return 0


def warm(rag: RAG) -> None:
    """Load the models while the page opens, so that the first question does not wait for them.

    A model that cannot load is reported here and again, as one sentence, to whoever asks.
    """
    try:
        rag.warm()
    except RagError as exc:
        log.warning("%s", exc)
