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
from .errors import DocumentError, RagError


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


def _ask_one(rag, question: str, args: argparse.Namespace) -> int:
    from .types import Answer

    if args.json:
        answer = rag.ask(question, args.k)
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return 0
    from rich.live import Live
    from rich.text import Text

    console = _console()
    answer = None
    draft = ""
    with Live(Text(""), console=console, transient=True, refresh_per_second=12) as live:
        for piece in rag.stream(question, args.k):
            if isinstance(piece, Answer):
                answer = piece
            else:
                draft += piece
                live.update(Text(draft + " …", style="dim"))
    _print_answer(answer, console)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from .pipeline import RAG, clean_question

    config = _config(args)
    if args.question is not None:
        clean_question(args.question, config.max_question_chars)  # refuse bad input before loading anything
    rag = RAG.open(config=config)
    if args.question:
        return _ask_one(rag, args.question, args)
    console = _console()
    console.print("Ask about the articles (empty line or Ctrl-D to quit).")
    while True:
        try:
            question = input("? ")
        except EOFError:
            return 0
        if not question.strip():
            return 0
        try:
            _ask_one(rag, question, args)
        except RagError as exc:
            _console(stderr=True).print(f"error: {exc}", markup=False)
        console.print()


def cmd_eval(args: argparse.Namespace) -> int:
    from .evaluate import run_eval

    return run_eval(args, _config(args))


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from ui.app import serve
    except ImportError as exc:
        raise RagError(f"The chat page cannot start ({exc}); run `make setup`.") from None
    return serve(_config(args), host=args.host, port=args.port, auth=args.auth)


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
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("eval", help="score the gold questions")
    s.add_argument("--questions", default="eval_questions.yaml")
    s.add_argument("--index")
    s.add_argument("-k", type=int)
    s.add_argument("--llm")
    s.add_argument("--json", dest="json_out", metavar="OUT", help="write one record per question")
    s.add_argument("--report", metavar="OUT.html", help="write a self-contained HTML report")
    s.add_argument("--retrieval-only", action="store_true", help="skip the LLM, score retrieval")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("serve", help="open the chat page")
    s.add_argument("--index")
    s.add_argument("--docs")
    s.add_argument("--llm")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=7860)
    s.add_argument("--auth", help="user:password required to open the page")
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
