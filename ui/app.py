"""The chat page: `build_app(rag, access)` wires the library into Gradio, `serve(config)` opens it.

Each browser session keeps its own conversation in `gr.State`, so answers never mix between
users. Every question (the chat and the `/ask` API) passes one `ui.gate.Gate`: one question in
flight per session, at most ``max_waiting`` in line behind the one being answered, the rest told
"busy" at once; a waiting page shows its place in line. Who may log in and who may add articles
is `ui.access.Access`; `ui.access.Guard` enforces both in front of Gradio's own routes.
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
# Gradio keeps a record of its last N events and rebuilds a pandas summary of them after every event,
# monitoring page or not (default N = 10,000): memory and time per event grew with uptime under load.
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "100")
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "100")  # ... and rebuild it every 100 events, not each one

import gradio as gr  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from rag import (  # noqa: E402
    DOCUMENT_SUFFIXES,
    DOCUMENT_TYPES,
    MAX_K,
    PACKAGED_LLMS,
    RAG,
    Answer,
    Config,
    ConfigError,
    IndexMissingError,
    RagError,
)
from ui import render  # noqa: E402
from ui.access import LOCAL, READER_REFUSED, Access, Guard, Logins, check_exposure, discard  # noqa: E402
from ui.access import parse_auth as parse_auth  # noqa: E402 - kept importable from here
from ui.access import upload_folder as gradio_upload_folder  # noqa: E402
from ui.gate import Gate  # noqa: E402

log = logging.getLogger(__name__)

LLM_GROUP = "llm"  # concurrency id of the events that run the model; the Gate, not Gradio, lets one in at a time
INDEX_GROUP = "index"  # uploads re-index one at a time
HISTORY_KEPT = 10  # a session's earlier answers kept for follow-ups (the library reads the last few)
GRADIO_QUEUE = 64  # a backstop on Gradio's own queue (uploads wait there); questions are bounded by the Gate
WAIT_POLL_S = 0.5  # how often a waiting page's place in line is refreshed
UPLOADS_KEPT_S = 3600  # uploads never handed to the page (sent to /gradio_api/upload only) are deleted after this
# System fonts: the page needs nothing from the network and reads like the rest of the desktop.
FONTS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
EXAMPLES = ["Who killed Hamedani?", "Where did the Russian cruise missiles crash?",
            "How many sorties did Russian aircraft carry out?"]


class ChatPage:
    """The page's behaviour, independent of the widgets: each method is one event handler."""

    def __init__(self, rag: RAG, access: Access = LOCAL, gate: Gate | None = None) -> None:
        self.rag = rag
        self.access = access
        self.gate = gate if gate is not None else Gate(rag.config.max_waiting)
        self.upload_folder = gradio_upload_folder()

    def llm_choices(self) -> list[str]:
        configured = self.rag.config.llm
        return list(PACKAGED_LLMS) + ([configured] if configured not in PACKAGED_LLMS else [])

    def _llm(self, choice: str | None) -> str | None:
        """None means the configured model (and the generator passed to RAG, if any)."""
        if choice and choice not in self.llm_choices():  # the page offers a fixed list; never load a path from a request
            raise ConfigError(f"There is no model called {choice!r}; choose one of {', '.join(self.llm_choices())}.")
        return None if not choice or choice == self.rag.config.llm else choice

    # -- the /ask API --------------------------------------------------------------------------
    def check_api(self, question: Any, history: Any = None) -> None:
        """The one place /ask's arguments are checked, before the question takes a place in line."""
        self.rag.check_question(question)
        self.rag.check_history(history)

    def ask(self, question: Any, history: Any = None, request: gr.Request | None = None) -> dict[str, Any]:
        """Answer one question, after the client's earlier turns if given; returns `Answer.to_dict()`."""
        try:
            self.check_api(question, history)
            with self.gate.enter(_session(request)) as ticket:
                ticket.wait()
                return self.rag.ask(question, history=history or None).to_dict()
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

    def answer(self, question: str | None, turns: list[str], k: float, llm: str | None,
               history: list[dict] | None = None, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Wait for the model (showing the place in line), stream the draft, then the verified answer.

        ``history`` is this session's conversation (earlier answers as dicts): a follow-up is read
        as the question it stands for, and the page says how it was read.
        """
        history = list(history or [])
        if question is None:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        turn, draft, final = len(turns), "", None
        try:
            with self.gate.enter(_session(request)) as ticket:
                shown = None
                while not ticket.wait(WAIT_POLL_S):
                    if (ahead := ticket.ahead()) != shown:
                        shown = ahead
                        waiting = render.turn_html(question, render.waiting_html(ahead))
                        yield render.chat_html(turns + [waiting]), gr.skip(), gr.skip(), gr.skip()
                    else:  # no change to show, but a point at which Gradio can stop the handler of a closed page
                        yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
                for piece in self.rag.stream(question, k=min(max(int(k), 1), MAX_K), llm=self._llm(llm),
                                             history=history):
                    if isinstance(piece, Answer):
                        final = piece
                        continue
                    draft += piece
                    yield (render.chat_html(turns + [render.turn_html(question, render.draft_html(draft))]), gr.skip(),
                           gr.skip(), gr.skip())
        except RagError as exc:
            body, sources = render.error_html(str(exc)), gr.skip()
        else:
            assert final is not None  # RAG.stream always ends with the Answer
            titles = self.rag.documents()
            body = render.answer_html(final, self.rag.context, titles, turn, llm or self.rag.config.llm,
                                      self.rag.is_markup)
            sources = render.sources_html(final, titles)
            history = (history + [final.to_dict()])[-HISTORY_KEPT:]
        turns = turns + [render.turn_html(question, body)]
        yield render.chat_html(turns), sources, turns, history

    def new_conversation(self) -> tuple[Any, ...]:
        """Forget this session's conversation: the chat, its sources and the history follow-ups lean on."""
        return render.chat_html([]), render.sources_html(None, {}), [], []

    # -- uploads ---------------------------------------------------------------------------------
    def add(self, files: list[str] | None, progress: gr.Progress | None = None,
            request: gr.Request | None = None) -> tuple[Any, ...]:
        """Index uploaded files; refusals and skipped files become a message on the page.

        Gradio's temporary copies are deleted once the files are indexed or refused.
        """
        if not files:
            return gr.skip(), gr.skip(), gr.skip()

        def report(done: int, total: int, what: str) -> None:
            if progress is not None:
                progress((done, total), desc=f"Indexing: {what}")

        try:
            if not self.access.may_write(_user(request)):
                return render.upload_error_html(READER_REFUSED), gr.skip(), None
            result = self.rag.add_documents([Path(f) for f in files], progress=report)
        except RagError as exc:
            return render.upload_error_html(str(exc)), gr.skip(), None
        finally:
            discard(files, self.upload_folder)
        return render.report_html(result), render.library_html(self.rag.documents()), None

    def library(self) -> str:
        return render.library_html(self.rag.documents())

    def load(self, request: gr.Request | None = None) -> tuple[str, Any]:
        """On opening the page: the library, and the upload control only for those who may add articles."""
        return self.library(), gr.update(visible=self.access.may_write(_user(request)))


def _session(request: gr.Request | None) -> object:
    """Whom "one question at a time" counts by: the browser tab or API client (each has a session)."""
    session = getattr(request, "session_hash", None)
    return session if session else object()


def _user(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None)


def build_app(rag: RAG, access: Access = LOCAL, gate: Gate | None = None) -> gr.Blocks:
    """The chat page over ``rag``. Building it loads no model; the first question does.

    ``access`` says who may log in and who may add articles; the default is one person on this
    machine (no login, uploads on), which `launch` serves on loopback only.
    """
    page = ChatPage(rag, access, gate)
    with gr.Blocks(title="rag: ask the news articles", analytics_enabled=False,
                   delete_cache=(UPLOADS_KEPT_S // 6, UPLOADS_KEPT_S)) as app:
        # CSS travels with the Blocks (gradio 6 only takes css= at launch).
        gr.HTML(f"<style>{render.CSS}</style>", js_on_load=None, apply_default_css=False, elem_id="rag-style")
        turns = gr.State([])  # this session's finished turns, as HTML
        history = gr.State([])  # this session's conversation, as Answer dicts: what follow-ups lean on
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
                with gr.Row():
                    gr.Examples(EXAMPLES, inputs=question, label="Try")
                    fresh = gr.Button("New conversation", variant="secondary", size="sm", elem_id="new-conversation",
                                      scale=0, min_width=160)
            with gr.Column(scale=2, min_width=300):
                sources = gr.HTML(render.sources_html(None, {}), elem_id="sources", js_on_load=None,
                                  container=True, padding=True, max_height=560)
                with gr.Accordion("Settings", open=False):
                    k = gr.Slider(1, min(MAX_K, max(20, rag.config.k)), value=rag.config.k, step=1,
                                  label="Passages to retrieve (k)", elem_id="k")
                    llm = gr.Radio(page.llm_choices(), value=rag.config.llm, label="Model that answers", elem_id="llm")
                # Shown on load to those who may add articles; a reader never sees it, and Guard and
                # ChatPage.add refuse their uploads anyway.
                with gr.Accordion("Add articles", open=False, visible=access.anyone_writes,
                                  elem_id="add-articles") as adder:
                    files = gr.File(label=f"Upload {DOCUMENT_TYPES} files", file_count="multiple", type="filepath",
                                    file_types=list(DOCUMENT_SUFFIXES), height=140, elem_id="upload")
                    upload_status = gr.HTML("", js_on_load=None, elem_id="upload-status")
                library = gr.HTML(page.library(), js_on_load=None, elem_id="library")

        started = gr.on([question.submit, ask.click], page.start, inputs=[question, turns],
                        outputs=[chat, question, pending, ask], queue=False, api_visibility="private")
        started.then(page.answer, inputs=[pending, turns, k, llm, history], outputs=[chat, sources, turns, history],
                     concurrency_id=LLM_GROUP, concurrency_limit=None, show_progress="minimal",
                     api_visibility="private"
                     ).then(lambda: (gr.update(interactive=True), gr.update(interactive=True), None),
                            outputs=[question, ask, pending], queue=False, api_visibility="private")

        def add(files: list[str] | None, request: gr.Request,
                progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            return page.add(files, progress, request)

        files.upload(add, inputs=files, outputs=[upload_status, library, files], concurrency_id=INDEX_GROUP,
                     concurrency_limit=1, show_progress="full", api_visibility="private")
        app.load(page.load, outputs=[library, adder], queue=False, show_progress="hidden", api_visibility="private")

        fresh.click(page.new_conversation, outputs=[chat, sources, turns, history], queue=False,
                    api_visibility="private")

        def ask_api(question: str, history: list | None = None, request: gr.Request = None) -> dict:  # noqa: RUF013
            """Answer a question about the articles; returns the answer, its citations and the passages.

            ``history``: the earlier turns of this client's conversation, oldest first (the dicts /ask
            returned, or at least their question and answer), so that a follow-up is understood.
            """
            return page.ask(question, history, request)

        gr.api(ask_api, api_name="ask", concurrency_id=LLM_GROUP, concurrency_limit=None)
    app.queue(default_concurrency_limit=1, max_size=GRADIO_QUEUE)
    app.rag_page = page  # for launch: the access and limits the page was built with
    return app


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, auth: tuple[str, str] | None = None,
           block: bool = True, max_file_size: int | None = None) -> str:
    """Start the server (loopback unless told; never a share link); returns the local URL.

    The accounts are the app's `Access` plus ``auth``. Any address but loopback needs accounts.
    With ``block`` it serves until Ctrl-C, which closes the server.
    """
    page: ChatPage = app.rag_page
    access = page.access if auth is None else page.access.with_account(*auth)
    check_exposure(host, access)
    config = page.rag.config
    logins = Logins.of(config, access.accounts) if access.accounts else None
    guard = Middleware(Guard, access=access, logins=logins, max_files=config.max_upload_files,
                       upload_folder=page.upload_folder)
    _, url, _ = app.launch(server_name=host, server_port=port, auth=logins.check if logins else None,
                           auth_message="Log in to ask the news articles." if logins else None,
                           share=False, prevent_thread_lock=True,
                           show_error=False, quiet=True, footer_links=["api", "settings"], run_history=False,
                           enable_monitoring=False, max_file_size=max_file_size, ssr_mode=False,
                           app_kwargs={"middleware": [guard]}, theme=gr.themes.Default(font=FONTS, font_mono=MONO))
    if block:
        print(f"rag: chat page at {url} (Ctrl-C stops it)", file=sys.stderr, flush=True)
        app.block_thread()
    return url


def open_rag(config: Config, embedder: Any = None) -> RAG:
    """Open the index, building it from config.docs_dir first if there is none (embedder: the RAG.open seam)."""
    try:
        return RAG.open(config=config, embedder=embedder)
    except IndexMissingError:
        log.warning("no index at %s; building it from %s", config.index_dir, config.docs_dir)
        return RAG.build(config=config, embedder=embedder)


def serve(config: Config, host: str = "127.0.0.1", port: int = 7860, auth: str | None = None,
          auth_file: str | None = None, writers: str | None = None, allow_uploads: bool = False) -> int:
    """Open the chat page and serve it until interrupted; the exit status for `rag serve`.

    Bad accounts, or an address beyond loopback without any, are refused before anything loads.
    """
    access = Access.from_options(auth, auth_file, writers, allow_uploads)
    check_exposure(host, access)
    rag = open_rag(config)
    threading.Thread(target=warm, args=(rag,), name="rag-warm", daemon=True).start()
    launch(build_app(rag, access), host, port, block=True, max_file_size=config.max_doc_bytes)
    return 0


def warm(rag: RAG) -> None:
    """Load the models while the page opens, so that the first question does not wait for them.

    A model that cannot load is reported here and again, as one sentence, to whoever asks.
    """
    try:
        rag.warm()
    except RagError as exc:
        log.warning("%s", exc)
