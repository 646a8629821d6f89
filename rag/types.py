"""Frozen value types that flow through the pipeline: Document -> Chunk -> Hit -> Answer.

Offsets (``start``, ``end``) are always Python string indices into the original file decoded
as UTF-8 (for a PDF page, into the text extracted from that page: rag.documents.load_file), so
``document.text[start:end]`` reproduces any chunk or citation exactly.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

PAGE_MARK = "#p"  # a PDF page's document id is "<file stem>#p<page>"
_PAGE = re.compile(r"#p([1-9][0-9]*)$")


def page_of(doc_id: str) -> int | None:
    """The page a document id names, or None for a whole file: "report#p3" -> 3, "article" -> None."""
    match = _PAGE.search(doc_id)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Document:
    """One source file, or one page of a PDF: its id (file stem, "<stem>#p3" for a page), raw text and content spans."""

    id: str
    path: str
    text: str  # the whole file, decoded as UTF-8, unchanged (a PDF page: the text extracted from it)
    title: str  # first headline-like line ("" if the file has none)
    sha256: str  # of the file's bytes
    blocks: tuple[tuple[int, int], ...]  # content spans (paragraphs), boilerplate left out
    markup: bool = False  # True for HTML: spans may contain inline tags


@dataclass(frozen=True)
class Chunk:
    """One to three sentences of a document, the unit that is retrieved and cited."""

    id: str  # "<doc_id>:<start>-<end>", stable across rebuilds
    doc_id: str
    text: str  # exactly document.text[start:end]
    start: int
    end: int
    clean: str = ""  # readable text (tags stripped, whitespace folded) for search and prompts

    @property
    def readable(self) -> str:
        return self.clean or self.text

    @property
    def page(self) -> int | None:
        """The PDF page the chunk is on (from 1), or None for a text file."""
        return page_of(self.doc_id)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score (higher is better) and the raw signals."""

    chunk: Chunk
    score: float
    dense: float = 0.0  # cosine similarity of question and chunk
    lexical: float = 0.0  # BM25 score


@dataclass(frozen=True)
class Citation:
    """A verified pointer from the answer to the passage that states it."""

    key: str  # issued by the program, e.g. "1"; never taken on trust from the model
    doc_id: str
    start: int
    end: int
    text: str  # exactly the source text from start to end

    @property
    def page(self) -> int | None:
        """The PDF page cited (from 1), or None for a text file."""
        return page_of(self.doc_id)


@dataclass(frozen=True)
class Timings:
    rewrite_ms: float = 0.0  # reading the question: spelling, and a follow-up made to stand alone
    retrieve_ms: float = 0.0
    generate_ms: float = 0.0
    total_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    first_token_ms: float = 0.0


@dataclass(frozen=True)
class Answer:
    """What `RAG.ask` returns: verified text, its citations and the evidence it looked at."""

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = ()
    timings: Timings = field(default_factory=Timings)
    conflict: bool = False  # sources disagree; each side is cited
    mode: str = "generated"  # generated | quoted | abstained | conflict
    draft: str = ""  # the model's raw, unverified text (kept for evaluation and debugging)
    read_as: str = ""  # the question as answered, if it differs from the one asked: spelling read as the
    # articles' (rag.spelling), a follow-up made to stand alone (rag.conversation)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract shared by `rag ask --json`, `rag eval --json` and the `/ask` API."""
        return {
            "question": self.question,
            "read_as": self.read_as or self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "conflict": self.conflict,
            "mode": self.mode,
            "draft": self.draft,
            "citations": [{**asdict(c), "page": c.page} for c in self.citations],
            "passages": [
                {
                    "doc_id": h.chunk.doc_id,
                    "page": h.chunk.page,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    "text": h.chunk.text,
                    "score": round(h.score, 6),
                }
                for h in self.hits
            ],
            "timings": {k: round(v, 2) if isinstance(v, float) else v for k, v in asdict(self.timings).items()},
        }
