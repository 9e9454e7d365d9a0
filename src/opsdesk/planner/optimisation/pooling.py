"""A slow item's weekly rate shrunk toward its model line's (empirical Bayes, precision-weighted).

An item selling half a vehicle a week estimates its rate from its latest `OWN_RATE_WEEKS` weeks with a relative
error of about 16 %. Configurations of one model line share the line's ups and downs, so a second estimate comes
from the line: the item's share of the line in the weeks before those (the older weeks) times the line's rate in
the latest ones. Neither is trusted by a fixed rule: the own rate r has a sampling variance v = phi x m / n (phi its
weeks' variance-to-mean ratio, at least Poisson's 1, m the line estimate, n the weeks), and how far the line
estimate misses an item's rate beyond that chance is read from the line's items themselves: the between-item
variance tau² = c x m², c = max(0, mean(((r - m)² - v) / m²)) over the line's items compared (James-Stein; a
Poisson-gamma prior with mean m and Clayton and Kaldor's moment estimate). The shrunk rate is w r + (1 - w) m with
w = tau² / (tau² + v): a fast item, or items whose shares really moved, keep their own rate; slow items of steady
shares lean on the line. The shrunk rate's own uncertainty is w v. The line's total rate is kept: the line
estimates of its items add up to its latest rate.

Items compared: whole-unit items that carry their own weeks (`DemandForecast.recent_demand`), sold something in the
latest `OWN_RATE_WEEKS`, and have at least `MIN_OLDER_WEEKS` weeks before them; the weeks of items in one line are
aligned by their end (a forecast keeps each series' latest weeks up to its origin), so only items with equally many
weeks are compared. An item alone in its line, or without older weeks, keeps its own rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from opsdesk.planner.optimisation.problem import FloatArray, PlanItem

OWN_RATE_WEEKS = 78  # the latest weeks that set a slow item's own rate and spread
MIN_OLDER_WEEKS = 26  # weeks before those that must exist before an item's share of its line is read from them


@dataclass(frozen=True)
class PooledRate:
    """An item's weekly rate: its own, its line's estimate, the weight on its own, and the shrunk rate."""

    own: float
    line: float
    weight: float
    rate: float
    weeks: int  # own weeks behind `own`

    @property
    def moved(self) -> float:
        """How far the shrunk rate sits from the own one, as a fraction of the own rate."""
        return self.rate / self.own - 1.0 if self.own > 0 else 0.0


@dataclass(frozen=True)
class _Member:
    item_id: str
    recent: FloatArray
    older: FloatArray


def own_weeks(item: PlanItem) -> FloatArray | None:
    """The item's whole-unit weeks when it carries any (all of them, oldest first), else None."""
    weeks = item.forecast.recent_demand
    if weeks is None or weeks.size == 0 or not np.isfinite(weeks).all():
        return None
    if not np.array_equal(weeks, np.round(weeks)):
        return None
    return weeks


def line_rates(items: Sequence[PlanItem]) -> dict[str, PooledRate]:
    """Each comparable item's shrunk rate (module docstring), by item id; other items are absent."""
    groups: dict[tuple[str, int], list[_Member]] = defaultdict(list)
    for item in items:
        weeks = own_weeks(item)
        if weeks is None or weeks.size < OWN_RATE_WEEKS + MIN_OLDER_WEEKS:
            continue
        recent, older = weeks[-OWN_RATE_WEEKS:], weeks[:-OWN_RATE_WEEKS]
        if recent.sum() <= 0:
            continue
        groups[(item.line, weeks.size)].append(_Member(item.id, recent, older))
    rates: dict[str, PooledRate] = {}
    for members in groups.values():
        line = _line_estimates(members)
        drift = _share_drift(line)
        for e in line:
            tau2 = e.line_variance + drift * e.line * e.line
            weight = tau2 / (tau2 + e.own_variance) if tau2 + e.own_variance > 0 else 1.0
            rates[e.member.item_id] = PooledRate(
                own=e.own,
                line=e.line,
                weight=weight,
                rate=weight * e.own + (1 - weight) * e.line,
                weeks=e.member.recent.size,
            )
    return rates


@dataclass(frozen=True)
class _Estimate:
    member: _Member
    own: float  # r: the latest weeks' rate
    line: float  # m: the share of the line in the older weeks x the line's latest rate
    own_variance: float  # v: the chance in r
    line_variance: float  # u: the chance in m (its older share's counts)


def _line_estimates(members: Sequence[_Member]) -> list[_Estimate]:
    """Both estimates of every item of one line, with the variance that chance alone gives each."""
    if len(members) < 2:
        return []
    older_total = sum(float(m.older.sum()) for m in members)
    recent_rate = sum(float(m.recent.mean()) for m in members)
    if older_total <= 0:
        return []
    out = []
    for member in members:
        older = float(member.older.sum())
        if older <= 0:
            continue
        prior = older / older_total * recent_rate
        phi = _dispersion(member.recent)
        out.append(
            _Estimate(
                member, float(member.recent.mean()), prior, phi * prior / member.recent.size, phi * prior**2 / older
            )
        )
    return out if len(out) >= 2 else []


def _dispersion(weeks: FloatArray) -> float:
    """Variance-to-mean ratio of the weeks, at least Poisson's 1."""
    mean = float(weeks.mean())
    return max(1.0, float(weeks.var(ddof=1)) / mean) if mean > 0 and weeks.size > 1 else 1.0


def _share_drift(line: Sequence[_Estimate]) -> float:
    """c: the mean squared relative miss of the line estimates beyond the chance in both estimates.

    Every item counts once (Clayton and Kaldor's moment estimate for Poisson rates with a gamma prior): weighted by
    size, one fast item would decide how far every slow one may lean on its line.
    """
    if not line:
        return 0.0
    excess = [((e.own - e.line) ** 2 - e.own_variance - e.line_variance) / e.line**2 for e in line]
    return max(0.0, float(np.mean(excess)))
