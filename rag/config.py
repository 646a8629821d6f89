"""The one settings object, and the one place that reads the environment.

Precedence, lowest first: the defaults below, ``RAG_<FIELD>`` environment variables, then
explicit overrides (CLI flags, keyword arguments). Unknown keys are an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import ConfigError

ENV_PREFIX = "RAG_"
MAX_K = 50  # the most passages a question may retrieve (setting k, the chat page's slider)


@dataclass(frozen=True)
class Config:
    docs_dir: str = "data/articles"  # where `rag index` reads documents from
    index_dir: str = "index"  # where the built index lives (the FAISS store)
    store: str = "faiss"  # the vector store: faiss (the folder index_dir) | milvus:///file.db (Milvus Lite) | milvus://host:19530
    milvus_collection: str = "rag"  # Milvus: the alias naming the live version's collection
    milvus_token: str = ""  # Milvus: "user:password" or an API key ("" for none)
    milvus_timeout: float = 10.0  # Milvus: seconds to wait for the server before giving up
    embedder: str = "all-MiniLM-L6-v2"  # packaged default, or a sentence-transformers folder
    llm: str = "qwen1.5b"  # packaged: qwen1.5b | qwen0.5b | smollm2 | gemma3 (rag.models), or a path to any .gguf file
    cache_dir: str = "~/.cache/rag"  # where sliced packaged models are joined into one GGUF (once)
    chunk_sentences: int = 2  # sentences per chunk (1-3 keeps citations pointed)
    chunk_chars: int = 360  # soft cap on chunk length in characters
    k: int = 5  # passages shown to the model and returned as context
    candidates: int = 30  # hits taken from each retriever before fusion
    rrf_k: int = 10  # reciprocal-rank-fusion constant (10 beat 20 and 60 on recall@5 and MRR)
    dense_weight: float = 1.0  # weight of the dense ranking in fusion (BM25 has 1.0)
    max_question_chars: int = 2000  # longer questions are refused
    spelling: bool = True  # read a misspelt question word as the article word it is nearest to (rag.spelling)
    max_doc_bytes: int = 20_000_000  # larger files are skipped with a warning
    max_upload_files: int = 20  # the most files one upload may add; more are refused, nothing added
    max_corpus_bytes: int = 500_000_000  # an upload that would grow the documents folder past this is refused
    max_waiting: int = 8  # questions that may wait for the model behind the one it answers; more are told "busy"
    login_failures: int = 10  # wrong logins one client may make within login_window_s before it is locked out
    login_window_s: float = 60.0  # ... counted over this many seconds
    login_lockout_s: float = 60.0  # a locked-out client's logins, right or wrong, are refused this long
    n_ctx: int = 2048  # LLM context window in tokens
    max_tokens: int = 60  # answer length cap in tokens
    passage_tokens: int = 90  # per-passage cap in the prompt; keeps prompts short on a CPU
    n_threads: int = 2  # threads for llama.cpp and torch
    temperature: float = 0.0  # 0 = greedy, reproducible answers
    lookup_tokens: int = 0  # prompt-lookup decoding: tokens drafted from the passages per step (0 = off; bench/)
    seed: int = 0  # llama.cpp sampling seed
    embed_batch: int = 32  # sentence-transformers batch size
    missing_words: int = 1  # a claim's words beyond the question's that its passage may lack (never a name or number)
    relevance: float = 0.3  # least cosine between question and a passage that may back a claim
    quote_coverage: float = 0.6  # when the reader declines, quote a passage holding this share of the question's words
    quote_dense: float = 0.5  # ... and at least this cosine; otherwise abstain
    check: float = 0.75  # the reader's mean P(yes), asked afresh, that the shown answer and its passage answer (0 = off)
    requote: float = 0.6  # a sentence of the reader's the check puts at least this (below `check`) gives way to its
    # passage's sentence, quoted, if the check takes that; below it the answer is abstained (1 = never requote)
    check_examples: bool = False  # show the check worked examples first (rag.generate.CHECK_EXAMPLES); with check 0.8: stricter
    exact_limit: int = 200_000  # above this many passages the FAISS index is HNSW, not exact
    faiss_threads: int = 1  # one thread is faster than two for single queries here

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Config:
        """Defaults, then RAG_* variables, then non-None ``overrides``.

        >>> Config.load({"k": 3}, env={"RAG_LLM": "gemma3"}).llm
        'gemma3'
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        known = {f.name for f in fields(cls)}
        for name, raw in env.items():
            if not name.startswith(ENV_PREFIX) or name in _NOT_SETTINGS:
                continue
            key = name[len(ENV_PREFIX) :].lower()
            if key not in known:
                raise ConfigError(f"Unknown setting {name}; known settings are RAG_{', RAG_'.join(sorted(k.upper() for k in known))}.")
            values[key] = raw
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            if key not in known:
                raise ConfigError(f"Unknown setting {key!r}; known settings are {', '.join(sorted(known))}.")
            values[key] = value
        return cls().with_values(values)

    def with_values(self, values: Mapping[str, Any]) -> Config:
        """A copy with ``values`` converted to each field's type and checked."""
        types = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        converted: dict[str, Any] = {}
        for key, value in values.items():
            if key not in types:
                raise ConfigError(f"Unknown setting {key!r}.")
            kind = types[key]
            try:
                converted[key] = _flag(value) if kind is bool else kind(value)
            except (TypeError, ValueError):
                raise ConfigError(f"Setting {key} must be {kind.__name__}, not {value!r}.") from None
        config = replace(self, **converted)
        config._check()
        return config

    def _check(self) -> None:
        positive = ["chunk_sentences", "chunk_chars", "k", "candidates", "max_question_chars", "n_ctx", "max_tokens",
                    "passage_tokens", "n_threads", "embed_batch", "exact_limit", "faiss_threads", "max_doc_bytes",
                    "max_upload_files", "max_corpus_bytes", "login_failures", "login_window_s", "login_lockout_s",
                    "milvus_timeout"]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"Setting {name} must be positive, not {getattr(self, name)}.")
        if self.max_waiting < 0:
            raise ConfigError(f"Setting max_waiting must be 0 or more, not {self.max_waiting}.")
        if not 1 <= self.chunk_sentences <= 3:
            raise ConfigError("Setting chunk_sentences must be 1, 2 or 3 so citations stay pointed.")
        if self.k > MAX_K:
            raise ConfigError(f"Setting k must be at most {MAX_K}, not {self.k}.")
        if self.store != "faiss" and not self.store.startswith(("milvus://", "http://", "https://")):
            raise ConfigError(f"Setting store must be faiss, milvus:///path/to/file.db or milvus://host:port, not {self.store!r}.")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,180}", self.milvus_collection):
            raise ConfigError(f"Setting milvus_collection must be letters, digits and _, not {self.milvus_collection!r}.")


def _flag(value: Any) -> bool:
    """A yes/no setting: True/False, or "1"/"0", "true"/"false", "yes"/"no", "on"/"off"."""
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in ("1", "true", "yes", "on"):
        return True
    if word in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


# RAG_* variables that belong to the test suite or tooling, not to the library.
_NOT_SETTINGS = frozenset({"RAG_TEST_LLM", "RAG_SKIP_BROWSER"})
