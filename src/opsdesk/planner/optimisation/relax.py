"""Conflicting constraints: an elastic program finds the smallest relaxations, each checked to be enough."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from opsdesk.planner.optimisation.model import IntArray, Model, Prepared, _shared_rows, run_milp
from opsdesk.planner.optimisation.problem import MixShare
from opsdesk.planner.optimisation.result import ConstraintChange, Infeasibility, Relaxation

_EPS = 1e-6
MIN_UNITS, MAX_UNITS, MIN_DAYS = "min_units", "max_units", "min_days_of_supply"


def families(prep: Prepared) -> list[str]:
    """Every constraint (or per-item family of them) that a relaxation may loosen."""
    model = Model()
    _shared_rows(model, prep, {})
    names = list(model.rows)
    items = prep.problem.items
    if np.any(prep.need() > prep.position + _EPS):
        names.append(MIN_DAYS)
    if any(item.min_units > 0 for item in items):
        names.append(MIN_UNITS)
    if any(item.max_units is not None for item in items):
        names.append(MAX_UNITS)
    return names


def _scale(prep: Prepared, family: str) -> float:
    """What a unit of slack is measured against, so the relaxation minimised is the relative one."""
    rules = prep.problem.constraints
    units = max(1.0, float(sum(max(t.gap, i.min_units) for t, i in zip(prep.targets, prep.problem.items, strict=True))))
    if family == "budget":
        return max(abs(rules.budget or 0.0), 1.0)
    if family == "lot_space":
        return max(abs(rules.lot_space or 0.0), 1.0)
    kind, _, key = family.partition(":")
    if kind == "allocation":
        return max(float(rules.allocation[key]), 1.0)
    share = rules.mix[int(key)]
    bound = share.min_share if kind == "mix_min" else 1.0 - share.max_share
    base = units + (float(prep.position.sum()) if share.basis == "stock" else 0.0)
    return max(bound * base, 1.0)


def _elastic(prep: Prepared, allowed: set[str]) -> Model:
    """Feasibility with slack: every family in `allowed` may give, at a cost proportional to its relative change."""
    model = Model()
    for item in prep.problem.items:
        model.column(f"packs:{item.id}", 0.0, 0.0, math.inf, integer=True)
    slack: dict[str, int] = {}
    model_rows = Model()
    _shared_rows(model_rows, prep, {})
    for name in model_rows.rows:
        ub = math.inf if name in allowed else 0.0
        slack[name] = model.column(f"slack:{name}", 1.0 / _scale(prep, name), 0.0, ub)
    _shared_rows(model, prep, slack)
    items, pack = prep.problem.items, prep.pack.astype(np.float64)
    for i, item in enumerate(items):
        if item.min_units > 0:
            ub = float(item.min_units) if MIN_UNITS in allowed else 0.0
            j = model.column(f"slack:{MIN_UNITS}:{i}", 1.0 / item.min_units, 0.0, ub)
            model.row(f"{MIN_UNITS}:{i}", [i, j], [pack[i], 1.0], float(item.min_units), math.inf)
        if item.max_units is not None:
            ub = math.inf if MAX_UNITS in allowed else 0.0
            j = model.column(f"slack:{MAX_UNITS}:{i}", 1.0 / max(item.max_units, 1), 0.0, ub)
            model.row(f"{MAX_UNITS}:{i}", [i, j], [pack[i], -1.0], -math.inf, float(item.max_units))
    short = np.flatnonzero(prep.need() > prep.position + _EPS)
    if short.size:
        top = float(prep.min_days.max())
        delta = model.column(f"slack:{MIN_DAYS}", 1.0 / max(top, 1.0), 0.0, top if MIN_DAYS in allowed else 0.0)
        for k in short.tolist():
            lo = float(prep.min_days[k] * prep.daily[k] - prep.position[k])
            model.row(f"{MIN_DAYS}:{k}", [k, delta], [pack[k], float(prep.daily[k])], lo, math.inf)
    return model


def _nice_up(value: float) -> float:
    step = 10.0 ** max(0, math.floor(math.log10(max(value, 1.0))) - 3)
    return math.ceil(value / step - 1e-9) * step


def _share(prep: Prepared, share: MixShare, quantities: IntArray) -> float:
    member = np.array([item.line == share.line for item in prep.problem.items])
    stock = quantities + (prep.position if share.basis == "stock" else 0.0)
    total = float(np.sum(stock))
    return float(np.sum(stock[member])) / total if total > 0 else share.min_share


def _relaxation(prep: Prepared, packs: IntArray, delta: float, used: set[str]) -> Relaxation:
    """The relaxed problem that the elastic plan satisfies, in round numbers, with one sentence per change."""
    problem, rules = prep.problem, prep.problem.constraints
    items = list(problem.items)
    quantities = packs * prep.pack
    changes: list[ConstraintChange] = []
    money = rules.currency
    allocation = dict(rules.allocation)
    mix = list(rules.mix)
    budget, space, min_days = rules.budget, rules.lot_space, rules.min_days_of_supply
    size = 0.0
    for family in sorted(used):
        kind, _, key = family.partition(":")
        if family == "budget" and rules.budget is not None:
            budget = _nice_up(float(prep.cost @ quantities))
            text = f"budget must grow by {money} {budget - rules.budget:,.0f} (to {money} {budget:,.0f})"
            changes.append(ConstraintChange(family, rules.budget, budget, text))
        elif family == "lot_space" and rules.lot_space is not None:
            space = float(math.ceil(float(prep.space @ (prep.arrival_stock + quantities)) - 1e-9))
            text = f"lot space must grow by {space - rules.lot_space:,.0f} (to {space:,.0f})"
            changes.append(ConstraintChange(family, rules.lot_space, space, text))
        elif kind == "allocation":
            units = int(sum(q for q, item in zip(quantities, items, strict=True) if item.line == key))
            allocation[key] = units
            text = f"the {key} allocation must grow by {units - rules.allocation[key]} units (to {units})"
            changes.append(ConstraintChange(family, rules.allocation[key], units, text))
        elif kind in ("mix_min", "mix_max"):
            share = rules.mix[int(key)]
            actual = _share(prep, share, quantities)
            if kind == "mix_min":
                new = replace(share, min_share=math.floor(actual * 100 + 1e-9) / 100)
                before, after, side = share.min_share, new.min_share, "minimum"
            else:
                new = replace(share, max_share=math.ceil(actual * 100 - 1e-9) / 100)
                before, after, side = share.max_share, new.max_share, "maximum"
            mix[int(key)] = new
            text = f"{share.line}'s {side} share of the {share.basis} must move from {before:.0%} to {after:.0%}"
            changes.append(ConstraintChange(family, before, after, text))
        elif family == MIN_DAYS:
            min_days = float(math.floor(rules.min_days_of_supply - delta + 1e-9))
            items = [
                item
                if item.min_days_of_supply is None
                else replace(item, min_days_of_supply=float(math.floor(item.min_days_of_supply - delta + 1e-9)))
                for item in items
            ]
            text = f"minimum days of supply must drop from {rules.min_days_of_supply:g} to {max(min_days, 0):g}"
            changes.append(ConstraintChange(family, rules.min_days_of_supply, max(min_days, 0.0), text))
        elif family in (MIN_UNITS, MAX_UNITS):
            moved = []
            for i, item in enumerate(items):
                q = int(quantities[i])
                if family == MIN_UNITS and q < item.min_units:
                    moved.append((item.label, item.min_units, q))
                    items[i] = replace(item, min_units=q)
                elif family == MAX_UNITS and item.max_units is not None and q > item.max_units:
                    moved.append((item.label, item.max_units, q))
                    items[i] = replace(item, max_units=q)
            listed = ", ".join(f"{label} {a} → {b}" for label, a, b in moved[:5])
            more = f" and {len(moved) - 5} more" if len(moved) > 5 else ""
            verb = "drop" if family == MIN_UNITS else "rise"
            side = "minimum" if family == MIN_UNITS else "maximum"
            text = f"{side} units must {verb}: {listed}{more}"
            before, after = float(sum(m[1] for m in moved)), float(sum(m[2] for m in moved))
            changes.append(ConstraintChange(family, before, after, text))
        else:
            continue
        last = changes[-1]
        size += abs(last.after - last.before) / max(abs(last.before), 1.0)
    relaxed_rules = replace(
        rules, budget=budget, lot_space=space, allocation=allocation, mix=tuple(mix), min_days_of_supply=min_days
    )
    relaxed = replace(problem, items=tuple(items), constraints=relaxed_rules)
    return Relaxation(tuple(changes), size, relaxed)


def _solve_elastic(prep: Prepared, allowed: set[str], time_limit: float) -> Relaxation | None:
    model = _elastic(prep, allowed)
    result = run_milp(model, time_limit)
    if result.x is None or result.status not in (0, 1):
        return None
    x = result.x
    packs = np.rint(x[: prep.size]).astype(np.int64)
    used: set[str] = set()
    delta = 0.0
    for j, name in enumerate(model.column_names):
        if not name.startswith("slack:") or x[j] <= _EPS:
            continue
        family = name.removeprefix("slack:")
        if family.startswith((f"{MIN_UNITS}:", f"{MAX_UNITS}:")):
            family = family.partition(":")[0]
        if family == MIN_DAYS:
            delta = float(x[j])
        used.add(family)
    return _relaxation(prep, packs, delta, used)


def describe_family(prep: Prepared, family: str, relaxation: Relaxation | None) -> str:
    """A constraint family in words with its current value."""
    rules, items = prep.problem.constraints, prep.problem.items
    kind, _, key = family.partition(":")
    if family == "budget":
        return f"the budget ({rules.currency} {rules.budget or 0:,.0f})"
    if family == "lot_space":
        return f"the lot space ({rules.lot_space or 0:,.0f})"
    if kind == "allocation":
        return f"the {key} allocation ({rules.allocation[key]} units)"
    if kind in ("mix_min", "mix_max"):
        share = rules.mix[int(key)]
        bound = share.min_share if kind == "mix_min" else share.max_share
        side = "minimum" if kind == "mix_min" else "maximum"
        return f"{share.line}'s {side} share of the {share.basis} ({bound:.0%})"
    if family == MIN_DAYS:
        return f"the minimum days of supply ({rules.min_days_of_supply:g})"
    named = [c.text.partition(": ")[2] for c in (relaxation.changes if relaxation else ()) if c.constraint == family]
    if family == MIN_UNITS:
        total = sum(item.min_units for item in items)
        detail = f"; relaxing them: {named[0]}" if named else ""
        return f"the minimum units ({sum(1 for i in items if i.min_units)} items, {total} units{detail})"
    return f"the maximum units ({sum(1 for i in items if i.max_units is not None)} items)"


def conflict(prep: Prepared, names: list[str], time_limit: float) -> list[str]:
    """A minimal set of constraint families that cannot hold together (a deletion filter over families)."""
    freed: set[str] = set()
    for family in names:
        if _solve_elastic(prep, freed | {family}, time_limit) is None:
            freed.add(family)
    return [family for family in names if family not in freed]


def explain(prep: Prepared, *, time_limit: float) -> Infeasibility:
    """Names the constraints in conflict and the smallest relaxations: each family alone, else all together."""
    names = families(prep)
    conflicting = conflict(prep, names, time_limit)
    singles: dict[str, Relaxation] = {}
    for family in conflicting:
        found = _solve_elastic(prep, {family}, time_limit)
        if found is not None and found.changes:
            singles[family] = found
    combined = _solve_elastic(prep, set(names), time_limit)
    options = sorted(singles.values(), key=lambda r: r.size)
    if (combined is not None and len(combined.changes) > 1) or not options:
        assert combined is not None, "every family can give, so the elastic program is always feasible"
        options.append(combined)
        options.sort(key=lambda r: r.size)
    words = [describe_family(prep, family, singles.get(family, combined)) for family in conflicting]
    together = _join(words) + (" cannot all hold together" if len(words) > 1 else " cannot be met")
    message = (
        f"No order meets every constraint: {together}. Smallest relaxations: "
        + " — or ".join(option.text + (" (alone)" if len(option.changes) == 1 else " (together)") for option in options)
        + "."
    )
    return Infeasibility(tuple(conflicting), tuple(options), message)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
