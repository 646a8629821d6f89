"""Shared fixtures: tiny deterministic fakes for the seams, and the real models (session-wide)."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from rag.text import content_words

ROOT = Path(__file__).resolve().parents[1]
ARTICLES = ROOT / "data" / "articles"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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

    return LlamaGenerator(os.environ.get("RAG_TEST_LLM", "smollm2"))


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
