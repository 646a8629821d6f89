"""The facade: `RAG.open(index)` or `RAG.build(docs, index)`, then `ask` or `stream`.

Models are built lazily from the config unless an embedder or generator is passed in (the
seams tests use). One RAG object is safe to share between threads: the LLM is entered by one
request at a time and the index is swapped, never edited in place.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import conversation
from .config import Config
from .documents import file_of, is_markup, iter_paths
from .embed import Embedder, SentenceTransformerEmbedder
from .errors import QuestionError
from .generate import Generator, LlamaGenerator
from .indexing import IndexReport, Progress, build_index, plan_upload
from .prompts import ABSTAIN, build_prompt, insist
from .retrieve import Retriever
from .spelling import Speller
from .stores import Store, open_store
from .text import lemmas, tokens
from .types import Answer, Chunk, Hit, Timings, page_of
from .verify import Rules, dated_first, idf_table, marks_only, verify

log = logging.getLogger(__name__)

# Generation and indexing in one process take turns: on two cores, running both at once slows
# each down several times over, so an upload waits for the answer in progress and vice versa.
_CPU_WORK = threading.Lock()
REWRITE_TOKENS = 48  # a rewritten follow-up is one question


class RAG:
    """Question answering over an index, with verified citations."""

    def __init__(self, store: Store, config: Config, embedder: Embedder, generator: Generator | None = None) -> None:
        self.config = config
        self.embedder = embedder
        self._generator = generator
        self._generators: dict[str, Generator] = {}
        self._swap = threading.Lock()
        self._use(store)

    # -- construction -------------------------------------------------------------------
    @classmethod
    def open(cls, index_dir: str | Path | None = None, config: Config | None = None, *, embedder: Embedder | None = None,
             generator: Generator | None = None, **overrides: Any) -> RAG:
        """Load an existing index; raises IndexMissingError and friends with a sentence to show."""
        config = _config(config, index_dir=index_dir, **overrides)
        embedder = embedder or SentenceTransformerEmbedder(config.embedder, config.embed_batch, config.n_threads)
        store = open_store(config, embedder.name, embedder.dim)
        return cls(store, config, embedder, generator)

    @classmethod
    def build(cls, docs_dir: str | Path | None = None, index_dir: str | Path | None = None, config: Config | None = None,
              *, embedder: Embedder | None = None, generator: Generator | None = None, rebuild: bool = False,
              progress: Progress | None = None, **overrides: Any) -> RAG:
        """Build or update the index from a folder of documents, then open it."""
        config = _config(config, docs_dir=docs_dir, index_dir=index_dir, **overrides)
        embedder = embedder or SentenceTransformerEmbedder(config.embedder, config.embed_batch, config.n_threads)
        build_index(config, embedder, rebuild=rebuild, progress=progress)
        return cls.open(config=config, embedder=embedder, generator=generator)

    def _use(self, store: Store) -> None:
        retriever = Retriever(store, self.embedder, self.config)
        titles = {doc_id: info.get("title", "") for doc_id, info in store.manifest.documents.items()}
        markup = frozenset(doc_id for doc_id, info in store.manifest.documents.items() if is_markup(info.get("path", "")))
        self.rules = Rules.of(self.config)
        words = [tokens(c.readable) for c in store.chunks]
        idf, default = idf_table([set(lemmas(c.readable)) for c in store.chunks])
        speller = Speller(words)
        with self._swap:
            self.store, self.retriever, self.titles, self._idf = store, retriever, titles, (idf, default)
            self._markup = markup
            self.speller = speller

    def add_documents(self, files: list[str | Path], progress: Progress | None = None) -> IndexReport:
        """Copy files into the documents folder and index them without re-embedding the rest.

        Every file is checked before any is copied (`rag.indexing.plan_upload`): a refusal
        (type, name, count or total size) raises DocumentError and adds nothing; a file the index
        would not hold (empty, binary, a scanned or locked PDF ...) is left out and named in ``skipped``. The folder ends up holding only what
        the index holds: if indexing fails, the copies are removed again. ``files`` in the
        report names the given files that the index now holds.
        """
        upload = plan_upload(self.config, [Path(f) for f in files])
        copied = []
        try:
            for source, target in upload.copies:
                if source.resolve() != target.resolve() and not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
                    copied.append(target)
            if upload.copies:
                with _CPU_WORK:
                    report = build_index(self.config, self.embedder, iter_paths(self.config.docs_dir), progress=progress)
                self.reload()
            else:
                report = IndexReport(len(self.titles), len(self.store.chunks))
        except BaseException:
            for target in copied:
                target.unlink(missing_ok=True)
            raise
        held = {(file_of(doc_id), info.get("path")) for doc_id, info in self.store.manifest.documents.items()}
        kept = tuple(t for _, t in upload.copies if (t.stem, str(t)) in held)  # a PDF is held as its pages
        lost = [t for t in copied if t not in kept]  # checked as indexable, yet not indexed: not kept either
        for target in lost:
            target.unlink(missing_ok=True)
        skipped = upload.skipped + tuple(f"Skipped {t.name}: it could not be indexed." for t in lost)
        return replace(report, skipped=skipped, files=tuple(t.name for t in kept))

    def reload(self) -> None:
        """Pick up the live index version (after `rag index` or an upload)."""
        self._use(open_store(self.config, self.embedder.name, self.embedder.dim))

    # -- models -----------------------------------------------------------------------------
    def generator(self, llm: str | None = None) -> Generator:
        """The LLM for ``llm`` (default: the configured one), loaded once and kept."""
        if self._generator is not None and llm is None:
            return self._generator
        name = llm or self.config.llm
        with self._swap:
            if name not in self._generators:
                self._generators[name] = LlamaGenerator(name, self.config.n_ctx, self.config.n_threads,
                                                        self.config.temperature, self.config.seed, self.config.cache_dir,
                                                        self.config.lookup_tokens, self.config.check_examples)
            return self._generators[name]

    def warm(self, llm: str | None = None) -> None:
        """Load the embedder and the LLM now, and evaluate the fixed openings of the answer, the rewriter and
        the reader's checks (or load them as saved by an earlier process), so that neither the first
        question nor the first follow-up waits for them."""
        self.embedder.embed(["warm up"])
        generator = self.generator(llm)
        generator.count_tokens("warm up")
        prime = getattr(generator, "prime", None)
        if prime:  # the answer prompt's opening first (the main context keeps it), then the rewriter's
            prime(build_prompt("warm up", [], self.config.passage_tokens, generator.count_tokens,
                               getattr(generator, "family", "qwen")))
            prime(conversation.rewrite_prompt("warm up", []))
        if self.config.check and hasattr(generator, "prime_checks"):
            generator.prime_checks()

    # -- questions ----------------------------------------------------------------------------
    def check_question(self, question: str) -> str:
        return clean_question(question, self.config.max_question_chars)

    def check_history(self, history: Any) -> None:
        """QuestionError, in one sentence, unless ``history`` is None or a list of earlier turns."""
        conversation.turns(history)

    def read(self, question: str) -> str:
        """The question as it will be answered: cleaned, and misspelt words read as the articles'."""
        question = self.check_question(question)
        return self.speller.correct(question) if self.config.spelling else question

    def retrieve(self, question: str, k: int | None = None) -> list[Hit]:
        """The passages that would be shown to the model, best first."""
        return self.retriever.retrieve(self.read(question), k or self.config.k)

    def ask(self, question: str, k: int | None = None, llm: str | None = None,
            history: Sequence[Answer | Mapping[str, Any]] | None = None) -> Answer:
        """Answer with verified citations, a quotation, or "The articles do not say.".

        ``history`` is the conversation so far, oldest first (earlier Answers or their dicts): a
        follow-up such as "When was he killed?" is answered as the question it stands for.
        """
        answer = None
        for piece in self.stream(question, k, llm, history):
            if isinstance(piece, Answer):
                answer = piece
        assert answer is not None  # stream always ends with an Answer
        return answer

    def standalone(self, question: str, history: Sequence[Answer | Mapping[str, Any]] | None,
                   llm: str | None = None) -> str:
        """The question as it will be answered: spelling read as the articles', a follow-up rewritten
        to stand alone (`rag.conversation`); no model call unless the question leans on the history."""
        earlier = conversation.turns(history)
        question = self.read(question)
        if not earlier or not conversation.needs_context(question):
            return question
        generator, prompt = self.generator(llm), conversation.rewrite_prompt(question, earlier)
        with _CPU_WORK:
            draft = "".join(generator.generate(prompt, REWRITE_TOKENS))
            if conversation.echoes(question, draft):  # asked once more, its references barred (if it has any)
                again = conversation.insist(prompt, question)
                if again.avoid:
                    draft = "".join(generator.generate(again, REWRITE_TOKENS))
        rewritten = conversation.accept(question, draft, earlier)
        log.info("follow-up %r -> %r (%s)", question, draft, "kept" if rewritten else "discarded")
        if rewritten:
            return rewritten
        # a fragment is read after the question it follows ("Who controls the east? And the west?"), else as typed
        return conversation.joined(question, earlier) if conversation.fragment(question) else question

    def stream(self, question: str, k: int | None = None, llm: str | None = None,
               history: Sequence[Answer | Mapping[str, Any]] | None = None) -> Iterator[str | Answer]:
        """Yield the model's draft text as it is generated, then the verified Answer last.

        The draft is unverified; show it as provisional and replace it with the final Answer.
        When no passage bears on the question at all, the model is not run and only the Answer
        is yielded.
        """
        started = time.perf_counter()
        asked = self.check_question(question)
        earlier = conversation.turns(history)
        question = self.standalone(asked, history, llm)
        rewritten = time.perf_counter()
        if not earlier and conversation.needs_context(question, alone=True):  # "When was he killed?" as a first question
            timings = Timings(rewrite_ms=(rewritten - started) * 1000, total_ms=(rewritten - started) * 1000)
            yield Answer(asked, conversation.UNRESOLVED, True, (), (), timings, mode="abstained",
                         read_as=question if question != asked else "")
            return
        cited_before = {d for turn in earlier[-1:] for d in turn.doc_ids}
        retriever, (idf, default_idf), rules = self.retriever, self._idf, self.rules
        k = k or self.config.k
        pool = retriever.retrieve(question, max(k, self.config.candidates), prefer=cited_before)
        pool = dated_first(question, pool)  # "When ...?": the passages that state a time are shown first
        hits, more = pool[:k], pool[k:]  # the model sees k; the rest is searched for disagreeing figures
        retrieved = time.perf_counter()
        draft, first_token, n_tokens, prompt_tokens = "", 0.0, 0, 0
        verdict = verify(question, "", hits, idf, default_idf, rules, more)  # what the evidence alone supports
        if not verdict.abstained or any(h.dense >= rules.relevance for h in hits):  # else nothing bears on it
            generator = self.generator(llm)
            prompt = build_prompt(question, hits, self.config.passage_tokens, generator.count_tokens,
                                  getattr(generator, "family", "qwen"))
            with _CPU_WORK:
                for piece in generator.generate(prompt, self.config.max_tokens):
                    if not n_tokens:
                        first_token = time.perf_counter()
                    n_tokens += 1
                    draft += piece
                    yield piece
            if marks_only(draft) and getattr(generator, "family", "qwen") != "gemma":
                # the reader named a passage and no answer: asked once more, barred from naming one (not streamed)
                with _CPU_WORK:
                    draft = "".join(generator.generate(insist(prompt), self.config.max_tokens))
            prompt_tokens = generator.count_tokens(_rendered(generator, prompt))
            reader = getattr(generator, "check", None) if rules.check > 0 else None
            with _CPU_WORK:
                verdict = verify(question, draft, hits, idf, default_idf, rules, more,
                                 reader and (lambda passage, answer: reader(question, passage, answer)))
        generated = time.perf_counter()
        log.debug("draft=%r verdict=%s", draft, verdict.mode)
        timings = Timings(
            rewrite_ms=(rewritten - started) * 1000, retrieve_ms=(retrieved - rewritten) * 1000, generate_ms=(generated - retrieved) * 1000,
            total_ms=(time.perf_counter() - started) * 1000, prompt_tokens=prompt_tokens, completion_tokens=n_tokens,
            first_token_ms=((first_token or generated) - started) * 1000,
        )
        cited = {(c.doc_id, c.start, c.end) for c in verdict.citations}
        shown = hits + [h for h in more if (h.chunk.doc_id, h.chunk.start, h.chunk.end) in cited][:1]
        yield Answer(asked, verdict.text, verdict.abstained, verdict.citations, tuple(shown), timings,
                     verdict.conflict, verdict.mode, draft, question if question != asked else "")

    # -- for the chat page -------------------------------------------------------------------
    def documents(self) -> dict[str, str]:
        """doc_id -> title for every indexed document."""
        return dict(self.titles)

    def is_markup(self, doc_id: str) -> bool:
        """True if the document is HTML, so its chunks' raw text holds tags (decided by its file's suffix)."""
        return doc_id in self._markup

    def context(self, doc_id: str, start: int, end: int, window: int = 1) -> list[Chunk]:
        """The chunk at (doc_id, start, end) with its neighbours, for showing a citation in place.

        A PDF page ("report#p3") is short and is shown whole: every passage of the page.
        """
        page = self.store.chunks[slice(*_rows(self.store, doc_id))]
        for chunk in page:
            if chunk.start <= start and end <= chunk.end:
                return list(page) if page_of(doc_id) else self.store.neighbours(chunk, window)
        return []


def clean_question(question: str, limit: int) -> str:
    """The question with control characters and terminal escapes removed; QuestionError if unusable.

    "Who\x00 killed\x1b[31m him?" -> "Who killed him?"
    """
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, not {'null' if question is None else type(question).__name__}.")
    if not question.strip():
        raise QuestionError("The question is empty; type a question about the articles.")
    if len(question) > limit:
        raise QuestionError(
            f"The question is {len(question):,} characters long; the limit is {limit:,} (setting max_question_chars)."
        )
    question = re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]", " ", question)  # terminal escape sequences
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in question).split())
    if not cleaned:
        raise QuestionError("The question has no printable text; type a question about the articles.")
    return cleaned


def _rows(store: Store, doc_id: str) -> tuple[int, int]:
    rows = store.rows_by_doc.get(doc_id, range(0))
    return rows.start, rows.stop


def _rendered(generator: Generator, prompt) -> str:
    render = getattr(generator, "render", None)
    return render(prompt)[0] if render else prompt.system + "\n" + prompt.user


def _config(config: Config | None, **overrides: Any) -> Config:
    base = config or Config.load()
    values = {k: str(v) if isinstance(v, Path) else v for k, v in overrides.items() if v is not None}
    return base.with_values(values) if values else base


__all__ = ["ABSTAIN", "RAG"]
