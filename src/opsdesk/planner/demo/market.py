"""Segment shares over time for the demo's region and the nation; the local path also moves each line's demand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from opsdesk.planner.demo.catalog import LINES
from opsdesk.planner.demo.profile import Profile

FloatArray = npt.NDArray[np.float64]
REGIONS = ("Northfield", "National")  # the dealer's market area, the whole country
_PERSISTENCE = 0.95  # monthly AR(1) coefficient of a segment's log share: shares wander but come back
_NATIONAL_SCALE = (0.92, 1.1, 0.85, 1.05, 1.2, 0.9)  # national share beside the regional one, per line


@dataclass(frozen=True, slots=True)
class MarketPaths:
    """Monthly shares per line's segment (rows follow ``LINES``), 12 months of lead-in before ``months[0]``."""

    months: tuple[date, ...]  # first days, lead-in included
    local: FloatArray  # (lines, months) share of regional registrations
    national: FloatArray
    growth: float  # the market's own yearly growth

    def demand_factor(self, month: date) -> FloatArray:
        """Each line's demand multiplier in ``month``: its regional share against the base share, times growth."""
        index = self.months.index(month)
        base = np.array([item.segment_share for item in LINES])
        years = (index - 12) / 12
        return np.asarray(self.local[:, index] / base * (1 + self.growth) ** years, dtype=np.float64)

    def trend(self, region: int, index: int) -> FloatArray:
        """Registrations of each segment against the same month a year before (0.04 = +4 %)."""
        shares = self.local if region == 0 else self.national
        return np.asarray((1 + self.growth) * shares[:, index] / shares[:, index - 12] - 1, dtype=np.float64)


def month_start(day: date) -> date:
    """The first day of ``day``'s month."""
    return day.replace(day=1)


def _month_range(first: date, last: date) -> tuple[date, ...]:
    months: list[date] = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(months)


def market_paths(profile: Profile, first: date, last: date, rng: np.random.Generator) -> MarketPaths:
    """Share paths whose monthly moves have the size the real make shares showed (``profile.share_volatility``)."""
    lead_in = date(first.year - 1, first.month, 1)
    months = _month_range(lead_in, last)
    step = profile.share_volatility / math.sqrt(12)
    common = np.zeros((len(LINES), len(months)))
    local = np.zeros((len(LINES), len(months)))
    shocks = rng.standard_normal((2, len(LINES), len(months)))
    for m in range(1, len(months)):
        common[:, m] = _PERSISTENCE * common[:, m - 1] + step * shocks[0, :, m]
        local[:, m] = _PERSISTENCE * local[:, m - 1] + 0.5 * step * shocks[1, :, m]
    years = (np.arange(len(months)) - 12) / 12
    drift = np.array([(1 + item.drift) for item in LINES])[:, None] ** years[None, :]
    base = np.array([item.segment_share for item in LINES])[:, None]
    national = base * np.array(_NATIONAL_SCALE)[:, None] * drift * np.exp(common)
    return MarketPaths(months, base * drift * np.exp(common + local), national, profile.annual_growth)


def market_rows(paths: MarketPaths, before: date) -> list[tuple[str, ...]]:
    """market.csv rows (period, segment, share, trend, region): months after the lead-in, before ``before``."""
    rows: list[tuple[str, ...]] = []
    for index in range(12, len(paths.months)):
        if paths.months[index] >= before:
            break
        period = paths.months[index].isoformat()
        for region, name in enumerate(REGIONS):
            shares = paths.local if region == 0 else paths.national
            trends = paths.trend(region, index)
            for line_index, item in enumerate(LINES):
                share, trend = shares[line_index, index], trends[line_index]
                rows.append((period, item.segment, f"{share:.5f}", f"{trend:.4f}", name))
    return rows
