"""The document shell every MedVision report shares: page template, styles, metadata, atomic write.

Platypus flows content over pages; the header, the footer statement and
"page X of Y" are drawn by the canvas. "Y" is only known once every page is
laid out, so :class:`_NumberedCanvas` keeps each page's state and draws the
footers when the document is saved (ReportLab's documented two-pass idiom,
cheaper than building the document twice).
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Sequence

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate, Paragraph, Table, TableStyle

from medvision_app import __version__
from medvision_app.reports import DISCLAIMER
from medvision_app.utils.atomic import atomic_write_bytes

PAGE = A4
MARGIN = 16 * mm


def styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=9, leading=11.5)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=17, leading=21, spaceAfter=4, alignment=0),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontSize=12, leading=15, spaceBefore=8, spaceAfter=4),
        "h3": ParagraphStyle("h3", parent=base["Heading3"], fontSize=10, leading=12, spaceBefore=6, spaceAfter=2),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#444444")),
        "warn": ParagraphStyle("warn", parent=body, textColor=colors.HexColor("#9a3412"), fontName="Helvetica-Bold"),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
    }


def esc(text: object) -> str:
    """Text for a Paragraph (which parses a little XML)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def key_value_table(rows: Sequence[tuple[str, str]], widths=(45 * mm, None)) -> Table:
    st = styles()
    data = [[Paragraph(f"<b>{esc(k)}</b>", st["cell"]), Paragraph(esc(v), st["cell"])] for k, v in rows]
    table = Table(data, colWidths=[widths[0], widths[1] or (PAGE[0] - 2 * MARGIN - widths[0])], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5), ("TOPPADDING", (0, 0), (-1, -1), 1.5)]))
    return table


def grid_table(header: Sequence[str], rows: Sequence[Sequence[str]], col_widths=None, *, font_size: float = 7.5) -> Table:
    st = ParagraphStyle("grid", parent=styles()["cell"], fontSize=font_size, leading=font_size + 2)
    data = [[Paragraph(f"<b>{esc(h)}</b>", st) for h in header]]
    data += [[Paragraph(esc(c), st) for c in row] for row in rows]
    table = Table(data, colWidths=col_widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e5e7eb")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    return table


class _NumberedCanvas(rl_canvas.Canvas):
    header_left = ""
    header_right = ""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = PAGE
        self.saveState()
        self.setStrokeColor(colors.HexColor("#1f4e79"))
        self.setLineWidth(0.6)
        self.line(MARGIN, height - MARGIN + 3 * mm, width - MARGIN, height - MARGIN + 3 * mm)
        self.setFont("Helvetica-Bold", 8.5)
        self.setFillColor(colors.HexColor("#1f4e79"))
        self.drawString(MARGIN, height - MARGIN + 5 * mm, self.header_left)
        self.setFont("Helvetica", 8)
        self.drawRightString(width - MARGIN, height - MARGIN + 5 * mm, self.header_right)
        self.line(MARGIN, MARGIN - 2 * mm, width - MARGIN, MARGIN - 2 * mm)
        self.setFillColor(colors.HexColor("#7f1d1d"))
        self.setFont("Helvetica-Bold", 7.5)
        self.drawString(MARGIN, MARGIN - 6 * mm, DISCLAIMER)
        self.setFillColor(colors.black)
        self.setFont("Helvetica", 8)
        self.drawRightString(width - MARGIN, MARGIN - 10 * mm, f"page {self._pageNumber} of {total}")
        self.restoreState()


def render_pdf(story: list, *, title: str, subject: str, header: str, keywords: Sequence[str] = (),
               generated: str | None = None) -> bytes:
    """Lay ``story`` out on A4 pages and return the PDF bytes.

    The PDF's own metadata is exactly ``title``, ``subject``, ``keywords``,
    author "MedVision" and creator "MedVision <version>": callers pass text
    that is safe to leave the workstation (no patient identifiers).
    """
    generated = generated or time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    canvas_class = type("ReportCanvas", (_NumberedCanvas,), {
        "header_left": header, "header_right": f"MedVision {__version__} · generated {generated}"})
    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN + 4 * mm,
        bottomMargin=MARGIN + 2 * mm, title=title, author="MedVision", subject=subject,
        keywords=", ".join(keywords), creator=f"MedVision {__version__}",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    doc.build(story, canvasmaker=canvas_class)
    return buffer.getvalue()


def write_pdf(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    atomic_write_bytes(path, data)
    return path
