"""Split documents into chunks of one to three sentences that keep their original offsets.

Sentence boundaries come from pysbd (a rule-based sentence splitter that knows "U.S." and
"Gen." are not ends of sentences); this module only groups sentences and maps them back to
the file's offsets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from .documents import visible
from .types import Chunk, Document

_LONG_SENTENCE = 3  # a sentence longer than this many chunk_chars is cut at whitespace


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # pure Python, light; imported here so `import rag` stays quick

    return pysbd.Segmenter(language="en", clean=False)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans in ``text``, trimmed of surrounding whitespace.

    "Gen. Smith came. He left." -> [(0, 16), (17, 25)]
    """
    spans: list[tuple[int, int]] = []
    cursor = 0
    text = re.sub(r"[\r\n\t\f\v]", " ", text)  # blocks are already paragraphs; same length keeps offsets
    for sentence in _segmenter().segment(text):
        piece = sentence.strip()
        if not piece:
            continue
        start = text.find(piece, cursor)
        if start < 0:  # the splitter changed the text; fall back to the rest as one sentence
            rest = text[cursor:].strip()
            if rest:
                start = text.index(rest, cursor)
                spans.append((start, start + len(rest)))
            break
        spans.append((start, start + len(piece)))
        cursor = start + len(piece)
    return spans


def _cut_long(start: int, end: int, text: str, limit: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long span at whitespace into pieces of at most ``limit`` characters."""
    while end - start > limit:
        cut = text.rfind(" ", start + limit // 2, start + limit)
        cut = cut if cut > start else start + limit
        yield start, cut
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if end > start:
        yield start, end


def chunk_document(doc: Document, sentences: int = 2, max_chars: int = 360) -> list[Chunk]:
    """Group each content block's sentences, at most ``sentences`` and ``max_chars`` per chunk."""
    chunks: list[Chunk] = []
    for block_start, block_end in doc.blocks:
        block = doc.text[block_start:block_end]
        spans: list[tuple[int, int]] = []
        for s, e in split_sentences(block) if not doc.markup else _markup_sentences(block):
            spans.extend(_cut_long(block_start + s, block_start + e, doc.text, max_chars * _LONG_SENTENCE))
        group: list[tuple[int, int]] = []
        for span in spans:
            if group and (len(group) >= sentences or span[1] - group[0][0] > max_chars):
                chunks.append(_make_chunk(doc, group[0][0], group[-1][1]))
                group = []
            group.append(span)
        if group:
            chunks.append(_make_chunk(doc, group[0][0], group[-1][1]))
    return chunks


def _markup_sentences(block: str) -> list[tuple[int, int]]:
    """Sentence spans of an HTML block: split its visible text, map back to raw offsets."""
    positions: list[int] = []  # raw offset of each visible character
    chars: list[str] = []
    for match in re.finditer(r"<[^>]*>|&#?\w+;|[^<&]+|[<&]", block):
        token = match.group()
        if token.startswith("<") and len(token) > 1:
            continue
        if token.startswith("&") and len(token) > 1:
            decoded = visible(token)
            chars.extend(decoded)
            positions.extend([match.start()] * len(decoded))
            continue
        chars.extend(token)
        positions.extend(range(match.start(), match.end()))
    text = "".join(chars)
    spans = []
    for s, e in split_sentences(text):
        raw_end = positions[e - 1] + 1
        while raw_end < len(block) and block[raw_end - 1] == "&" or (raw_end < len(block) and block[raw_end - 1] not in ";" and block[positions[e - 1]] == "&"):
            raw_end += 1
        spans.append((positions[s], raw_end))
    return spans


def _make_chunk(doc: Document, start: int, end: int) -> Chunk:
    raw = doc.text[start:end]
    clean = visible(raw) if doc.markup else " ".join(raw.split())
    return Chunk(f"{doc.id}:{start}-{end}", doc.id, raw, start, end, clean)
