"""The planner PDF report carries the recommendation, the measures and the charts, with user text as text."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from io import BytesIO

from pypdf import PdfReader

from opsdesk.planner.reports.excel import RecommendationLine
from opsdesk.planner.reports.measures import ItemMeasures
from opsdesk.planner.reports.pdf import Chart, PlannerReport, latin1, planner_report_pdf
from opsdesk.planner.reports.plots import recommendation_chart, render_png

LINES = (
    RecommendationLine("BR-BL-4D", "Bronco", "Bronco Big Bend 4-door", 2, Decimal("41250"), "forecast 3.1 a week"),
    RecommendationLine("EX-XLT", "Explorer", "Explorer XLT \u2013 Citro\u00ebn blue", 3, Decimal("38900.5"), "lot"),
    RecommendationLine("MACH-E", "Mustang", "Mach-E Premium", 0, Decimal("47000"), "enough stock"),
)
MEASURES = (
    ItemMeasures("BR-BL-4D", date(2025, 3, 3), 4, 12, 0.33, 21.0, 35.0),
    ItemMeasures("EX-XLT", date(2025, 3, 3), 0, 5, 0.0, math.inf, math.nan),
)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(pdf)).pages)


def _report(**overrides: object) -> PlannerReport:
    chart = Chart("Recommendation vs stock", render_png(recommendation_chart(["BR-BL-4D"], [4], [2], [7])))
    values: dict[str, object] = {
        "title": "Weekly order \u2014 Springfield Ford",
        "issued": date(2025, 3, 10),
        "lines": LINES,
        "measures": MEASURES,
        "charts": (chart,),
        "currency": "USD",
    }
    values.update(overrides)
    return PlannerReport(**values)  # type: ignore[arg-type]


def test_report_is_a_pdf_with_items_measures_and_charts() -> None:
    pdf = planner_report_pdf(_report())

    assert pdf.startswith(b"%PDF")
    text = _text(pdf)
    assert "Weekly order - Springfield Ford" in text
    for expected in ("BR-BL-4D", "Bronco Big Bend 4-door", "Explorer XLT - Citro\u00ebn blue", "199,201.50"):
        assert expected in text
    assert "Mach-E Premium" not in text  # nothing to order, no line
    assert "no sales" in text  # infinite days of supply is said, not drawn as a number
    assert sum(len(page.images) for page in PdfReader(BytesIO(pdf)).pages) == 1


def test_the_same_report_gives_the_same_bytes() -> None:
    assert planner_report_pdf(_report()) == planner_report_pdf(_report())


def test_user_text_that_looks_like_markup_is_printed_as_typed() -> None:
    line = RecommendationLine("<b>X</b>", "**bold**", "=cmd|' /C calc'!A0", 1, Decimal("1"), "emoji \U0001f697 gone")

    text = _text(planner_report_pdf(_report(lines=(line,), measures=(), charts=())))

    assert "<b>X</b>" in text and "**bold**" in text and "=cmd|' /C calc'!A0" in text
    assert "emoji gone" in text


def test_an_empty_recommendation_says_so() -> None:
    text = _text(planner_report_pdf(_report(lines=(), measures=(), charts=())))

    assert "Nothing to order." in text


def test_latin1_replaces_typography_and_drops_what_it_cannot_draw() -> None:
    text = "\u201cBronco\u201d \u2013 Citro\u00ebn \u0141\u00f3d\u017a \U0001f600 end"

    assert latin1(text) == '"Bronco" - Citro\u00ebn \u00f3dz end'
