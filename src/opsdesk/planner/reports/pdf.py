"""The planner report as an A4 PDF (fpdf2, built-in Helvetica so text stays extractable; no font files to ship)."""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from opsdesk.core.pdf import FooteredPDF
from opsdesk.planner.reports.excel import RecommendationLine
from opsdesk.planner.reports.measures import ItemMeasures

_FONT = "Helvetica"
_MARGIN = 15.0
_LINE = 5.0
_GREY = (235, 235, 235)
_SPACES = re.compile(r" {2,}")
_STAND_INS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "*",
    "\u20ac": "EUR",
    "\u2122": "(TM)",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
}


@dataclass(frozen=True)
class Chart:
    """A PNG chart and its caption."""

    caption: str
    png: bytes


@dataclass(frozen=True)
class PlannerReport:
    """What the PDF shows; every figure in it comes from these values."""

    title: str
    issued: date
    lines: Sequence[RecommendationLine]
    measures: Sequence[ItemMeasures] = ()
    charts: Sequence[Chart] = ()
    currency: str = ""
    notes: Sequence[str] = field(default_factory=tuple)


def latin1(text: str) -> str:
    """Text the PDF core fonts can draw: typographic characters replaced, accents kept or stripped, the rest dropped."""
    out: list[str] = []
    for char in text:
        if char == "\n":
            out.append(char)
        elif ord(char) < 32 or 127 <= ord(char) < 160:
            out.append(" " if char == "\t" else "")
        elif ord(char) < 256:
            out.append(char)
        elif char in _STAND_INS:
            out.append(_STAND_INS[char])
        else:
            base = unicodedata.normalize("NFKD", char)
            out.append("".join(c for c in base if ord(c) < 256 and not unicodedata.combining(c)))
    return _SPACES.sub(" ", "".join(out))


def planner_report_pdf(report: PlannerReport) -> bytes:
    """The report as PDF bytes: recommendation table, measures table, then the charts; same input, same bytes."""
    pdf = FooteredPDF(latin1(f"{report.title} - {report.issued.isoformat()}"))
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title(latin1(report.title))
    pdf.set_creator("opsdesk")
    pdf.set_producer("opsdesk")
    pdf.set_creation_date(datetime.combine(report.issued, time(), tzinfo=UTC))
    pdf.add_page()
    pdf.set_font(_FONT, "B", 16)
    pdf.multi_cell(0, 8, latin1(report.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(_FONT, size=9)
    pdf.cell(0, _LINE, f"Issued {report.issued.isoformat()}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for note in report.notes:
        pdf.multi_cell(0, 4.5, latin1(note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    _recommendation(pdf, report)
    if report.measures:
        _measures(pdf, report.measures)
    for chart in report.charts:
        _chart(pdf, chart)
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    pdf.set_font(_FONT, "B", 12)
    pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _recommendation(pdf: FPDF, report: PlannerReport) -> None:
    _heading(pdf, "Recommended order")
    lines = [line for line in report.lines if line.quantity > 0]
    pdf.set_font(_FONT, size=8)
    if not lines:
        pdf.cell(0, _LINE, "Nothing to order.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(3)
        return
    unit = f" ({latin1(report.currency)})" if report.currency else ""
    with pdf.table(
        col_widths=(24, 20, 40, 10, 22, 24, 40),
        text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "LEFT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=_GREY),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=4.5,
        padding=(1, 1, 1, 1),
    ) as table:
        heading = table.row()
        for title in ("Item", "Model line", "Description", "Qty", f"Unit cost{unit}", "Extended", "Reason"):
            heading.cell(title)
        for line in lines:
            row = table.row()
            for text in (line.item, line.line, line.description):
                row.cell(latin1(text))
            row.cell(str(line.quantity))
            row.cell(f"{line.unit_cost:,.2f}")
            row.cell(f"{line.extended_cost:,.2f}")
            row.cell(latin1(line.reason))
        total = table.row()
        total.cell("Total", colspan=3)
        total.cell(str(sum(line.quantity for line in lines)))
        total.cell("")
        total.cell(f"{sum(line.extended_cost for line in lines):,.2f}")
        total.cell("")
    pdf.ln(4)


def _measures(pdf: FPDF, measures: Sequence[ItemMeasures]) -> None:
    _heading(pdf, "Measures")
    pdf.set_font(_FONT, size=8)
    with pdf.table(
        col_widths=(40, 22, 16, 16, 20, 26, 26),
        text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(emphasis="BOLD", fill_color=_GREY),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        line_height=4.5,
        padding=(1, 1, 1, 1),
    ) as table:
        heading = table.row()
        for title in ("Item / line", "Week", "Sold", "Stock", "SVA", "Days of supply", "Days to turn"):
            heading.cell(title)
        for measure in measures:
            row = table.row()
            row.cell(latin1(measure.key))
            row.cell(measure.period.isoformat())
            row.cell(_number(measure.sold, 0))
            row.cell(_number(measure.stock, 0))
            row.cell(_number(measure.sales_velocity, 2))
            row.cell("no sales" if math.isinf(measure.days_of_supply) else _number(measure.days_of_supply, 0))
            row.cell(_number(measure.days_to_turn, 0))
    pdf.ln(4)


def _chart(pdf: FPDF, chart: Chart) -> None:
    width = pdf.w - 2 * _MARGIN
    height = width * 9 / 16
    if pdf.will_page_break(height + 10):
        pdf.add_page()
    pdf.set_font(_FONT, "B", 10)
    pdf.multi_cell(0, _LINE, latin1(chart.caption), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.image(io.BytesIO(chart.png), x=_MARGIN, w=width, h=height)
    pdf.ln(4)


def _number(value: float, places: int) -> str:
    """A measure as shown; a measure that has no value (no stock, no sales) shows a dash, never a made-up zero."""
    return "-" if math.isnan(value) else f"{value:,.{places}f}"
