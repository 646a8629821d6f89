"""Hybrid retrieval: dense (the store: FAISS or Milvus) and lexical (BM25) rankings fused by reciprocal rank.

Chunks are searched by their own text only: prefixing the document title was measured
(`rag eval --retrieval-only`) and lowered recall@5 from 0.93 to 0.90 and MRR from 0.81 to 0.72,
because every chunk of an article then matches its headline's words.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import numpy as np

from .config import Config
from .embed import Embedder
from .stores import Store
from .text import content_words
from .types import Chunk, Hit

log = logging.getLogger(__name__)


def search_text(chunk: Chunk) -> str:
    """What is embedded and indexed for a chunk."""
    return chunk.readable


class Lexical:
    """BM25 over the chunks (bm25s), built in memory on first use, beside either store.

    Milvus Lite's own BM25 was measured against it (bench/bench_milvus.py, docs/SCALING.md): an
    order of magnitude slower per query, per-segment IDF and no stemmer, so bm25s stays.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        import bm25s

        self.size = len(texts)
        self.bm25 = bm25s.BM25()
        corpus = [content_words(t) or ["_"] for t in texts]
        self.bm25.index(corpus, show_progress=False)
        self.vocab = set(self.bm25.vocab_dict)

    def search(self, query: str, n: int) -> list[tuple[int, float]]:
        words = [w for w in content_words(query) if w in self.vocab]
        if not words or not self.size:
            return []
        rows, scores = self.bm25.retrieve([words], k=min(n, self.size), show_progress=False, n_threads=1)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if s > 0]


def fuse(dense: Sequence[tuple[int, float]], lexical: Sequence[tuple[int, float]], rrf_k: int,
         dense_weight: float = 1.0) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of two rankings of (row, score), best first: [(row, fused score), ...].

    A row at rank r (from 1) of a list earns weight / (rrf_k + r); dense [(7, .9), (3, .8)] and
    lexical [(3, 12.0)] at rrf_k 10 -> [(3, 1/12 + 1/11), (7, 1/11)].
    Equal fused scores (dense 1st + BM25 2nd against the reverse) are common with two lists;
    they go to the larger sum of both scores, each relative to its list's best, then the lower row.
    """
    fused: dict[int, float] = {}
    for rank, (row, _) in enumerate(dense):
        fused[row] = fused.get(row, 0.0) + dense_weight / (rrf_k + rank + 1)
    for rank, (row, _) in enumerate(lexical):
        fused[row] = fused.get(row, 0.0) + 1.0 / (rrf_k + rank + 1)
    dense_score, lexical_score = dict(dense), dict(lexical)
    top_dense = max(dense_score.values(), default=0.0) or 1.0
    top_lexical = max(lexical_score.values(), default=0.0) or 1.0

    def combined(row: int) -> float:
        return dense_score.get(row, 0.0) / top_dense + lexical_score.get(row, 0.0) / top_lexical

    return [(row, fused[row]) for row in sorted(fused, key=lambda row: (-fused[row], -combined(row), row))]


class Retriever:
    """Dense + BM25 + reciprocal-rank fusion over one loaded Store, as the config says."""

    def __init__(self, store: Store, embedder: Embedder, config: Config) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self._lexical: Lexical | None = None
        self._lock = threading.Lock()

    @property
    def lexical(self) -> Lexical:
        with self._lock:
            if self._lexical is None:
                self._lexical = Lexical([search_text(c) for c in self.store.chunks])
            return self._lexical

    def embed_query(self, question: str) -> np.ndarray:
        return self.embedder.embed([question])[0]

    def retrieve(self, question: str, k: int, prefer: set[str] | frozenset[str] = frozenset()) -> list[Hit]:
        """The ``k`` best chunks for ``question``, best first; equal fused scores go first to documents
        in ``prefer`` (those the conversation's last answer cited)."""
        config = self.config
        vector = self.embed_query(question)
        dense = self.store.search(vector, config.candidates)
        lexical = self.lexical.search(question, config.candidates)
        dense_score, lexical_score = dict(dense), dict(lexical)
        ranked = fuse(dense, lexical, config.rrf_k, config.dense_weight)
        if prefer:  # stable: within a preference, fuse's own tie-break stands
            ranked.sort(key=lambda pair: (-pair[1], self.store.chunks[pair[0]].doc_id not in prefer))
        best = ranked[:k]
        unscored = [row for row, _ in best if row not in dense_score]  # not among the dense candidates: score exactly
        if unscored:
            dense_score.update(zip(unscored, (self.store.vectors_of(unscored) @ vector).tolist()))
        return [Hit(self.store.chunks[row], fused, dense_score[row], lexical_score.get(row, 0.0)) for row, fused in best]
