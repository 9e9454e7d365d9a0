"""The mixed-integer program: integer packs per item, piecewise expected sales, and every constraint as rows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult, milp

from opsdesk.planner.optimisation.demand import (
    DemandCurve,
    TargetStock,
    demand_curve,
    holding_cost,
    target_stock,
    unit_value,
)
from opsdesk.planner.optimisation.problem import FloatArray, Problem

IntArray = npt.NDArray[np.int64]
MIP_GAP = 1e-4
# Breakpoints of the expected-sales curve: quantiles of protection-period demand.
_CURVE_LEVELS = (0.05, 0.15, 0.3, 0.45, 0.6, 0.7, 0.8, 0.88, 0.94, 0.97, 0.99, 0.999)


@dataclass(frozen=True, eq=False)
class Prepared:
    """Per-item numbers the program and the reasons share, computed once per problem."""

    problem: Problem
    curves: tuple[DemandCurve, ...]
    targets: tuple[TargetStock, ...]
    holding: FloatArray
    sale_value: FloatArray
    stock_value: FloatArray
    position: FloatArray
    arrival_stock: FloatArray
    daily: FloatArray
    min_days: FloatArray
    pack: IntArray
    cost: FloatArray
    space: FloatArray

    @property
    def size(self) -> int:
        return len(self.curves)

    def need(self, days_less: float = 0.0) -> FloatArray:
        """Stock position each item must reach for its minimum days of supply."""
        return np.maximum(self.min_days - days_less, 0.0) * self.daily

    def min_packs(self) -> IntArray:
        items = self.problem.items
        by_min = np.array([math.ceil(i.min_units / max(i.pack, 1)) for i in items], dtype=np.int64)
        by_days = np.ceil(np.round((self.need() - self.position) / self.pack, 9)).astype(np.int64)
        return np.asarray(np.maximum(np.maximum(by_min, by_days), 0), dtype=np.int64)

    def max_packs(self) -> FloatArray:
        return np.array(
            [math.inf if i.max_units is None else math.floor(i.max_units / max(i.pack, 1)) for i in self.problem.items]
        )


def prepare(problem: Problem) -> Prepared:
    items, rules, weights = problem.items, problem.constraints, problem.weights
    curves = tuple(demand_curve(item, weights.bias(item.id)) for item in items)
    targets = tuple(
        target_stock(item, curve, weights, rules.holding_rate_per_year)
        for item, curve in zip(items, curves, strict=True)
    )
    holding = np.array([holding_cost(item, rules.holding_rate_per_year) for item in items])
    values = [unit_value(item, weights, h) for item, h in zip(items, holding, strict=True)]
    position = np.array([float(item.on_hand + item.on_order) for item in items])
    lead = np.array([curve.lead_time_mean for curve in curves])
    return Prepared(
        problem=problem,
        curves=curves,
        targets=targets,
        holding=holding,
        sale_value=np.array([v[0] for v in values]),
        stock_value=np.array([v[1] for v in values]),
        position=position,
        arrival_stock=np.maximum(position - lead, 0.0),
        daily=np.array([curve.daily for curve in curves]),
        min_days=np.array(
            [rules.min_days_of_supply if i.min_days_of_supply is None else i.min_days_of_supply for i in items]
        ),
        pack=np.array([max(1, item.pack) for item in items], dtype=np.int64),
        cost=np.array([item.unit_cost for item in items]),
        space=np.array([item.space for item in items]),
    )


@dataclass
class Model:
    """`A @ x` between `row_lo` and `row_hi`; columns are item packs, then segments or slacks."""

    c: list[float] = field(default_factory=list)
    lb: list[float] = field(default_factory=list)
    ub: list[float] = field(default_factory=list)
    integer: list[int] = field(default_factory=list)
    column_names: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    row_lo: list[float] = field(default_factory=list)
    row_hi: list[float] = field(default_factory=list)
    _entries: tuple[list[int], list[int], list[float]] = field(default_factory=lambda: ([], [], []))

    def column(self, name: str, cost: float, lb: float, ub: float, integer: bool = False) -> int:
        self.c.append(cost)
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(1 if integer else 0)
        self.column_names.append(name)
        return len(self.c) - 1

    def row(
        self, name: str, columns: list[int] | IntArray, values: list[float] | FloatArray, lo: float, hi: float
    ) -> None:
        r, cols, vals = self._entries
        r.extend([len(self.rows)] * len(columns))
        cols.extend(int(j) for j in columns)
        vals.extend(float(v) for v in values)
        self.rows.append(name)
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def matrix(self) -> sparse.csr_array:
        r, cols, vals = self._entries
        return sparse.csr_array((vals, (r, cols)), shape=(len(self.rows), len(self.c)))


def _breakpoints(prep: Prepared, i: int, top: float) -> FloatArray:
    """Order quantities where the expected-sales curve is evaluated exactly: whole packs next to the target and
    to quantiles of demand, so the LP relaxation's vertices are whole packs too."""
    curve, pack, start = prep.curves[i], float(prep.pack[i]), prep.position[i]
    points = np.array(
        [prep.targets[i].target, math.ceil(curve.samples[-1])] + [curve.quantile(level) for level in _CURVE_LEVELS]
    )
    gaps = points - start
    packs = np.concatenate((np.floor(gaps / pack), np.ceil(gaps / pack), [0.0, top / pack]))
    return np.asarray(np.unique(np.clip(packs * pack, 0.0, top)), dtype=np.float64)


def _finite_top(prep: Prepared, i: int, max_packs: float, need: float) -> float:
    """Where the last finite segment ends: the item's cap, else past any demand the forecast allows."""
    pack = float(prep.pack[i])
    if math.isfinite(max_packs):
        return max_packs * pack
    curve = prep.curves[i]
    top = max(math.ceil(curve.samples[-1]), prep.targets[i].target, need) - prep.position[i]
    return float((math.ceil(max(top, 0.0) / pack) + 1) * pack)


def _shared_rows(model: Model, prep: Prepared, slack: dict[str, int]) -> None:
    """Budget, lot space, allocations and mix shares; a family named in `slack` may exceed its limit by that column."""
    rules, items = prep.problem.constraints, prep.problem.items
    idx = np.arange(prep.size)

    def add(name: str, values: FloatArray, lo: float, hi: float, sign: float) -> None:
        cols, vals = list(idx[values != 0]), list(values[values != 0])
        if name in slack:
            cols.append(slack[name])
            vals.append(sign)
        model.row(name, cols, vals, lo, hi)

    if rules.budget is not None:
        add("budget", prep.cost * prep.pack, -math.inf, rules.budget, -1.0)
    if rules.lot_space is not None:
        add(
            "lot_space",
            prep.space * prep.pack,
            -math.inf,
            rules.lot_space - float(prep.space @ prep.arrival_stock),
            -1.0,
        )
    lines = np.array([item.line for item in items])
    for line, limit in rules.allocation.items():
        add(f"allocation:{line}", (lines == line) * prep.pack.astype(np.float64), -math.inf, float(limit), -1.0)
    for k, share in enumerate(rules.mix):
        member = (lines == share.line).astype(np.float64)
        stock = prep.position if share.basis == "stock" else np.zeros(prep.size)
        if share.min_share > 0:
            coef = (member - share.min_share) * prep.pack
            add(f"mix_min:{k}", coef, -float((member - share.min_share) @ stock), math.inf, 1.0)
        if share.max_share < 1:
            coef = (member - share.max_share) * prep.pack
            add(f"mix_max:{k}", coef, -math.inf, -float((member - share.max_share) @ stock), -1.0)


def shared_model(prep: Prepared) -> tuple[sparse.csr_array, FloatArray, FloatArray, list[str]]:
    """The shared rows over item packs alone: (matrix, lower, upper, names), to test a plan against them."""
    model = Model()
    for item in prep.problem.items:
        model.column(f"packs:{item.id}", 0.0, 0.0, math.inf, integer=True)
    _shared_rows(model, prep, {})
    return model.matrix(), np.array(model.row_lo), np.array(model.row_hi), model.rows


def build_plan(prep: Prepared) -> Model:
    """The optimisation: maximise weighted expected profit of the protection period over integer packs."""
    model = Model()
    lo_packs, hi_packs, need = prep.min_packs(), prep.max_packs(), prep.need()
    for i, item in enumerate(prep.problem.items):
        model.column(f"packs:{item.id}", 0.0, float(lo_packs[i]), float(hi_packs[i]), integer=True)
    for i, item in enumerate(prep.problem.items):
        top = _finite_top(prep, i, hi_packs[i], float(need[i]))
        points = _breakpoints(prep, i, top)
        sales = prep.curves[i].expected_sales(prep.position[i] + points)
        lengths = np.diff(points)
        slopes = np.diff(sales) / np.where(lengths > 0, lengths, 1.0)
        first = len(model.c)
        for length, slope in zip(lengths, slopes, strict=True):
            value = prep.sale_value[i] * slope - prep.stock_value[i]
            model.column(f"segment:{item.id}", -value, 0.0, float(length))
        if not math.isfinite(hi_packs[i]):
            model.column(f"segment:{item.id}", prep.stock_value[i], 0.0, math.inf)
        columns = list(range(first, len(model.c)))
        model.row(f"link:{item.id}", [*columns, i], [1.0] * len(columns) + [-float(prep.pack[i])], 0.0, 0.0)
    _shared_rows(model, prep, {})
    return model


def run_milp(model: Model, time_limit: float) -> OptimizeResult:
    """HiGHS on the model (status 0 optimal, 1 stopped with a plan, 2 infeasible)."""
    matrix = model.matrix()
    constraints = [LinearConstraint(matrix, np.array(model.row_lo), np.array(model.row_hi))] if model.rows else []
    return milp(
        np.array(model.c),
        integrality=np.array(model.integer),
        bounds=Bounds(np.array(model.lb), np.array(model.ub)),
        constraints=constraints,
        options={"time_limit": time_limit, "mip_rel_gap": MIP_GAP, "disp": False},
    )
