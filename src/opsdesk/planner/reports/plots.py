"""Planner charts described once as data, drawn as PNG/SVG (matplotlib) or as a Plotly figure for the console."""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from opsdesk.planner.learning.cycle import LearningCycle

X = str | float | date | datetime
_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


@dataclass(frozen=True)
class Series:
    """One trace: a line, bars, markers, or a band between ``y`` (lower) and ``upper``."""

    name: str
    x: tuple[X, ...]
    y: tuple[float, ...]
    kind: Literal["line", "bar", "marker", "band"] = "line"
    upper: tuple[float, ...] = ()
    color: str | None = None
    dashed: bool = False
    opacity: float = 1.0


@dataclass(frozen=True)
class Chart:
    """What a chart shows, independent of the library that draws it."""

    title: str
    x_label: str
    y_label: str
    series: tuple[Series, ...]
    categorical: bool = False  # x values are names (items), not a time axis
    barmode: Literal["group", "stack"] = "group"


@dataclass(frozen=True)
class ForecastView:
    """An item's weekly history and its forecast with 80 % and 95 % intervals."""

    item: str
    history_periods: Sequence[date]
    history: Sequence[float]
    periods: Sequence[date]
    mean: Sequence[float]
    low_80: Sequence[float]
    high_80: Sequence[float]
    low_95: Sequence[float]
    high_95: Sequence[float]


def forecast_chart(view: ForecastView) -> Chart:
    """History, forecast mean and the 95 % band under the 80 % band."""
    periods = tuple(view.periods)
    return Chart(
        title=f"Demand forecast: {view.item}",
        x_label="Week",
        y_label="Units",
        series=(
            Series(
                "95 % interval", periods, _floats(view.low_95), "band", _floats(view.high_95), _COLORS[0], False, 0.15
            ),
            Series(
                "80 % interval", periods, _floats(view.low_80), "band", _floats(view.high_80), _COLORS[0], False, 0.3
            ),
            Series("Sales", tuple(view.history_periods), _floats(view.history), "line", color="#333333"),
            Series("Forecast", periods, _floats(view.mean), "line", color=_COLORS[0], dashed=True),
        ),
    )


def recommendation_chart(
    items: Sequence[str], stock: Sequence[float], recommended: Sequence[float], target: Sequence[float]
) -> Chart:
    """Stock on hand with the recommended order on top, beside the target stock per item."""
    names = tuple(items)
    return Chart(
        title="Recommendation vs stock vs target",
        x_label="Item",
        y_label="Units",
        series=(
            Series("Stock on hand", names, _floats(stock), "bar", color=_COLORS[0]),
            Series("Recommended order", names, _floats(recommended), "bar", color=_COLORS[1]),
            Series("Target stock", names, _floats(target), "marker", color=_COLORS[3]),
        ),
        categorical=True,
        barmode="stack",
    )


def days_of_supply_chart(items: Sequence[str], days: Sequence[float], minimum: float | None = None) -> Chart:
    """Days of supply per item; an item with stock but no sales has no bar and says so in its label."""
    names = tuple(f"{item} (no sales)" if math.isinf(value) else item for item, value in zip(items, days, strict=True))
    values = tuple(math.nan if math.isinf(value) else float(value) for value in days)
    series = [Series("Days of supply", names, values, "bar", color=_COLORS[0])]
    if minimum is not None:
        series.append(Series("Minimum", names, (float(minimum),) * len(names), "line", color=_COLORS[3], dashed=True))
    return Chart("Days of supply", "Item", "Days", tuple(series), categorical=True)


def learning_chart(cycles: Sequence[LearningCycle]) -> Chart:
    """Each scored cycle's held-out objective with the old and the proposed weights; accepted cycles marked."""
    scored = [cycle for cycle in cycles if cycle.holdout_periods and cycle.before_by_period]
    when = tuple(cycle.holdout_periods[-1] for cycle in scored)
    accepted = [cycle for cycle in scored if cycle.accepted]
    return Chart(
        title="Learning cycles: held-out objective",
        x_label="Last held-out week",
        y_label="Gross profit minus holding cost",
        series=(
            Series("Before (weights in force)", when, tuple(c.objective_before for c in scored), color="#333333"),
            Series("After (proposed weights)", when, tuple(c.objective_after for c in scored), color=_COLORS[1]),
            Series(
                "Accepted",
                tuple(c.holdout_periods[-1] for c in accepted),
                tuple(c.objective_after for c in accepted),
                "marker",
                color=_COLORS[2],
            ),
        ),
    )


def render_png(chart: Chart, *, width: float = 8.0, height: float = 4.5, dpi: int = 100) -> bytes:
    """The chart as PNG bytes."""
    return _render(chart, "png", width, height, dpi)


def render_svg(chart: Chart, *, width: float = 8.0, height: float = 4.5) -> bytes:
    """The chart as SVG bytes; text stays text (selectable) and user text is XML-escaped by the writer."""
    return _render(chart, "svg", width, height, 100)


def plotly_figure(chart: Chart) -> dict[str, Any]:
    """The chart as a JSON-ready Plotly figure dict; names are HTML-escaped since Plotly renders tags in text."""
    import plotly.graph_objects as go

    traces: list[Any] = []
    for index, series in enumerate(chart.series):
        color = series.color or _COLORS[index % len(_COLORS)]
        name, x = html.escape(series.name), [_plotly_x(value) for value in series.x]
        common: dict[str, Any] = {"name": name, "x": x, "opacity": series.opacity}
        if series.kind == "band":
            traces.append(go.Scatter(**common, y=list(series.upper), mode="lines", line={"width": 0}, showlegend=False))
            traces.append(go.Scatter(**common, y=list(series.y), mode="lines", line={"width": 0}, fill="tonexty"))
            traces[-1].fillcolor = color
        elif series.kind == "bar":
            traces.append(go.Bar(**common, y=list(series.y), marker={"color": color}))
        elif series.kind == "marker":
            traces.append(go.Scatter(**common, y=list(series.y), mode="markers", marker={"color": color, "size": 10}))
        else:
            line = {"color": color, "dash": "dash" if series.dashed else "solid"}
            traces.append(go.Scatter(**common, y=list(series.y), mode="lines", line=line))
    figure = go.Figure(data=traces)
    figure.update_layout(
        title=html.escape(chart.title),
        xaxis_title=html.escape(chart.x_label),
        yaxis_title=html.escape(chart.y_label),
        barmode="relative" if chart.barmode == "stack" else "group",
        template="plotly_white",
    )
    if chart.categorical:
        figure.update_xaxes(type="category")
    result: dict[str, Any] = json.loads(figure.to_json())
    return result


def _render(chart: Chart, fmt: str, width: float, height: float, dpi: int) -> bytes:
    from matplotlib import rc_context  # loaded on first drawing, not when the routes are imported
    from matplotlib.figure import Figure

    # Text stays text in SVG (escaped by the writer); "$" in an item name is never read as mathtext.
    with rc_context({"svg.fonttype": "none", "text.parse_math": False, "svg.hashsalt": "opsdesk"}):
        figure = Figure(figsize=(width, height), dpi=dpi)
        axes = figure.add_subplot()
        _draw(axes, chart)
        axes.set_title(chart.title)
        axes.set_xlabel(chart.x_label)
        axes.set_ylabel(chart.y_label)
        if chart.series:
            axes.legend(loc="best", fontsize="small")
        axes.grid(True, alpha=0.3)
        if not chart.categorical:
            figure.autofmt_xdate()
        figure.tight_layout()
        buffer = io.BytesIO()
        metadata: dict[str, Any] = {"Date": None} if fmt == "svg" else {"Software": None}
        figure.savefig(buffer, format=fmt, metadata=metadata)
    return buffer.getvalue()


def _draw(axes: Any, chart: Chart) -> None:
    categories: list[str] = []
    if chart.categorical:
        for series in chart.series:
            categories.extend(str(x) for x in series.x if str(x) not in categories)
    position = {name: float(index) for index, name in enumerate(categories)}
    bars = [series for series in chart.series if series.kind == "bar"]
    width = 0.8 if chart.barmode == "stack" or not bars else 0.8 / len(bars)
    stacked = [0.0] * len(categories)
    for index, series in enumerate(chart.series):
        color = series.color or _COLORS[index % len(_COLORS)]
        x: list[Any] = [position[str(v)] for v in series.x] if chart.categorical else list(series.x)
        if series.kind == "band":
            axes.fill_between(x, series.y, series.upper, color=color, alpha=series.opacity, label=series.name, lw=0)
        elif series.kind == "bar":
            if chart.barmode == "stack":
                bottom = [stacked[int(p)] for p in x]
                axes.bar(x, series.y, width, bottom=bottom, color=color, label=series.name)
                for p, y in zip(x, series.y, strict=True):
                    stacked[int(p)] += 0.0 if math.isnan(y) else y
            else:
                offset = (bars.index(series) - (len(bars) - 1) / 2) * width
                axes.bar([p + offset for p in x], series.y, width, color=color, label=series.name)
        elif series.kind == "marker":
            axes.scatter(x, series.y, color=color, marker="D", zorder=3, label=series.name)
        else:
            axes.plot(x, series.y, color=color, linestyle="--" if series.dashed else "-", label=series.name)
    if chart.categorical:
        axes.set_xticks(range(len(categories)), categories, rotation=30, ha="right")


def _floats(values: Sequence[float]) -> tuple[float, ...]:
    return tuple(float(value) for value in values)


def _plotly_x(value: X) -> str | float:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return html.escape(value) if isinstance(value, str) else value
