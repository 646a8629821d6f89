"""`rag index | ask | eval | serve`: the command line owns the console, the library logs.

A RagError becomes one sentence on stderr and exit status 1; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import Config
from .documents import TYPES
from .errors import DocumentError, EvalError, QuestionError, RagError

QUESTIONS = "eval_questions.yaml"
DIALOGUES = "eval_dialogues.yaml"


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _config(args: argparse.Namespace, **extra: Any) -> Config:
    overrides = {
        "docs_dir": getattr(args, "docs", None), "index_dir": getattr(args, "index", None),
        "k": getattr(args, "k", None), "llm": getattr(args, "llm", None), **extra,
    }
    return Config.load(overrides)


def _progress_bar(description: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                    TimeElapsedColumn(), console=_console(stderr=True), transient=False)


def cmd_index(args: argparse.Namespace) -> int:
    from .embed import SentenceTransformerEmbedder
    from .indexing import build_index

    config = _config(args)
    if not Path(config.docs_dir).is_dir():
        raise DocumentError(f"The documents folder {config.docs_dir} does not exist; pass --docs DIR.")
    embedder = SentenceTransformerEmbedder(config.embedder, config.embed_batch, config.n_threads)
    with _progress_bar("indexing") as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what[:40])

        report = build_index(config, embedder, rebuild=args.rebuild, progress=progress)
    state = "written" if report.written else "unchanged, nothing written"
    _console().print(
        f"{config.index_dir}: {report.documents} documents, {report.chunks} passages ({state}); "
        f"added {len(report.added)}, changed {len(report.changed)}, removed {len(report.removed)}, "
        f"unchanged {report.unchanged}; embedded {report.embedded} passages.", markup=False
    )
    return 0


def _print_answer(answer, console) -> None:
    from rich.markup import escape

    from .documents import file_of

    style = "italic" if answer.abstained else "bold"
    if answer.read_as:
        console.print(f"[dim]Read as: {escape(answer.read_as)}[/]")
    console.print(f"[{style}]{escape(answer.text)}[/]")
    if answer.citations:
        console.print("\nSources:")
        for c in answer.citations:
            where = f"{c.doc_id} ({c.start}-{c.end})" if c.page is None else f"{file_of(c.doc_id)}.pdf, page {c.page} ({c.start}-{c.end})"
            console.print(f"  [{escape(c.key)}] {escape(where)}: “{escape(' '.join(c.text.split()))}”")
    elif answer.abstained and answer.hits:
        console.print("\nClosest passages looked at:")
        for h in answer.hits[:3]:
            console.print(f"  {escape(h.chunk.doc_id)}: “{escape(h.chunk.readable[:160])}”")


def _ask_one(rag, question: str, args: argparse.Namespace, history: list | None = None):
    """Answer one question, streaming the draft, and print it; returns the Answer."""
    from .types import Answer

    if args.json:
        answer = rag.ask(question, args.k, history=history)
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return answer
    from rich.live import Live
    from rich.text import Text

    console = _console()
    answer = None
    draft = ""
    with Live(Text(""), console=console, transient=True, refresh_per_second=12) as live:
        for piece in rag.stream(question, args.k, history=history):
            if isinstance(piece, Answer):
                answer = piece
            else:
                draft += piece
                live.update(Text(draft + " …", style="dim"))
    _print_answer(answer, console)
    return answer


def read_history(path: str) -> list[dict]:
    """The earlier turns in a file of `rag ask --json` outputs: one object, a list, or objects one after another."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionError(f"The history file {path} cannot be read: {getattr(exc, 'strerror', None) or exc}.") from None
    decoder, turns, at = json.JSONDecoder(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        try:
            value, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError:
            raise QuestionError(f"The history file {path} is not a series of `rag ask --json` outputs.") from None
        turns.extend(value if isinstance(value, list) else [value])
    return turns


def cmd_ask(args: argparse.Namespace) -> int:
    from .conversation import turns
    from .pipeline import RAG, clean_question

    config = _config(args)
    history = read_history(args.history) if args.history else []
    turns(history)  # refuse a malformed history before loading anything
    if args.question is not None:
        clean_question(args.question, config.max_question_chars)  # refuse bad input before loading anything
    rag = RAG.open(config=config)
    if args.question:
        _ask_one(rag, args.question, args, history)
        return 0
    console = _console()
    console.print("Ask about the articles; follow-up questions continue the conversation "
                  "(/new starts a new one; empty line or Ctrl-D quits).")
    while True:
        try:
            question = input("? ")
        except EOFError:
            return 0
        if not question.strip():
            return 0
        if question.strip() == "/new":
            history = []
            console.print("New conversation.")
            continue
        try:
            history = [*history, _ask_one(rag, question, args, history)][-10:]  # only the last turns are read
        except RagError as exc:
            _console(stderr=True).print(f"error: {exc}", markup=False)
        console.print()


def cmd_eval(args: argparse.Namespace) -> int:
    """Score the gold questions with a progress bar, print the summary table, write --json and --report."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from .evaluate import evaluate, load_dialogues, load_questions, rewritten_standalone, summary_table
    from .pipeline import RAG
    from .report import SHORT, cell, columns, write_report

    config = _config(args)
    questions = load_questions(args.questions) if args.questions else []
    dialogues = args.dialogues
    if dialogues is None:  # the gold conversations go with the gold questions, not with a file of one's own
        dialogues = DIALOGUES if args.questions == QUESTIONS and Path(DIALOGUES).is_file() else ""
    if dialogues and not args.retrieval_only:
        questions += load_dialogues(dialogues)
    if not questions:
        raise EvalError("Nothing to evaluate: give --questions FILE, --dialogues FILE or both.")
    rag = RAG.open(config=config)
    if not args.retrieval_only:
        rag.warm(args.llm)  # load the models once, before timing
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("evaluating", total=len(questions))
        results = evaluate(rag, questions, args.k, args.llm, args.retrieval_only,
                           lambda done, total, what: bar.update(task, completed=done, description=f"evaluating {what}"))
    table = summary_table(results)
    view = Table(title=f"rag eval: {args.questions} (k={args.k or config.k}, llm={args.llm or config.llm}"
                 + (", retrieval only" if args.retrieval_only else "") + ")")
    shown = columns(table)
    view.add_column("type")
    for c in shown:
        view.add_column(SHORT[c], justify="right")
    for kind, row in table.items():
        view.add_row(kind, *[cell(row, c) for c in shown])
    console = Console(width=max(Console().width, 130))
    console.print(view)
    if not args.retrieval_only:
        changed = rewritten_standalone(rag, [q for q in questions if not q.history])
        console.print(f"Standalone gold questions rewritten after an unrelated earlier turn: {len(changed)}",
                      markup=False)
        for question, read in changed:
            console.print(f"  {question} -> {read}", markup=False)
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=1))
    if args.report:
        write_report(args.report, table, results, title=str(args.questions))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from ui.app import serve
    except ImportError as exc:
        raise RagError(f"The chat page cannot start ({exc}); run `make setup`.") from None
    return serve(_config(args), host=args.host, port=args.port, auth=args.auth, auth_file=args.auth_file,
                 writers=args.writers, allow_uploads=args.allow_uploads)


_SERVING = """Serving to others (README: "Serving to others"):
  --host other than loopback (127.0.0.0/8, ::1) needs --auth or --auth-file, or rag refuses to start.
  Nobody may add articles unless --allow-uploads (all who may open the page) or --writers names them.
  One question in flight per session; at most {c.max_waiting} more wait behind the one being answered
  (RAG_MAX_WAITING), later ones are told "busy, try again in a moment".
  Uploads: {types} files only, {c.max_doc_bytes:,} bytes each (RAG_MAX_DOC_BYTES), {c.max_upload_files} at once
  (RAG_MAX_UPLOAD_FILES), {c.max_corpus_bytes:,} bytes of documents in all (RAG_MAX_CORPUS_BYTES).
  {c.login_failures} wrong logins from one address within {c.login_window_s:g} s (RAG_LOGIN_FAILURES,
  RAG_LOGIN_WINDOW_S) refuse its logins for {c.login_lockout_s:g} s (RAG_LOGIN_LOCKOUT_S).
  Passwords are never logged; failed logins are, with the user name and address."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Cited answers over a folder of news articles, offline.")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the pipeline does")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", help="build or update the index")
    s.add_argument("--docs", help="documents folder (default data/articles)")
    s.add_argument("--index", help="index folder (default index)")
    s.add_argument("--rebuild", action="store_true", help="re-embed everything")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("ask", help="answer a question with citations (no question: interactive)")
    s.add_argument("question", nargs="?")
    s.add_argument("--index")
    s.add_argument("-k", type=int, help="passages to retrieve")
    s.add_argument("--llm", help="smollm2, gemma3 or a .gguf path")
    s.add_argument("--json", action="store_true", help="print the JSON contract")
    s.add_argument("--history", metavar="FILE", help="earlier turns of the conversation: a file of `--json` outputs")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("eval", help="score the gold questions")
    s.add_argument("--questions", default=QUESTIONS, help="gold questions ('' for none)")
    s.add_argument("--index")
    s.add_argument("-k", type=int)
    s.add_argument("--llm")
    s.add_argument("--json", dest="json_out", metavar="OUT", help="write one record per question")
    s.add_argument("--report", metavar="OUT.html", help="write a self-contained HTML report")
    s.add_argument("--retrieval-only", action="store_true", help="skip the LLM, score retrieval")
    s.add_argument("--dialogues", metavar="FILE",
                   help=f"gold conversations whose last turns are scored as 'follow-ups' (default: {DIALOGUES} with "
                        "the default --questions; '' for none)")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser(
        "serve", help="open the chat page", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Open the chat page (and its /ask API).",
        epilog=_SERVING.format(c=Config(), types=TYPES))
    s.add_argument("--index")
    s.add_argument("--docs")
    s.add_argument("--llm")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--auth", metavar="USER:PASSWORD", help="an account required to open the page (shows in ps; "
                   "prefer --auth-file)")
    s.add_argument("--auth-file", metavar="FILE", help="accounts, one user:password a line (# comments allowed)")
    uploads = s.add_mutually_exclusive_group()
    uploads.add_argument("--writers", metavar="USER,USER", help="the accounts that may add articles")
    uploads.add_argument("--allow-uploads", action="store_true", help="everyone who may open the page may add articles")
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="rag: %(levelname)s: %(message)s")
    for noisy in ("bm25s", "sentence_transformers", "transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.func(args)
    except RagError as exc:
        print(f"rag: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
