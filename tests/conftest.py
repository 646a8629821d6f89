"""Shared fixtures: tiny deterministic fakes for the seams, the real models (session-wide), and checks.

Also the questions whose answers over the five articles are known, and the check that a span
(chunk, citation, or either as JSON) is exactly the text it claims to be at its offsets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rag.text import content_words

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Chosen by running candidates through `real_rag.ask` three times in different orders (first with smollm2,
# kept when the default reader became qwen1.5b): each was right every time. An answer must contain one alias; None means it must abstain.
KNOWN_ANSWERS: dict[str, tuple[str, ...] | None] = {
    "Who is John Kerry's Russian counterpart?": ("Sergei Lavrov", "Lavrov"),
    "Which Russian defense minister told Putin that all 26 missiles hit their targets?": ("Sergey Shoigu", "Shoigu"),
    "Who is the Pentagon spokesman quoted about the train-and-equip programme?": ("Peter Cook", "Cook"),
    "On which day did the missiles land in Iran, according to the US official?": ("Wednesday",),
    "From which sea was the warship that fired the cruise missiles operating?": ("Caspian Sea", "Caspian"),
    "How many Islamic State targets did the Russian air strikes hit, according to the headline?": ("55",),
    "How many sorties did Russian aircraft fly in the last 24 hours?": ("88",),
    "Which monitoring group reported the Russian air strikes in western Syria on Saturday?":
        ("Syrian Observatory", "Observatory", "Human Rights"),
    "What is the capital of France?": None,
    "Who won the 2018 FIFA World Cup?": None,
}


def names_one_of(answer: str, aliases: Sequence[str]) -> bool:
    """True if the answer names one alias as a whole word or number: "88 sorties" has "88", "188" has not."""
    return any(re.search(rf"(?<!\w){re.escape(a)}(?!\w)", answer, re.IGNORECASE) for a in aliases)


def is_span(source: str, span: Any) -> bool:
    """True if ``span`` (a Chunk or Citation, or its JSON dict) is exactly ``source[start:end]``."""
    start, end, text = (span["start"], span["end"], span["text"]) if isinstance(span, dict) else (span.start, span.end,
                                                                                                 span.text)
    return source[start:end] == text


def article(doc_id: str, folder: Path = ARTICLES) -> str:
    """The text of one of the articles (a .txt file named by its doc_id)."""
    return (folder / f"{doc_id}.txt").read_text(encoding="utf-8")


HEAVY = ("torch", "llama_cpp", "sentence_transformers", "gradio", "faiss")  # never loaded by an import alone


def heavy_after(module: str, heavy: Sequence[str] = HEAVY) -> list[str]:
    """The ``heavy`` libraries a fresh interpreter has loaded after ``import module`` (from the project root)."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(set({list(heavy)!r}) & set(sys.modules))))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_port() -> int:
    """A TCP port on the loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HashEmbedder:
    """Bag of stemmed words hashed into 64 dimensions: similar wording, similar vector."""

    name = "hash-64"
    dim = 64

    def __init__(self) -> None:
        self.calls = 0  # texts embedded, to check incremental indexing does no extra work

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in content_words(text):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


class EchoGenerator:
    """A stand-in LLM that 'answers' with a fixed draft, split into tokens."""

    name = "echo"

    def __init__(self, draft: str) -> None:
        self.draft = draft
        self.prompts = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt, max_tokens: int) -> Iterator[str]:
        self.prompts.append(prompt)
        for word in self.draft.split(" "):
            yield word + " "


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the five articles."""
    target = tmp_path / "articles"
    shutil.copytree(ARTICLES, target)
    return target


@pytest.fixture
def fake_embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    from rag.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_generator():
    from rag.generate import LlamaGenerator
    from rag.models import DEFAULT_LLM

    return LlamaGenerator(os.environ.get("RAG_TEST_LLM", DEFAULT_LLM))


@pytest.fixture(scope="session")
def real_index(tmp_path_factory, real_embedder) -> Path:
    """The five articles indexed once with the real packaged embedder."""
    from rag.config import Config
    from rag.indexing import build_index

    index = tmp_path_factory.mktemp("real") / "index"
    build_index(Config(docs_dir=str(ARTICLES), index_dir=str(index)), real_embedder)
    return index


@pytest.fixture(scope="session")
def real_rag(real_index, real_embedder, real_generator):
    from rag import RAG

    return RAG.open(real_index, embedder=real_embedder, generator=real_generator)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium, one per test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
