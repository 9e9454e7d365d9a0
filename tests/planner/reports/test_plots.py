"""Charts come out as valid PNG, SVG and Plotly figures carrying the data, with user text never read as markup."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from opsdesk.planner.learning import run_learning_cycle
from opsdesk.planner.reports.plots import (
    Chart,
    ForecastView,
    days_of_supply_chart,
    forecast_chart,
    learning_chart,
    plotly_figure,
    recommendation_chart,
    render_png,
    render_svg,
)
from tests.planner.learning.history import UNIT_HOLDING, history

HOSTILE = "<script>alert('x')</script> & $x^2$ Bronco"
WEEK = date(2025, 1, 6)


def _weeks(start: int, count: int) -> list[date]:
    return [WEEK + timedelta(weeks=start + t) for t in range(count)]


def _forecast(item: str = "Explorer XLT") -> Chart:
    view = ForecastView(
        item=item,
        history_periods=_weeks(0, 12),
        history=[3, 4, 2, 5, 4, 3, 6, 5, 4, 4, 5, 6],
        periods=_weeks(12, 4),
        mean=[5.0, 5.1, 5.2, 5.3],
        low_80=[3.0, 3.0, 3.1, 3.1],
        high_80=[7.0, 7.2, 7.3, 7.5],
        low_95=[2.0, 1.9, 1.9, 1.8],
        high_95=[8.0, 8.3, 8.5, 8.8],
    )
    return forecast_chart(view)


def _all_charts() -> list[Chart]:
    cycles = [run_learning_cycle(history(weeks=w), UNIT_HOLDING) for w in (30, 40)]
    return [
        _forecast(),
        recommendation_chart(["Bronco", "Explorer XLT"], [4, 7], [3, 1], [8, 9]),
        days_of_supply_chart(["Bronco", "Explorer XLT", "F-150"], [21.0, math.inf, 40.0], minimum=30),
        learning_chart(cycles),
    ]


@pytest.mark.parametrize("chart", _all_charts(), ids=lambda chart: chart.title)
def test_every_chart_renders_as_png_and_svg(chart: Chart) -> None:
    png = render_png(chart)
    svg = render_svg(chart)

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert chart.title in "".join(root.itertext())


def test_an_item_name_with_markup_is_escaped_text_in_svg() -> None:
    svg = render_svg(_forecast(HOSTILE)).decode()

    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    texts = "".join(ET.fromstring(svg).itertext())
    assert f"Demand forecast: {HOSTILE}" in texts  # shown literally, "$x^2$" not typeset as maths


def test_an_item_name_with_markup_is_escaped_in_plotly() -> None:
    figure = plotly_figure(recommendation_chart([HOSTILE], [1], [2], [3]))

    assert figure["data"][0]["x"] == ["&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; $x^2$ Bronco"]
    assert "<script" not in str(figure)


def test_plotly_figure_carries_the_same_series_and_title() -> None:
    chart = _forecast()

    figure = plotly_figure(chart)

    assert figure["layout"]["title"]["text"] == "Demand forecast: Explorer XLT"
    by_name = {trace["name"]: trace for trace in figure["data"] if trace.get("showlegend") is not False}
    assert by_name["Sales"]["y"] == [3, 4, 2, 5, 4, 3, 6, 5, 4, 4, 5, 6]
    assert by_name["Forecast"]["y"] == [5.0, 5.1, 5.2, 5.3]
    assert by_name["Forecast"]["x"][0] == "2025-03-31"
    assert by_name["80 % interval"]["y"] == [3.0, 3.0, 3.1, 3.1]
    assert by_name["80 % interval"]["fill"] == "tonexty"


def test_recommendation_chart_stacks_order_on_stock_beside_the_target() -> None:
    figure = plotly_figure(recommendation_chart(["Bronco"], [4], [3], [8]))

    assert figure["layout"]["barmode"] == "relative"
    assert [trace["name"] for trace in figure["data"]] == ["Stock on hand", "Recommended order", "Target stock"]
    assert [trace["y"] for trace in figure["data"]] == [[4.0], [3.0], [8.0]]


def test_days_of_supply_never_draws_an_infinite_bar() -> None:
    chart = days_of_supply_chart(["Bronco", "F-150"], [12.0, math.inf])

    bars = chart.series[0]
    assert bars.x == ("Bronco", "F-150 (no sales)")
    assert bars.y[0] == 12.0 and math.isnan(bars.y[1])


def test_learning_chart_plots_only_scored_cycles() -> None:
    too_short = run_learning_cycle(history(weeks=10), UNIT_HOLDING)
    scored = run_learning_cycle(history(weeks=40), UNIT_HOLDING)

    chart = learning_chart([too_short, scored])

    before = chart.series[0]
    assert before.x == (scored.holdout_periods[-1],)
    assert before.y == (scored.objective_before,)
