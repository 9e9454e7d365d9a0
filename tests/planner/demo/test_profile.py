"""The market profile: derived from monthly national sales by a documented rule, and shipped as numbers only."""

from __future__ import annotations

import json
import math
from importlib.resources import files
from pathlib import Path

import pytest

from opsdesk.planner.demo import derive_profile, load_profile
from opsdesk.planner.demo.profile import profile_json

_SEASON = (0.8, 0.9, 1.1, 1.0, 1.05, 1.0, 1.2, 0.95, 1.0, 1.05, 1.0, 0.95)


def _write_months(path: Path, years: range, growth: float) -> Path:
    lines = ['"Year","Month","Quantity","Quantity_YoY"']
    for k, year in enumerate(years):
        for month, factor in enumerate(_SEASON, start=1):
            level = 10_000 * (1 + growth) ** (k + (month - 1) / 12)
            lines.append(f"{year},{month},{round(level * factor)},NA")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_makes(path: Path) -> Path:
    # Two makes, each holding its share for a whole year; the share of make A goes 50 % -> 60 % -> 50 %.
    rows = ['"Year","Month","Make","Quantity","Pct"']
    for year, share in ((2014, 0.5), (2015, 0.6), (2016, 0.5)):
        for month in range(1, 13):
            rows += [f'{year},{month},"A",{round(1000 * share)},0', f'{year},{month},"B",{round(1000 * (1 - share))},0']
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_known_season_and_growth_are_recovered_from_monthly_sales(tmp_path: Path) -> None:
    profile = derive_profile(_write_months(tmp_path / "months.csv", range(2010, 2017), growth=0.05))
    mean = sum(_SEASON) / 12
    for found, made in zip(profile.seasonal_index, _SEASON, strict=True):
        assert found == pytest.approx(made / mean, abs=0.01)
    assert profile.annual_growth == pytest.approx(0.05, abs=0.003)
    assert [year for year, _ in profile.yearly_totals] == list(range(2010, 2017))
    assert profile.share_volatility == 0.0  # no make file given


def test_share_volatility_is_the_spread_of_yearly_log_share_changes(tmp_path: Path) -> None:
    months = _write_months(tmp_path / "months.csv", range(2014, 2017), growth=0.0)
    profile = derive_profile(months, _write_makes(tmp_path / "makes.csv"))
    changes = [math.log(0.6 / 0.5), math.log(0.5 / 0.6), math.log(0.4 / 0.5), math.log(0.5 / 0.4)]
    mean = sum(changes) / 4
    expected = math.sqrt(sum((c - mean) ** 2 for c in changes) / 4)
    assert profile.share_volatility == pytest.approx(expected, abs=1e-3)


def test_fewer_than_two_years_of_months_cannot_separate_season_from_trend(tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    _write_months(path, range(2015, 2016), growth=0.0)
    with pytest.raises(ValueError, match="24 months"):
        derive_profile(path)


def test_the_shipped_profile_names_its_source_and_holds_a_normalised_season() -> None:
    profile = load_profile()
    assert "Norway" in profile.source
    assert len(profile.seasonal_index) == 12
    assert sum(profile.seasonal_index) / 12 == pytest.approx(1.0, abs=1e-3)
    assert min(profile.seasonal_index) > 0.8 and max(profile.seasonal_index) < 1.2
    assert -0.1 < profile.annual_growth < 0.1 and profile.share_volatility > 0


def test_the_shipped_file_is_exactly_what_profile_json_writes() -> None:
    shipped = files("opsdesk.planner.demo").joinpath("profile.json").read_text(encoding="utf-8")
    assert profile_json(load_profile()) == shipped
    assert json.loads(shipped)["seasonal_index"] == list(load_profile().seasonal_index)
