"""The inventory planner as a conversation solution ("planner"): "how many Explorer XLT should I order?", "why only
2 Broncos?", "what if lot space is 140?" answered from the planner's own stored runs, with the runs cited.

Design:
* Intents `plan_quantity`, `plan_explain` and `plan_what_if` (conversation.intents) are learned only from
  `planner/data/intent_examples.jsonl`, so the order desk's classifier never sees them. One handler answers all three
  (and general questions): rules in `chat_questions` decide the kind first — a what-if needs a constraint and a
  hypothetical, a "why" is an explanation — and the classifier's intent only breaks ties.
* No language model writes a number: the question is read by rules and rapidfuzz against the workspace's item keys,
  names, variants and model lines, and every reply is a template filled from the newest recommendation run (its
  lines' quantities and reason text, its constraint usage) and its forecast run (each item's model and backtest
  error). Replies name the runs (short ids in the text, full ids in `citations` and `metadata["planner"]`).
* A name that fits several items lists them (with their planned quantities) and asks which; the reply `expects`
  the same kind of question, and the session state keeps the candidates, so "the 4WD one" finishes it. The last
  subject is kept too: a bare "why?" explains what was just asked about.
* What-if stores a what-if run (`recommendations.what_if`, `base_run_id` = the newest plan). The chat API needs the
  `write` permission, the same as POST …/recommendations/{id}/what-if, so every caller that can chat may create one;
  a what-if run never replaces the plan (the newest plan is the newest run without a base) nor the constraints, and
  storing it keeps each number in the answer traceable. Values outside a constraint's range are refused before
  anything is solved.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.conversation import Reply, SolutionConfig, Turn, register_handler, register_solution
from opsdesk.core.errors import InvalidInput, NotFound
from opsdesk.planner.chat_questions import (
    ItemRef,
    Kind,
    Subject,
    constraint_changes,
    find_subject,
    loose_words,
    parse_what_if,
    question_kind,
    stated_count,
    words_of,
)
from opsdesk.planner.models import PlannerItem
from opsdesk.planner.runs.forecasts import series_of
from opsdesk.planner.runs.models import ForecastRun, RecommendationLineRow, RecommendationRun
from opsdesk.planner.runs.recommendations import latest_recommendation, lines_of, what_if

SOLUTION = "planner"
INTENT_EXAMPLES = Path(__file__).resolve().parent / "data" / "intent_examples.jsonl"
GREETING = (
    'Hello! I answer from this workspace\'s order plan: ask "how many Explorer XLT should I order?", "why only 2 '
    'Broncos?" or "what if lot space is 140?".'
)
HELP = (
    "I can tell you how many of an item or model line the current plan orders, why (its forecast, stock and the "
    "limit that bound it), and re-solve the plan with another lot space, budget, allocation or days of supply. "
    'For example: "why only 2 Broncos?" or "what if the budget is 1.2m?".'
)
_SHOWN = 12  # lines listed in one reply
_FOLLOW_UP_WORDS = 3  # a question this short with no item in it is about the last one asked about


@dataclass(frozen=True)
class Plan:
    run: RecommendationRun
    lines: dict[str, RecommendationLineRow]
    forecast: ForecastRun
    models: dict[str, str]  # item key -> "its model, backtest MASE x"

    @property
    def cite(self) -> str:
        made = self.run.created_at.strftime("%Y-%m-%d %H:%M")
        return f"recommendation run {self.run.id} ({self.run.status}, {made} UTC)"

    @property
    def cite_forecast(self) -> str:
        return f"forecast run {self.forecast.id} ({self.forecast.horizon} periods ahead)"

    def citations(self) -> list[dict[str, Any]]:
        return [
            {"kind": "recommendation_run", "id": str(self.run.id), "status": self.run.status},
            {"kind": "forecast_run", "id": str(self.forecast.id)},
        ]

    def currency(self) -> str:
        return str(self.run.constraints.get("currency") or "")


async def _items(session: AsyncSession, workspace_id: uuid.UUID) -> list[ItemRef]:
    rows = await session.scalars(
        select(PlannerItem).where(PlannerItem.workspace_id == workspace_id, PlannerItem.active.is_(True))
    )
    return [ItemRef(row.key, row.model_line, row.variant, row.name) for row in rows]


async def _plan(session: AsyncSession, workspace_id: uuid.UUID) -> Plan | None:
    try:
        run = await latest_recommendation(session, workspace_id)
    except NotFound:
        return None
    forecast = await session.get(ForecastRun, run.forecast_run_id)
    assert forecast is not None
    models = {}
    for row in await series_of(session, forecast.id, level="item"):
        error = f", backtest MASE {row.backtest_mase:.2f}" if row.backtest_mase is not None else ""
        models[row.key] = f"{row.model}{error}"
    lines = {line.item_key: line for line in await lines_of(session, run.id)}
    return Plan(run, lines, forecast, models)


async def _no_plan(session: AsyncSession, workspace_id: uuid.UUID) -> str:
    forecasts = await session.scalar(
        select(func.count())
        .select_from(ForecastRun)
        .where(ForecastRun.workspace_id == workspace_id, ForecastRun.status == "succeeded")
    )
    if forecasts:
        step = "A forecast is ready: make the plan with POST …/planner/recommendations (or `opsdesk plan recommend`)."
    else:
        step = (
            "Import items and sales (POST …/planner/imports or `opsdesk plan import`), forecast them "
            "(POST …/planner/forecasts or `opsdesk plan forecast`), then recommend "
            "(POST …/planner/recommendations or `opsdesk plan recommend`)."
        )
    return f"There is no order plan in this workspace yet, so I have no numbers to give. {step}"


# ------------------------------------------------------------------------------------------- describing runs


def describe_constraint(name: str, plan: Plan) -> str:
    """A constraint in words with its use in the run, e.g. "the Bronco allocation (3 of 3 units used)"."""
    usage = next((u for u in plan.run.usage if u.get("constraint") == name), None)
    constraints = plan.run.constraints
    if usage is not None:
        used, limit = float(usage["used"]), float(usage["limit"])
        kind, _, key = name.partition(":")
        if kind == "budget":
            cur = plan.currency()
            text = f"the budget ({cur} {used:,.0f} of {cur} {limit:,.0f} used)"
        elif kind == "lot_space":
            text = f"the lot space ({used:,.0f} of {limit:,.0f} spaces taken when the order arrives)"
        elif kind == "allocation":
            text = f"the {key} allocation ({used:,.0f} of {limit:,.0f} units used)"
        elif kind in ("mix_min", "mix_max") and key.isdigit() and int(key) < len(constraints.get("mix", [])):
            share = constraints["mix"][int(key)]
            bound = share["min_share"] if kind == "mix_min" else share["max_share"]
            text = f"{share['line']}'s {'minimum' if kind == 'mix_min' else 'maximum'} share ({bound:.0%})"
        else:
            text = name
        return text + (", binding" if usage.get("binding") else "")
    return {
        "objective": "the expected-profit trade-off (no limit reached)",
        "min_days_of_supply": f"the minimum of {constraints.get('min_days_of_supply', 0):g} days of supply",
        "pack": "whole packs",
        "min_units": "the item's minimum units",
        "max_units": "the item's maximum units",
    }.get(name, name)


def _label(key: str, items: dict[str, ItemRef]) -> str:
    item = items.get(key)
    return f"{key} ({item.label})" if item is not None and item.label != key else key


def _line_text(key: str, plan: Plan, items: dict[str, ItemRef]) -> str:
    line = plan.lines.get(key)
    if line is None:
        return f"{_label(key, items)}: not in {plan.cite} (it has no forecast in {plan.cite_forecast})."
    model = plan.models.get(key)
    forecast = f" Forecast model: {model}." if model else ""
    stated = "" if line.reason.startswith("Order ") else f"order {line.quantity}. "  # the reason names it first
    return f"{_label(key, items)}: {stated}{line.reason}{forecast}"


def _metadata(kind: Kind, plan: Plan, keys: list[str], **extra: Any) -> dict[str, Any]:
    lines = [{"item_key": k, "quantity": plan.lines[k].quantity} for k in keys if k in plan.lines]
    return {
        "planner": {
            "kind": kind.value,
            "recommendation_run_id": str(plan.run.id),
            "forecast_run_id": str(plan.forecast.id),
            "lines": lines,
            **extra,
        }
    }


def _state(
    keys: list[str], pending: Kind | None = None, candidates: list[str] | None = None, lines: tuple[str, ...] = ()
) -> dict[str, Any]:
    state: dict[str, Any] = {"subject": keys, "lines": list(lines)}
    if pending is not None:
        state["pending"] = {"kind": pending.value, "keys": candidates or []}
    return state


# ------------------------------------------------------------------------------------------- the answers


def answer_plan(kind: Kind, plan: Plan, items: dict[str, ItemRef]) -> Reply:
    """No item named: the whole plan by model line, and what bound it."""
    totals = plan.run.totals
    by_line: dict[str, list[RecommendationLineRow]] = {}
    for line in plan.lines.values():
        by_line.setdefault(line.model_line or "(no line)", []).append(line)
    parts = []
    for name, members in sorted(by_line.items()):
        ordered = ", ".join(f"{m.item_key} {m.quantity}" for m in members if m.quantity)
        parts.append(f"{name} {sum(m.quantity for m in members)}" + (f" ({ordered})" if ordered else ""))
    binding = [describe_constraint(u["constraint"], plan) for u in plan.run.usage if u.get("binding")]
    text = (
        f"The plan ({plan.cite}, on {plan.cite_forecast}) orders {int(totals.get('units', 0))} units for "
        f"{plan.currency()} {float(totals.get('cost', 0)):,.0f}: " + "; ".join(parts) + "."
    )
    text += f" Binding limits: {'; '.join(binding)}." if binding else " No shared limit binds."
    if plan.run.infeasibility:
        text += f" {plan.run.infeasibility.get('message', '')}"
    if kind == Kind.explain:
        text += ' Ask about a model line or item ("why only 2 Broncos?") for each line\'s reason.'
    return Reply(text, state=_state([]), citations=plan.citations(), metadata=_metadata(kind, plan, list(plan.lines)))


def answer_ambiguous(kind: Kind, subject: Subject, plan: Plan, items: dict[str, ItemRef], words: str) -> Reply:
    choices = []
    for item in subject.items[:_SHOWN]:
        line = plan.lines.get(item.key)
        planned = f", {line.quantity} in the plan" if line is not None else ", not in the plan"
        choices.append(f"{item.key} ({item.label}{planned})")
    text = f'"{words}" fits {len(subject.items)} items in {plan.cite}: {"; ".join(choices)}. Which one do you mean?'
    keys = [item.key for item in subject.items]
    return Reply(
        text,
        state=_state([], kind, keys),
        expects=kind.value,
        citations=plan.citations(),
        metadata=_metadata(kind, plan, keys, ambiguous=True),
    )


def answer_subject(kind: Kind, subject: Subject, plan: Plan, items: dict[str, ItemRef], text: str) -> Reply:
    """One item, or the items of a model line: quantities from the stored lines, with their reasons."""
    keys = [item.key for item in subject.items]
    total = sum(plan.lines[k].quantity for k in keys if k in plan.lines)
    if subject.is_line:
        head = f"{' and '.join(subject.lines)}: {total} units in {plan.cite}, on {plan.cite_forecast}"
        ordered = ", ".join(f"{k} {plan.lines[k].quantity}" for k in keys if k in plan.lines)
        head += f" ({ordered})." if ordered else "."
    else:
        head = f"From {plan.cite}, on {plan.cite_forecast}:"
    if plan.run.infeasibility:
        head += " The constraints conflict, so this is the plan under the smallest relaxation."
    said = stated_count(text) if kind == Kind.explain else None
    if said is not None and said != total:
        head += f" The plan orders {total}, not {said}."
    bound = sorted({name for k in keys if k in plan.lines for name in plan.lines[k].bound_by})
    limits = [describe_constraint(name, plan) for name in bound]
    for line in subject.lines if subject.is_line else ():
        name = f"allocation:{line}"
        if name not in bound and any(u.get("constraint") == name for u in plan.run.usage):
            limits.append(describe_constraint(name, plan))
    body = [_line_text(k, plan, items) for k in keys[:_SHOWN]]
    if len(keys) > _SHOWN:
        body.append(f"… and {len(keys) - _SHOWN} more.")
    reply = head + "\n" + "\n".join(f"• {b}" for b in body)
    if limits:
        reply += f"\nWhat bound it: {'; '.join(limits)}."
    return Reply(
        reply, state=_state(keys, lines=subject.lines), citations=plan.citations(), metadata=_metadata(kind, plan, keys)
    )


def _unknown(plan: Plan, items: list[ItemRef], words: str) -> Reply:
    lines = sorted({item.line for item in items if item.line})
    text = (
        f"I can't find \"{words}\" among this workspace's {len(items)} items. The model lines are: "
        f"{', '.join(lines) or 'none'}. Name a line, a trim or an item key (e.g. {items[0].key if items else 'a SKU'})."
    )
    return Reply(text, state=_state([]), citations=plan.citations(), metadata={"planner": {"unknown": words}})


async def answer_what_if(session: AsyncSession, turn: Turn, plan: Plan, items: list[ItemRef]) -> Reply:
    """Re-solves the newest plan with the asked changes, stores the what-if run and says what moved."""
    lines = sorted({item.line for item in items if item.line})
    allocation = {
        str(u["constraint"]).partition(":")[2]: int(u["limit"])
        for u in plan.run.usage
        if str(u.get("constraint", "")).startswith("allocation:")
    }
    resolved = constraint_changes(parse_what_if(turn.text, lines), dict(plan.run.constraints), allocation)
    if resolved.problem is not None:
        return Reply(resolved.problem, metadata={"planner": {"kind": Kind.what_if.value, "refused": True}})
    try:
        result = await what_if(
            session, turn.workspace_id, plan.run.id, resolved.changes, f"chat:{turn.channel}:{turn.sender}"[:320]
        )
    except InvalidInput as exc:
        return Reply(f"I can't re-solve with that: {exc.message} Nothing was re-solved.")
    base, changed, moved = result.base, result.changed, result.moved
    units = tuple(int(v) for v in result.total("units"))
    cost = result.total("cost")
    delta = result.objective_delta
    cur = plan.currency()
    text = (
        f"What if {' and '.join(resolved.said)}: what-if run {changed.id} re-solved {plan.cite} on "
        f"{plan.cite_forecast} ({changed.status}). {len(moved)} lines change; units {units[0]} → {units[1]} "
        f"({units[1] - units[0]:+d}), cost {cur} {cost[0]:,.0f} → {cur} {cost[1]:,.0f}, objective {delta:+,.0f}."
    )
    if moved:
        shown = "; ".join(f"{k} {a} → {b}" for k, a, b in moved[:_SHOWN])
        text += f" Changes: {shown}" + (f" … and {len(moved) - _SHOWN} more." if len(moved) > _SHOWN else ".")
    if changed.infeasibility:
        text += f" {changed.infeasibility.get('message', '')}"
    text += " The current plan and constraints are unchanged."
    citations = [*plan.citations(), {"kind": "what_if_run", "id": str(changed.id), "base_run_id": str(base.id)}]
    extra = {
        "what_if_run_id": str(changed.id),
        "changes": resolved.changes,
        "units_before": units[0],
        "units_after": units[1],
        "moved": [{"item_key": k, "before": a, "after": b} for k, a, b in moved],
    }
    return Reply(text, citations=citations, metadata=_metadata(Kind.what_if, plan, [], **extra))


def _pending(turn: Turn, items: list[ItemRef]) -> tuple[Kind, Subject] | None:
    """The answer to "which one do you mean?": one of the candidates, by name or by its number in the list."""
    pending = dict(turn.state).get("pending")
    if not isinstance(pending, dict):
        return None
    by_key = {item.key: item for item in items}
    candidates = [by_key[k] for k in pending.get("keys", []) if k in by_key]
    words = turn.text.strip().lower().rstrip(".!?")
    ordinals = {"1": 0, "first": 0, "the first": 0, "2": 1, "second": 1, "the second": 1, "3": 2, "third": 2}
    if words in ordinals and ordinals[words] < len(candidates):
        return Kind(pending["kind"]), Subject((candidates[ordinals[words]],))
    subject = find_subject(turn.text, candidates)
    if subject is None or subject.ambiguous or len(subject.items) != 1:
        return None
    return Kind(pending["kind"]), subject


async def answer(turn: Turn) -> Reply:
    """Every planner question; each reply replaces the session state, so a question asked once is never pending."""
    reply = await _answer(turn)
    if reply.state is None:
        reply.state = {"subject": list(dict(turn.state).get("subject", [])), "lines": dict(turn.state).get("lines", [])}
    return reply


async def _answer(turn: Turn) -> Reply:
    """The kind by rules (then the classifier), the subject by fuzzy match, the numbers from stored runs."""
    async with turn.ctx.db.session() as session:
        items = await _items(session, turn.workspace_id)
        plan = await _plan(session, turn.workspace_id)
        kind = question_kind(turn.text, turn.intent.intent)
        picked = _pending(turn, items)
        if picked is None and kind == Kind.other:
            return Reply(GREETING if turn.intent.intent == "greeting" else HELP)
        if plan is None:
            return Reply(await _no_plan(session, turn.workspace_id), metadata={"planner": {"no_plan": True}})
        if picked is None and kind == Kind.what_if:
            return await answer_what_if(session, turn, plan, items)
    by_key = {item.key: item for item in items}
    if picked is not None:
        kind, subject = picked
        return answer_subject(kind, subject, plan, by_key, turn.text)
    words = loose_words(turn.text)
    found = find_subject(turn.text, items)
    if found is None and not words:
        follow_up = len(words_of(turn.text)) <= _FOLLOW_UP_WORDS  # "why?", "and why", "how come?"
        previous = [by_key[k] for k in dict(turn.state).get("subject", []) if k in by_key and follow_up]
        found = Subject(tuple(previous), tuple(dict(turn.state).get("lines", []))) if previous else None
        if found is None:
            return answer_plan(kind, plan, by_key)
    if found is None:
        return _unknown(plan, items, words)
    if found.ambiguous:
        return answer_ambiguous(kind, found, plan, by_key, words or turn.text)
    return answer_subject(kind, found, plan, by_key, turn.text)


def register_planner_chat() -> None:
    """Registers the "planner" solution and its handler for the planner intents and general questions (idempotent)."""
    register_solution(
        SolutionConfig(
            name=SOLUTION,
            examples_path=INTENT_EXAMPLES,
            kb=None,
            stateless_intents=frozenset(),
            greeting=GREETING,
            help_text=HELP,
            escalate_unanswered=False,
        )
    )
    for intent in (Kind.quantity, Kind.explain, Kind.what_if, "general_query"):
        register_handler(SOLUTION, str(intent), answer)
