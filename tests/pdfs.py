"""Small PDFs with known text, built with fpdf2, for the tests and bench/bench_pdf.py.

    make_pdf(path, [["First paragraph.", "Second."], ["Page two."]], title="T")  -> a two-page PDF
"""

from __future__ import annotations

from pathlib import Path


def _font() -> str:
    """DejaVu Sans from matplotlib's package data (a dependency): a Unicode font every machine here has."""
    import matplotlib

    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")


def make_pdf(path: Path, pages: list[list[str]], title: str = "", user_password: str | None = None,
             owner_password: str | None = None, width: float = 0) -> Path:
    """One page per list of paragraphs, DejaVu Sans 11 pt, lines wrapped by fpdf2 at ``width`` mm (0: the margins)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    if title:
        pdf.set_title(title)
    if user_password is not None or owner_password is not None:
        pdf.set_encryption(owner_password=owner_password or "owner", user_password=user_password or "")
    pdf.add_font("DejaVu", fname=_font())
    for paragraphs in pages:
        pdf.add_page()
        pdf.set_font("DejaVu", size=11)
        for text in paragraphs:
            pdf.multi_cell(width, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(4)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF whose page is only a picture (of stripes, standing for scanned text): no text layer."""
    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("L", (600, 800), 255)
    draw = ImageDraw.Draw(image)
    for y in range(60, 760, 24):
        draw.rectangle((50, y, 550, y + 10), fill=40)
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=190)
    pdf.output(str(path))
    return path


def make_corrupt_pdf(path: Path) -> Path:
    """A file that starts like a PDF and then is garbage."""
    path.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n" + bytes(range(256)) * 8)
    return path
