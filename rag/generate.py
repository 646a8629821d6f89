"""Text generation with llama-cpp-python behind a one-method seam.

``name`` is a packaged model (`rag.models.PACKAGED`: qwen1.5b, qwen0.5b, smollm2, gemma3) or the
path of any GGUF file. The model is loaded on first use and entered by one request at a time.
Models with a chat template get chat messages; the base Gemma gets plain completion.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from . import models
from .errors import ModelError
from .prompts import Prompt

log = logging.getLogger(__name__)

# What the model is asked about a proposed answer (`LlamaGenerator.check`): (system, user) pairs, each answered
# yes or no; the check is the mean of their P(yes). Both share their system message and their user turn's
# opening (the passage and the question), so the second is read on the first's evaluated opening: only what
# follows the question is evaluated twice (README, "The reader's check"). The shared message is the first
# check's own; a message naming both tasks judged worse (fewer right answers at the same abstention).
CHECK_SYSTEM = "You check whether a proposed answer to a question is correct according to a passage from a news article."
CHECKS = (
    (CHECK_SYSTEM,
     "Passage: {passage}\nQuestion: {question}\nProposed answer: {answer}\n"
     "Is the proposed answer correct according to the passage? Reply yes or no."),
    (CHECK_SYSTEM,
     "Passage: {passage}\nQuestion: {question}\nDoes the passage answer this question? Reply yes or no."),
)

# Worked examples each check is shown first, as earlier chat turns (`Config.check_examples`), invented on
# topics the articles do not touch: (passage, question, proposed answer, reply to the first check, to the
# second). They show the two ways a small judge errs: a right answer in other words than its passage's,
# and a true sentence about the question's topic that does not give what is asked (a vague time for a
# date, an unnamed official for a name, another fact about the same person).
CHECK_EXAMPLES = (
    ("The 12 boats their three crews had launched all reached the shore, the coast guard said.",
     "How many crews launched the boats?", "Three crews launched the 12 boats.", "yes", "yes"),
    ("A spokesman for the company said the factory would reopen in the coming weeks.",
     "On which date will the factory reopen?", "The factory will reopen in the coming weeks.", "no", "no"),
    ("The ferry sank near Malta on Monday, and rescuers pulled 40 people from the water.",
     "Where did the ferry go down?", "The ferry sank near Sicily.", "no", "yes"),
    ("An official, who asked not to be named, told the BBC that the talks had collapsed.",
     "Which official told the BBC that the talks had collapsed?", "An official told the BBC.", "no", "no"),
    ("The mayor, who took office in 2019, opened the new bridge over the river on Sunday.",
     "When was the bridge opened?", "The mayor opened it on Sunday.", "yes", "yes"),
    ("The striker, who joined the club in 2019 from a rival team, scored twice in the final.",
     "How much did the club pay for the striker?", "The striker joined the club in 2019.", "no", "no"),
)


def check_shots(which: int) -> tuple[tuple[str, str], ...]:
    """The worked examples of check ``which`` (an index into `CHECKS`) as (user, assistant) turns."""
    _, user = CHECKS[which]
    return tuple((user.format(passage=p, question=q, answer=a), replies[which])
                 for p, q, a, *replies in CHECK_EXAMPLES)


@runtime_checkable
class Generator(Protocol):
    """Streams the model's text for a prompt; ``count_tokens`` measures prompt size."""

    name: str

    def generate(self, prompt: Prompt, max_tokens: int) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


class LlamaGenerator:
    """A GGUF model run by llama.cpp on the CPU; chat template if the model has one.

    The cache keeps the prompt's fixed opening (system message and chat header) between
    prompts, so only the passages and the question are evaluated: the same prompt always
    starts from the same state and gets the same greedy answer.
    """

    _check_ctx = 1024  # tokens of a context `check` reads its examples, a passage, the question and an answer in

    def __init__(self, name: str = models.DEFAULT_LLM, n_ctx: int = 2048, n_threads: int = 2, temperature: float = 0.0,
                 seed: int = 0, cache_dir: str | Path = "~/.cache/rag", lookup_tokens: int = 0,
                 check_examples: bool = False) -> None:
        self.name = name
        self.family = models.family(name)
        self.path = models.resolve(name, cache_dir)
        self.states_dir = Path(cache_dir).expanduser() / "states"  # evaluated openings, kept between processes
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.temperature = temperature
        self.seed = seed
        self.lookup_tokens = lookup_tokens  # prompt-lookup decoding: draft this many tokens from the prompt (0 = off)
        self.check_examples = check_examples  # show each check `CHECK_EXAMPLES` first (off: README, the reader's check)
        self._llm = None
        self._check_llms: dict[tuple, Any] = {}  # a context per check opening, so each keeps it cached
        self._check_marks: dict[int, tuple[int, ...]] = {}  # id(context) -> the batch boundaries of what it holds
        self._check_memo: dict[tuple, float] = {}  # (check, examples, passage, question) -> P(yes), for checks without the answer
        self._formatter = None
        self._openings: dict[tuple, list[int]] = {}  # (system message, examples) -> its opening tokens
        self._main_opening: tuple | None = None  # the opening the main context keeps (the answer prompt's)
        self._side_llm = None  # a second context for any other opening (the rewriter's), so both stay cached
        self._load_lock = threading.Lock()
        self.lock = threading.Lock()  # llama.cpp contexts are not re-entrant

    def load_settings(self) -> dict[str, Any]:
        """The `llama_cpp.Llama` arguments this generator loads its model with (bench reuses them)."""
        settings: dict[str, Any] = dict(model_path=self.path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                        n_threads_batch=self.n_threads, n_batch=512, seed=self.seed, verbose=False)
        if self.lookup_tokens:
            from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

            settings["draft_model"] = LlamaPromptLookupDecoding(num_pred_tokens=self.lookup_tokens)
        return settings

    def sampling(self, max_tokens: int, stops: list[str]) -> dict[str, Any]:
        """The `create_completion` sampling arguments (bench reuses them)."""
        return dict(max_tokens=max_tokens, temperature=self.temperature, top_k=1 if self.temperature == 0 else 40,
                    repeat_penalty=1.1, stop=stops, seed=self.seed)

    @property
    def llm(self):
        with self._load_lock:
            if self._llm is None:
                self._llm = self._load()
                template = self._llm.metadata.get("tokenizer.chat_template")
                if template and self.family != "gemma":
                    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                    vocab = self._llm
                    eos = vocab.detokenize([vocab.token_eos()]).decode("utf-8", "ignore")
                    bos = vocab.detokenize([vocab.token_bos()]).decode("utf-8", "ignore") if vocab.token_bos() >= 0 else ""
                    self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
            return self._llm

    def _load(self, **overrides: Any):
        """A llama.cpp context on this model with `load_settings` (plus ``overrides``); ModelError if it cannot load."""
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError("llama-cpp-python is not installed; run `make setup`.") from None
        try:
            return Llama(**{**self.load_settings(), **overrides})
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(f"Cannot load the model file {self.path}: {exc}") from None

    @property
    def chat(self) -> bool:
        self.llm  # noqa: B018 - loading decides whether there is a template
        return self._formatter is not None

    def render(self, prompt: Prompt) -> tuple[str, list[str]]:
        """The exact text fed to the model, and its stop strings."""
        llm = self.llm
        if self._formatter is not None:
            response = self._formatter(messages=prompt.messages)
            stops = response.stop if isinstance(response.stop, list) else [response.stop] if response.stop else []
            return response.prompt, [s for s in stops if s] + ["\n"]  # one line; EOS ends generation by itself
        del llm
        return prompt.completion, ["\n", "Question:"]

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def tokenize(self, prompt: Prompt) -> tuple[list[int], list[str]]:
        """The prompt's tokens as fed to the model, and its stop strings."""
        text, stops = self.render(prompt)
        return self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True), stops

    def generate(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        tokens, stops = self.tokenize(prompt)
        room = self.n_ctx - max_tokens
        if len(tokens) > room:
            raise ModelError(f"The prompt needs {len(tokens)} tokens but only {room} fit; lower k or passage_tokens.")
        with self.lock:
            llm = self._context(prompt)
            self._restore_opening(llm, prompt, tokens)
            barred = self._barred(prompt.avoid) if getattr(prompt, "avoid", ()) else None
            stream = llm.create_completion(tokens, stream=True, logit_bias=barred, **self.sampling(max_tokens, stops))
            for part in stream:
                piece = part["choices"][0]["text"]
                if piece:
                    yield piece

    def _barred(self, words: tuple[str, ...]) -> dict[int, float]:
        """A logit bias that bars each word, capitalised or not, with or without a leading space. A form
        the tokenizer splits is barred by its first piece: a reply's opening "Passage" is "Pass" + "age"."""
        ids = set()
        for word in words:
            for form in {word, word.lower(), word.capitalize()}:
                for text in (form, " " + form):
                    ids.add(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)[0])
        return {i: -100.0 for i in ids}

    def prime(self, prompt: Prompt) -> None:
        """Evaluate ``prompt``'s fixed opening now, in the context it will use, so its first use does not."""
        tokens, _ = self.tokenize(prompt)
        with self.lock:
            self._restore_opening(self._context(prompt), prompt, tokens)

    def _context(self, prompt: Prompt):
        """The llama.cpp context for this prompt: the main one for the first opening seen (the answer
        prompt's), a second one, sharing the weights, for any other (the rewriter's). Each keeps its own
        opening in its cache, so alternating answers and rewrites re-evaluates neither."""
        fixed = (prompt.system, prompt.shots)
        if self._main_opening is None:
            self._main_opening = fixed
        if fixed == self._main_opening or self._formatter is None:
            return self.llm
        with self._load_lock:
            if self._side_llm is None:
                self._side_llm = self._load(draft_model=None)
            return self._side_llm

    def _restore_opening(self, llm, prompt: Prompt, tokens: list[int]) -> None:
        """Keep only the fixed opening of ``llm``'s cache (evaluated alone, once), or start from an empty one.

        The opening is always evaluated as its own batch, so every prompt that starts with it
        continues from the same state: reuse never changes a greedy answer. A prompt asked once more
        with words barred (``avoid``) right after itself keeps the whole cache: llama.cpp then
        evaluates only its last token, and the second call costs only its reply.
        """
        if getattr(prompt, "avoid", ()) and llm.n_tokens >= len(tokens) and \
                llm.input_ids[:len(tokens) - 1].tolist() == tokens[:-1]:
            return
        opening = self._opening(prompt)
        n = len(opening)
        if n and tokens[:n] == opening:
            if llm.n_tokens >= n and llm.input_ids[:n].tolist() == opening:
                llm.n_tokens = n  # llama.cpp evaluates the rest of the prompt from here
                return
            self._evaluate_opening(llm, opening)
            return
        llm.reset()

    def _evaluate_opening(self, llm, opening: list[int]) -> None:
        """Make ``llm`` hold exactly ``opening``: the state an earlier process saved for it (in
        ``states_dir``), or evaluated as its own batch and saved. The same tokens evaluated the same
        way give the same state, so a loaded opening never changes a greedy answer; it saves
        evaluating the rewriter's worked examples (`RAG.warm` 24.5 s -> 15.0 s here) and the checks'."""
        llm.reset()
        path = self._state_path(llm, opening)
        if path.is_file() and self._load_state(llm, path, opening):
            return
        llm.eval(opening)
        self._save_state(llm, path)

    def _state_path(self, llm, opening: list[int]) -> Path:
        import llama_cpp

        model = Path(self.path)
        stat = model.stat()
        key = json.dumps([model.name, stat.st_size, int(stat.st_mtime), llama_cpp.__version__, llm.n_ctx(),
                          llm.n_batch, opening])
        return self.states_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.state"

    @staticmethod
    def _load_state(llm, path: Path, opening: list[int]) -> bool:
        import ctypes

        import llama_cpp

        data = path.read_bytes()
        buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, buffer, len(data)) != len(data):
            log.warning("ignoring the unreadable saved model state %s", path)
            llm.reset()
            return False
        llm.input_ids[:len(opening)] = opening
        llm.n_tokens = len(opening)
        return True

    @staticmethod
    def _save_state(llm, path: Path) -> None:
        """Write ``llm``'s state to ``path`` atomically; a cache that cannot be written is only a warning."""
        import ctypes

        import llama_cpp

        size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llm._ctx.ctx, buffer, size)
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_bytes(bytes(buffer)[:written])
            os.replace(part, path)
        except OSError as exc:
            part.unlink(missing_ok=True)
            log.warning("cannot keep the evaluated prompt opening in %s: %s", path.parent, exc)

    def _opening(self, prompt: Prompt) -> list[int]:
        """The tokens every chat prompt with this system message and these examples starts with (minus one,
        for safe joins)."""
        if self._formatter is None:
            return []
        fixed = (prompt.system, prompt.shots)
        if fixed not in self._openings:
            text, _ = self.render(Prompt(prompt.system, "\x00", (), prompt.shots))
            tokens = self.llm.tokenize(text[:text.index("\x00")].encode("utf-8"), add_bos=True, special=True)[:-1]
            self._openings = {**dict(list(self._openings.items())[-7:]), fixed: tokens}  # bounded: a few openings
        return self._openings[fixed]

    def check(self, question: str, passage: str, answer: str) -> float:
        """The model's reading of a proposed answer: the mean P(yes) to "Is the proposed answer correct
        according to the passage?" and "Does the passage answer this question?" (`CHECKS`), each after
        worked examples (`CHECK_EXAMPLES`) when ``check_examples`` is on.

        Both questions are asked in one context of their own (sharing the loaded weights) that keeps their
        system message evaluated; the passage and the question are evaluated once, as one batch, and each
        question's own ending after them, one token each. The answer to the second, which does not see the
        proposed answer, is remembered for a few (passage, question) pairs: asking about the passage's own
        sentence next (the requote) costs only the first. A model reads better than it writes: its draft may be
        a true sentence about something near the question, held word for word by the passage; asked afresh,
        it tells the passage that answers from the one that is only about the same thing (README: "The
        reader's check").
        """
        if not self.chat:
            return 1.0  # a base model has no chat turn to ask in
        passage = " ".join(passage.split())
        prompts = self.check_prompts(question, passage, answer)
        tokens = [self.tokenize(prompt)[0] for prompt in prompts]
        values = []
        for which, prompt in enumerate(prompts):
            memo = None if "{answer}" in CHECKS[which][1] else (which, self.check_examples, passage, question)
            if memo in self._check_memo:
                values.append(self._check_memo[memo])
                continue
            shared = [_common(tokens[which], other) for other, p in zip(tokens, prompts)
                      if other is not tokens[which] and (p.system, p.shots) == (prompt.system, prompt.shots)]
            value = self._yes(prompt, tokens[which], max(shared, default=0))
            if memo is not None:
                self._check_memo = {**dict(list(self._check_memo.items())[-63:]), memo: value}  # bounded
            values.append(value)
        return sum(values) / len(values)

    def check_prompts(self, question: str, passage: str, answer: str) -> list[Prompt]:
        """The prompts of every check in `CHECKS` for this question, passage (whitespace as given) and answer."""
        return [self.check_prompt(i, user.format(passage=passage, question=question, answer=answer))
                for i, (_, user) in enumerate(CHECKS)]

    def check_prompt(self, which: int, user: str) -> Prompt:
        """Check ``which`` for its formatted ``user`` turn, after its worked examples when they are on."""
        return Prompt(CHECKS[which][0], user, (), check_shots(which) if self.check_examples else ())

    def prime_checks(self) -> None:
        """Evaluate each check's system message and examples now, in its context, so the first check does not."""
        if self.chat:
            for which in range(len(CHECKS)):
                prompt = self.check_prompt(which, "warm up")
                self._yes(prompt, self.tokenize(prompt)[0], 0)

    def _yes(self, prompt: Prompt, tokens: list[int], shared: int) -> float:
        """P(yes) against P(no) for the first token of the reply to a check's ``prompt`` (its ``tokens``).

        The tokens are evaluated in the same batches whatever the context held before: the system message and
        examples (kept, or loaded once per process at most), the first ``shared`` tokens (the passage and
        question the other check shares; kept if the context holds them from a check of the same batches),
        then the rest. So a check's figure never depends on which check came before it.
        """
        import numpy as np

        llm = self._checker(prompt)
        if len(tokens) >= self._check_ctx:  # a very long passage: keep the instructions, cut the examples' room
            tokens, shared = self.tokenize(replace(prompt, shots=()))[0][-(self._check_ctx - 1):], 0
        opening = self._opening(prompt)
        start = len(opening) if opening and tokens[:len(opening)] == opening else 0
        marks = sorted({m for m in (start, shared) if 0 < m < len(tokens) and m >= start})  # batch boundaries
        with self.lock:
            held = llm.input_ids[:llm.n_tokens].tolist()
            if start and held[:start] != opening:
                self._evaluate_opening(llm, opening)  # the system message and examples, once per process at most
                held, self._check_marks[id(llm)] = opening, (start,)
            same = _common(held, tokens)
            kept = max((m for m in marks if m <= same and m in self._check_marks.get(id(llm), ())), default=0)
            llm.n_tokens = kept
            for end in [m for m in marks if m > kept] + [len(tokens)]:
                llm.eval(tokens[llm.n_tokens:end])
            self._check_marks[id(llm)] = tuple(marks)
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
        yes, no = self._answer_ids(llm)
        top = max(logits[yes].max(), logits[no].max())
        p_yes, p_no = np.exp(logits[yes] - top).sum(), np.exp(logits[no] - top).sum()
        return float(p_yes / (p_yes + p_no))

    def _checker(self, prompt: Prompt):
        """The context for checks with this system message and these examples (one for both, when they share them)."""
        with self._load_lock:
            fixed = (prompt.system, prompt.shots)
            if fixed not in self._check_llms:
                self._check_llms[fixed] = self._load(n_ctx=self._check_ctx, n_batch=512, draft_model=None)
            return self._check_llms[fixed]

    @staticmethod
    def _answer_ids(llm) -> tuple[list[int], list[int]]:
        def ids(words: tuple[str, ...]) -> list[int]:
            return sorted({llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words})

        return ids(("yes", "Yes", " yes", " Yes")), ids(("no", "No", " no", " No"))


def _common(a: list[int], b: list[int]) -> int:
    """The length of the longest common prefix of two token lists."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
