"""The planner's order optimisation on a random but realistic problem: solve time, size, and objective vs greedy.

    .venv/bin/python bench/solver.py [--items 2000] [--seed 7] [--json]

Items are spread over 40 model lines: costs lognormal around 30,000, margins 4-25 %, weekly demand gamma-shaped with
a fifth of the items intermittent (0.02-0.3 a week), 8-week forecasts whose 80/95 % intervals widen with the horizon
(a third carry 26 weeks of backtest residuals instead), lead times of 1-6 weeks, packs of 1-6, some minimum and
maximum units. Limits are set so that they bind: budget 55 % and lot space 70 % of what the targets would need, an
allocation at 60 % of the target gap on every fourth line, two lines with a minimum share of the order, one with a
maximum share of the stock, and 7 days of supply per item.

Beside opsdesk's MILP (`planner.optimisation.solve`), the baseline is a greedy ratio heuristic on the same expected
profit measure: forced packs (minimum units, days of supply) first, then one pack at a time in order of expected
profit per share of budget and lot space used, while budget, lot space and allocations allow; it ignores mix shares.
Both plans are scored by `evaluate`'s measure. A second run tightens the budget until the constraints conflict and
times the explanation (conflict named, relaxations found, relaxed plan solved). Target (issue 11): 2,000 items solve
in under 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
from rich.console import Console
from rich.table import Table

from bench._results import publish
from opsdesk.planner.optimisation import Constraints, DemandForecast, MixShare, PlanItem, Problem, solve
from opsdesk.planner.optimisation.model import IntArray, Prepared, prepare
from opsdesk.planner.optimisation.solve import prepared_totals

console = Console(stderr=True, width=130)
LINES = 40


def make_problem(count: int, seed: int) -> Problem:
    rng = np.random.default_rng(seed)
    items = []
    for k in range(count):
        cost = float(np.round(rng.lognormal(math.log(30_000), 0.5), -2))
        price = float(np.round(cost * (1 + rng.uniform(0.04, 0.25)), -2))
        rate = rng.uniform(0.02, 0.3) if rng.random() < 0.2 else float(rng.gamma(2.0, 2.0))
        season = 1 + 0.2 * np.sin(np.arange(8) / 8 * 2 * np.pi + rng.uniform(0, 6.3))
        mean = rate * season
        width = np.sqrt(rate + 0.05) * (1 + 0.15 * np.arange(8)) * rng.uniform(0.6, 1.4)
        if rng.random() < 1 / 3:
            residuals = rng.normal(0, float(width[0]), 26) + 0.3 * rng.normal(0, float(width[0]), 26).cumsum() / 5
            forecast = DemandForecast.of(mean, residuals=residuals)
        else:
            forecast = DemandForecast.of(
                mean,
                lo80=mean - 1.28 * width,
                hi80=mean + 1.28 * width,
                lo95=mean - 1.96 * width,
                hi95=mean + 2.2 * width,
            )
        pack = int(rng.choice([1, 1, 1, 1, 2, 3, 4, 6]))
        low = int(rng.choice([0, 0, 0, 0, 1, 2]))
        items.append(
            PlanItem(
                id=f"sku{k:05d}",
                line=f"line{k % LINES:02d}",
                unit_cost=cost,
                unit_price=price,
                forecast=forecast,
                lead_time_weeks=float(rng.integers(1, 7)),
                review_weeks=1.0,
                on_hand=int(rng.poisson(rate * 2)),
                on_order=int(rng.poisson(rate)),
                pack=pack,
                min_units=low,
                max_units=None if rng.random() < 0.7 else low + int(rng.integers(6, 40)),
                space=float(rng.choice([1.0, 1.0, 1.5, 2.0])),
            )
        )
    base = Problem(tuple(items), Constraints(min_days_of_supply=7.0))
    prep = prepare(base)
    gaps = np.array([t.gap for t in prep.targets], dtype=np.float64)
    lines = np.array([item.line for item in items])
    allocation = {f"line{j:02d}": int(0.6 * gaps[lines == f"line{j:02d}"].sum()) + 4 for j in range(0, LINES, 4)}
    rules = Constraints(
        budget=float(np.round(0.55 * float(prep.cost @ gaps), -3)),
        lot_space=float(np.round(0.7 * float(prep.space @ (prep.arrival_stock + gaps)))),
        allocation=allocation,
        mix=(
            MixShare("line01", min_share=0.03),
            MixShare("line02", min_share=0.03),
            MixShare("line03", max_share=0.03, basis="stock"),
        ),
        min_days_of_supply=7.0,
    )
    return replace(base, constraints=rules)


def greedy(prep: Prepared) -> tuple[IntArray, int]:
    """Ratio heuristic: forced packs first, then the best expected profit per share of budget and space."""
    rules = prep.problem.constraints
    items = prep.problem.items
    packs = prep.min_packs().copy()
    top = prep.max_packs()
    budget = (rules.budget or math.inf) - float(prep.cost @ (packs * prep.pack))
    space = (rules.lot_space or math.inf) - float(prep.space @ (prep.arrival_stock + packs * prep.pack))
    allocation = {line: float(limit) for line, limit in rules.allocation.items()}
    for i, item in enumerate(items):
        if item.line in allocation:
            allocation[item.line] -= float(packs[i] * prep.pack[i])
    candidates: list[tuple[float, int, int]] = []
    for i in range(prep.size):
        pack = int(prep.pack[i])
        start = prep.position[i] + packs[i] * pack
        limit = min(top[i] - packs[i], math.ceil(max(prep.targets[i].target - start, 0) / pack) + 1)
        steps = np.arange(int(limit) + 1, dtype=np.float64) * pack
        sales = prep.curves[i].expected_sales(start + steps)
        for step in range(1, int(limit) + 1):
            value = prep.sale_value[i] * (sales[step] - sales[step - 1]) - prep.stock_value[i] * pack
            if value <= 0:
                break
            use = prep.cost[i] * pack / max(rules.budget or 1.0, 1.0) + prep.space[i] * pack / max(
                rules.lot_space or 1.0, 1.0
            )
            candidates.append((value / use, i, step))
    candidates.sort(reverse=True)
    taken = np.zeros(prep.size, dtype=np.int64)
    for _, i, step in candidates:
        if taken[i] != step - 1:
            continue  # packs of one item go in order, so a skipped pack ends that item
        pack = int(prep.pack[i])
        cost, room = prep.cost[i] * pack, prep.space[i] * pack
        line = items[i].line
        if cost > budget or room > space or allocation.get(line, math.inf) < pack:
            continue
        budget, space = budget - cost, space - room
        if line in allocation:
            allocation[line] -= pack
        taken[i] = step
    plan = packs + taken
    return plan, _mix_violations(prep, plan)


def _mix_violations(prep: Prepared, packs: IntArray) -> int:
    quantities = packs * prep.pack
    lines = np.array([item.line for item in prep.problem.items])
    bad = 0
    for share in prep.problem.constraints.mix:
        stock = quantities + (prep.position if share.basis == "stock" else 0.0)
        mine, total = float(stock[lines == share.line].sum()), float(stock.sum())
        bad += int(mine < share.min_share * total - 1e-6 or mine > share.max_share * total + 1e-6)
    return bad


def run(count: int, seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    problem = make_problem(count, seed)
    console.print(f"{count:,} items generated in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    prep = prepare(problem)
    prepare_s = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    result = solve(problem)
    solve_s, solve_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    plan, mix_bad = greedy(prep)
    greedy_s = time.perf_counter() - started
    greedy_totals = prepared_totals(prep, plan * prep.pack)
    ours = result.totals
    tight = replace(
        problem.constraints, budget=float(np.round(0.5 * float(prep.cost @ (prep.min_packs() * prep.pack))))
    )
    started = time.perf_counter()
    conflicted = solve(replace(problem, constraints=tight))
    conflict_s = time.perf_counter() - started
    bound = sum(1 for line in result.lines if line.bound_by and line.bound_by != ("pack",))
    return {
        "items": count,
        "seed": seed,
        "cores": os.cpu_count(),
        "variables": result.stats.variables,
        "integer_variables": result.stats.integer_variables,
        "constraints": result.stats.constraints,
        "status": result.status,
        "prepare_s": round(prepare_s, 2),
        "solve_s": round(solve_s, 2),
        "solve_cpu_s": round(solve_cpu_s, 2),
        "load_average": round(os.getloadavg()[0], 1),
        "lines_bound": bound,
        "binding": [u.constraint for u in result.usage if u.binding],
        "opsdesk": {
            "objective": round(ours.objective),
            "gross_profit": round(ours.expected_gross_profit),
            "holding": round(ours.holding_cost),
            "units": ours.units,
            "cost": round(ours.cost),
            "mix_violations": _mix_violations(prep, np.array([line.packs for line in result.lines], dtype=np.int64)),
            "seconds": round(solve_s, 2),
        },
        "greedy": {
            "objective": round(greedy_totals.objective),
            "gross_profit": round(greedy_totals.expected_gross_profit),
            "holding": round(greedy_totals.holding_cost),
            "units": greedy_totals.units,
            "cost": round(greedy_totals.cost),
            "mix_violations": mix_bad,
            "seconds": round(greedy_s + prepare_s, 2),
        },
        "conflict": {
            "status": conflicted.status,
            "seconds": round(conflict_s, 2),
            "conflicting": list(conflicted.infeasibility.conflicting) if conflicted.infeasibility else [],
            "message": conflicted.infeasibility.message if conflicted.infeasibility else "",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = run(args.items, args.seed)
    table = Table(title=f"Order optimisation, {args.items:,} items, {results['cores']} cores (seed {args.seed})")
    for column in ("method", "objective", "gross profit", "holding", "units", "cost", "mix broken", "seconds"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for name, label in (("opsdesk", "opsdesk MILP (HiGHS)"), ("greedy", "greedy ratio heuristic")):
        row = results[name]
        table.add_row(
            label,
            f"{row['objective']:,}",
            f"{row['gross_profit']:,}",
            f"{row['holding']:,}",
            f"{row['units']:,}",
            f"{row['cost']:,}",
            str(row["mix_violations"]),
            f"{row['seconds']:.2f}",
        )
    console.print(table)
    console.print(
        f"MILP: {results['variables']:,} variables ({results['integer_variables']:,} integer), "
        f"{results['constraints']:,} rows, status {results['status']}; demand distributions {results['prepare_s']} s "
        f"of the {results['solve_s']} s wall ({results['solve_cpu_s']} s CPU, load average {results['load_average']}); "
        f"{results['lines_bound']:,} lines bound by a constraint; binding: "
        f"{', '.join(results['binding']) or 'none'}"
    )
    conflict = results["conflict"]
    console.print(f"Conflicting run ({conflict['seconds']} s, {conflict['status']}): {conflict['message']}")
    publish("solver", results, as_json=args.json)


if __name__ == "__main__":
    main()
