"""PDF text extraction: pypdf (what rag uses) against pdfplumber on PDFs with known text.

The PDFs are built here with fpdf2 (tests/pdfs.py) from the seed articles' paragraphs, one
article per page group, lines wrapped and justified by fpdf2. Fidelity: the share of each page's
words recovered in order (difflib ratio of word sequences) and the pages recovered word for word;
speed: milliseconds per page, best of three. The choice in rag.documents rests on these figures.
"""

from __future__ import annotations

import difflib
import io
import time

from .common import ARTICLES, OUT, Context, log


def _pages() -> list[list[str]]:
    paragraphs = [[line.strip() for line in p.read_text().splitlines() if len(line.strip()) > 40]
                  for p in sorted(ARTICLES.glob("*.txt"))]
    return [ps[i:i + 6] for ps in paragraphs for i in range(0, len(ps), 6)]


def run(ctx: Context) -> None:
    import pdfplumber
    import pypdf

    from tests.pdfs import make_pdf

    r = ctx.results
    r.section("pdf: text extraction, pypdf against pdfplumber (fpdf2-built PDFs of the seed articles)")
    pages = _pages()
    OUT.mkdir(parents=True, exist_ok=True)
    figures = {}
    for layout, width in (("full-width", 0), ("narrow column", 80)):
        path = make_pdf(OUT / "pdf-bench.pdf", pages, title="bench", width=width)
        data = path.read_bytes()
        known = [" ".join(page).split() for page in pages]
        readers = {
            "pypdf": lambda data=data: [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(data)).pages],
            "pdfplumber": lambda data=data: [p.extract_text() for p in pdfplumber.open(io.BytesIO(data)).pages],
        }
        for name, read in readers.items():
            texts = read()
            best = min(_seconds(read) for _ in range(1 if ctx.quick else 3))
            ratio = sum(difflib.SequenceMatcher(None, k, t.split(), autojunk=False).ratio()
                        for k, t in zip(known, texts)) / len(known)
            exact = sum(k == t.split() for k, t in zip(known, texts)) / len(known)
            n = len(texts)
            figures[(layout, name)] = (best / n * 1000, ratio, exact)
            log(f"{layout} {name}: {n} pages, {best / n * 1000:.1f} ms/page, word ratio {ratio:.4f}")
        key = layout.replace(" ", "_").replace("-", "_")
        (ms, ratio, exact), (base_ms, base_ratio, base_exact) = figures[(layout, "pypdf")], figures[(layout, "pdfplumber")]
        r.compare(f"pdf.{key}.ms_per_page", ms, base_ms, "ms", "pdfplumber", higher_is_better=False)
        r.compare(f"pdf.{key}.word_ratio", ratio, base_ratio, "", "pdfplumber", higher_is_better=True)
        r.compare(f"pdf.{key}.pages_word_for_word", max(exact, 1e-9), max(base_exact, 1e-9), "", "pdfplumber")
    (OUT / "pdf-bench.pdf").unlink(missing_ok=True)


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
