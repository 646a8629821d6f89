"""Chunking keeps exact spans for any input (property-based) and groups 1-3 sentences."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunk import chunk_document, split_sentences
from rag.documents import SkippedFile, parse_document

from .conftest import is_span

_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=600)
_prose = st.lists(st.sampled_from(["The", "U.S.", "Gen.", "missiles", "crashed", "in", "Iran.", "\n", "\n\n", "<b>",
                                   "</b>", "&amp;", "It", "said", "3.5", "km", "“quoted.”", "  ", "#", "---"]),
                  max_size=120).map(" ".join)


def _check(doc, chunks):
    last = -1
    for c in chunks:
        assert is_span(doc.text, c), c
        assert 0 <= c.start < c.end <= len(doc.text)
        assert c.start >= last
        last = c.end


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(_text, _prose), suffix=st.sampled_from([".txt", ".md", ".html"]))
def test_every_chunk_is_its_source_span_in_order(text, suffix):
    try:
        doc = parse_document("d", "d" + suffix, text.encode("utf-8"))
    except SkippedFile:
        return
    _check(doc, chunk_document(doc, sentences=2, max_chars=80))


def test_split_sentences_knows_abbreviations():
    text = "Gen. Smith came. He left the U.S. Army in 2005. Then he spoke."
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Gen. Smith came.", "He left the U.S. Army in 2005.", "Then he spoke."]


def test_chunks_hold_at_most_the_configured_sentences():
    raw = " ".join(f"Sentence number {i} is here." for i in range(9))
    doc = parse_document("s", "s.txt", raw.encode())
    chunks = chunk_document(doc, sentences=3, max_chars=1000)
    assert [len(split_sentences(c.text)) for c in chunks] == [3, 3, 3]


def test_a_sentence_with_no_end_is_cut_to_size():
    raw = "word " * 5000
    doc = parse_document("long", "long.txt", raw.encode())
    chunks = chunk_document(doc, sentences=2, max_chars=100)
    assert all(len(c.text) <= 300 for c in chunks)
    assert sum(len(c.text.split()) for c in chunks) == 5000
