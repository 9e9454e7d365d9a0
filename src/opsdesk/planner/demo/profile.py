"""The market profile behind the demo dealership, derived once from the real Norway new-car sales.

``derive_profile`` reads ``norway_new_car_sales_by_month.csv`` (2007-01..2017-01, national registrations; public copy
of selva86/datasets, see ../shared/data/SOURCES.md) and, when given, ``norway_new_car_sales_by_make.csv``:

- ``seasonal_index``: 12 monthly factors (mean 1), the classical ratio of each month to the centred 2x12 moving
  average, averaged per calendar month;
- ``annual_growth``: the yearly trend, a log-linear fit of the last ``trend_years`` full years' totals;
- ``yearly_totals``: the full years' totals, kept for reference;
- ``share_volatility``: the standard deviation of the yearly log change of the ten biggest makes' market shares —
  how fast a share really moves in this market; the demo's segment shares move at this pace.

Only these numbers ship (``profile.json``), so the demo and its tests run on a clone without ../shared. Regenerate
with ``python -m opsdesk.planner.demo.profile <by_month.csv> [<by_make.csv>] > profile.json``.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np

SOURCE = "Norway new car sales by month and by make, 2007-2017 (selva86/datasets@c943fa8, retail/ in ../shared/data)"


@dataclass(frozen=True, slots=True)
class Profile:
    """Seasonality, trend and share dynamics of a real car market, scaled nowhere yet."""

    seasonal_index: tuple[float, ...]  # January..December, mean 1
    annual_growth: float  # 0.03 = +3 % a year
    yearly_totals: tuple[tuple[int, int], ...]
    share_volatility: float  # sd of the yearly log change of a make's share
    source: str = SOURCE


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _seasonal_index(quantities: np.ndarray, months: np.ndarray) -> tuple[float, ...]:
    if quantities.size < 24:
        raise ValueError("need at least 24 months to separate season from trend")
    ma12 = np.convolve(quantities, np.ones(12) / 12, mode="valid")  # ma12[i] averages months i..i+11
    centred = (ma12[:-1] + ma12[1:]) / 2  # centred on month i+6
    ratios = quantities[6 : 6 + centred.size] / centred
    by_month = [float(ratios[months[6 : 6 + centred.size] == m].mean()) for m in range(1, 13)]
    mean = sum(by_month) / 12
    return tuple(round(value / mean, 4) for value in by_month)


def _share_volatility(path: Path) -> float:
    totals: dict[int, float] = defaultdict(float)
    months: dict[int, set[int]] = defaultdict(set)
    by_make: dict[str, dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for row in _read_rows(path):
        year, quantity = int(row["Year"]), float(row["Quantity"])
        totals[year] += quantity
        months[year].add(int(row["Month"]))
        by_make[row["Make"]][year] += quantity
    full_years = sorted(year for year in totals if len(months[year]) == 12)
    size = {make: sum(sales.values()) for make, sales in by_make.items()}
    biggest = sorted(size, key=lambda make: (-size[make], make))[:10]
    changes: list[float] = []
    for make in biggest:
        shares = [by_make[make].get(year, 0.0) / totals[year] for year in full_years]
        changes.extend(math.log(b / a) for a, b in itertools.pairwise(shares) if a > 0 and b > 0)
    return round(float(np.std(changes)), 4) if changes else 0.0


def derive_profile(path: Path, make_path: Path | None = None, *, trend_years: int = 5) -> Profile:
    """Reads the monthly national sales once and keeps only the numbers the demo needs."""
    rows = _read_rows(path)
    months = np.array([int(row["Month"]) for row in rows])
    years = np.array([int(row["Year"]) for row in rows])
    quantities = np.array([float(row["Quantity"]) for row in rows])
    season = _seasonal_index(quantities, months)
    full = sorted(int(year) for year in set(years.tolist()) if int((years == year).sum()) == 12)
    totals = tuple((year, int(quantities[years == year].sum())) for year in full)
    recent = totals[-trend_years:]
    slope = np.polyfit([year for year, _ in recent], np.log([total for _, total in recent]), 1)[0]
    return Profile(
        seasonal_index=season,
        annual_growth=round(float(math.exp(slope) - 1), 4),
        yearly_totals=totals,
        share_volatility=_share_volatility(make_path) if make_path is not None else 0.0,
    )


def profile_json(profile: Profile) -> str:
    """The shipped form: stable key order, one file a reviewer can read."""
    return json.dumps(asdict(profile), indent=2, sort_keys=True) + "\n"


def load_profile() -> Profile:
    """The profile shipped with the package (derived from the Norway data by ``derive_profile``)."""
    data = json.loads(files("opsdesk.planner.demo").joinpath("profile.json").read_text(encoding="utf-8"))
    return Profile(
        seasonal_index=tuple(float(value) for value in data["seasonal_index"]),
        annual_growth=float(data["annual_growth"]),
        yearly_totals=tuple((int(year), int(total)) for year, total in data["yearly_totals"]),
        share_volatility=float(data["share_volatility"]),
        source=str(data["source"]),
    )


if __name__ == "__main__":  # pragma: no cover - regeneration helper
    make = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    sys.stdout.write(profile_json(derive_profile(Path(sys.argv[1]), make)))
