"""Which constraint bound each line, and the reason in plain words (found by testing one pack more or less)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from opsdesk.planner.optimisation.model import IntArray, Prepared, shared_model
from opsdesk.planner.optimisation.problem import FloatArray
from opsdesk.planner.optimisation.result import Usage

_TOLERANCE = 1e-6


@dataclass(frozen=True, eq=False)
class PlanCheck:
    """The shared rows evaluated at a plan, so each item can ask what one pack more or less would break."""

    prep: Prepared
    packs: IntArray
    matrix: FloatArray
    activity: FloatArray
    lo: FloatArray
    hi: FloatArray
    names: list[str]

    @staticmethod
    def of(prep: Prepared, packs: IntArray) -> PlanCheck:
        matrix, lo, hi, names = shared_model(prep)
        dense = np.asarray(matrix.toarray(), dtype=np.float64)
        return PlanCheck(prep, packs, dense, dense @ packs.astype(np.float64), lo, hi, names)

    def breaks(self, i: int, step: int) -> list[str]:
        """Shared rows that one pack more (step=1) or less (step=-1) of item i would violate."""
        after = self.activity + step * self.matrix[:, i]
        bad = (after > self.hi + _TOLERANCE) | (after < self.lo - _TOLERANCE)
        return [self.names[r] for r in np.flatnonzero(bad)]

    def row_binding(self, r: int) -> bool:
        """No single pack of any item can move the row further toward its limit."""
        steps = self.matrix[r][self.matrix[r] != 0]
        if steps.size == 0:
            return False
        smallest = float(np.min(np.abs(steps)))
        return bool(self.hi[r] - self.activity[r] < smallest - _TOLERANCE) or bool(
            self.activity[r] - self.lo[r] < smallest - _TOLERANCE
        )


def _money(value: float, currency: str) -> str:
    return f"{currency} {value:,.0f}"


def describe(name: str, check: PlanCheck) -> str:
    """A shared constraint in words with its use, e.g. 'the budget (SGD 498,200 of SGD 500,000 used)'."""
    prep, rules = check.prep, check.prep.problem.constraints
    r = check.names.index(name)
    if name == "budget":
        return f"the budget ({_money(check.activity[r], rules.currency)} of {_money(check.hi[r], rules.currency)} used)"
    if name == "lot_space":
        arriving = float(prep.space @ prep.arrival_stock)
        used, limit = check.activity[r] + arriving, check.hi[r] + arriving
        return f"the lot space ({used:,.0f} of {limit:,.0f} spaces taken when the order arrives)"
    kind, _, key = name.partition(":")
    if kind == "allocation":
        return f"the {key} allocation ({check.activity[r]:,.0f} of {check.hi[r]:,.0f} units)"
    share = rules.mix[int(key)]
    basis = "order" if share.basis == "order" else "stock after the order"
    if kind == "mix_min":
        return f"{share.line}'s minimum share of the {basis} ({share.min_share:.0%})"
    return f"{share.line}'s maximum share of the {basis} ({share.max_share:.0%})"


def free_quantity(prep: Prepared, i: int) -> int:
    """The order with no constraint but whole packs: the pack multiple next to the target worth more."""
    pack, target = int(prep.pack[i]), prep.targets[i]
    gap = target.gap
    low, high = pack * (gap // pack), pack * -(-gap // pack)
    if low == high:
        return low
    curve, start = prep.curves[i], prep.position[i]
    values = prep.sale_value[i] * curve.expected_sales(start + np.array([low, high], dtype=np.float64))
    values -= prep.stock_value[i] * np.array([low, high], dtype=np.float64)
    return low if values[0] >= values[1] else high


def bound_by(check: PlanCheck, i: int, quantity: int) -> tuple[tuple[str, ...], str]:
    """(constraint names, sentence) for why item i's order is not the pack-rounded target."""
    prep = check.prep
    item = prep.problem.items[i]
    pack = int(prep.pack[i])
    free = free_quantity(prep, i)
    if quantity < free:
        names: list[str] = []
        words: list[str] = []
        if item.max_units is not None and quantity + pack > item.max_units:
            names.append("max_units")
            words.append(f"its maximum of {item.max_units} units")
        for row in check.breaks(i, 1):
            names.append(row)
            words.append(describe(row, check))
        if not names:
            return (
                "objective",
            ), f"Held below the target ({free}) by the expected-profit trade-off (no limit reached)."
        return tuple(names), f"Held below the target ({free}) by {_join(words)}."
    if quantity > free:
        names, words = [], []
        if quantity - pack < item.min_units:
            names.append("min_units")
            words.append(f"its minimum of {item.min_units} units")
        need = prep.need()[i]
        if prep.position[i] + quantity - pack < need - _TOLERANCE:
            names.append("min_days_of_supply")
            words.append(f"the minimum of {prep.min_days[i]:g} days of supply ({math.ceil(need - 1e-9)} units)")
        for row in check.breaks(i, -1):
            names.append(row)
            words.append(describe(row, check))
        if not names:
            return (
                "objective",
            ), f"Raised above the target ({free}) by the expected-profit trade-off (no limit forced it)."
        return tuple(names), f"Raised above the target ({free}) by {_join(words)}."
    if pack > 1 and prep.targets[i].gap % pack:
        return ("pack",), f"Rounded to whole packs of {pack} (the target gap is {prep.targets[i].gap})."
    if prep.targets[i].gap == 0:
        return (), "Stock on hand and on order already covers the target."
    return (), "No constraint bound it: the order brings stock up to the target."


def _units(count: int) -> str:
    return f"{count} unit" if count == 1 else f"{count} units"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def usage(check: PlanCheck) -> tuple[Usage, ...]:
    """Each shared limit's use at the plan, with lot space counted as the lot holds it."""
    prep = check.prep
    out = []
    for r, name in enumerate(check.names):
        used, limit = float(check.activity[r]), float(check.hi[r] if math.isfinite(check.hi[r]) else check.lo[r])
        if name == "lot_space":
            arriving = float(prep.space @ prep.arrival_stock)
            used, limit = used + arriving, limit + arriving
        out.append(Usage(name, used, limit, check.row_binding(r)))
    return tuple(out)


def reason(check: PlanCheck, i: int, quantity: int, days_after: float, sentence: str) -> str:
    """The line's reason: forecast, stock, target, days of supply after the order, and what bound it."""
    prep = check.prep
    item, target = prep.problem.items[i], prep.targets[i]
    pack = int(prep.pack[i])
    count = quantity // pack
    packs = f" ({count} pack{'s' if count > 1 else ''} of {pack})" if pack > 1 and quantity else ""
    order = f"Order {quantity}{packs}" if quantity else "Order nothing"
    supply = "no expected demand" if not math.isfinite(days_after) else f"{days_after:.0f} days of supply"
    return (
        f"{order}. Forecast {target.expected_demand:.1f} units over the next {target.protection_weeks:g} weeks "
        f"(lead time {item.lead_time_weeks:g} + review {item.review_weeks:g}; spread from {target.error_source}); "
        f"{item.on_hand} on hand, {item.on_order} on order; target {target.target} = expected "
        f"{target.expected_demand:.1f} + safety {target.safety_stock:.1f} for a {target.critical_ratio:.0%} service "
        f"level. After this order {_units(target.position + quantity)}, {supply}. {sentence}"
    )
