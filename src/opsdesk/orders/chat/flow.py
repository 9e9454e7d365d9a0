"""The order flow as an explicit LangGraph graph with durable state in PostgreSQL (one thread per conversation).

    parse → verify_outlet → check_stock → anomaly_check → price → draft → confirm ⟲ → delivery_order → invoice → post
      ↘ clarify ⟲ (any question goes here and back to verify_outlet)

``clarify`` and ``confirm`` interrupt the graph and wait for the customer's next message (or, for ``confirm``, a
staff decision over the API). Every step with a side effect is idempotent (order by inbound message id, delivery
order and invoice by order id, accounting by invoice reference), so a process killed anywhere resumes from the
last checkpoint without duplicates. The graph never lets message text choose a step, a price or a quantity beyond
what the parser reads as order lines.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, TypedDict

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core import telemetry
from opsdesk.core.logging import get_logger
from opsdesk.db.locks import named_locks
from opsdesk.orders import billing, posting, repository, service
from opsdesk.orders.catalog.service import parser_cache
from opsdesk.orders.chat import replies
from opsdesk.orders.chat.clarify import (
    OrderRequest,
    apply_answer,
    from_parsed,
    question_key,
    skip_items,
    stock_questions,
    wants_person,
    wants_skip,
)
from opsdesk.orders.chat.decisions import decide
from opsdesk.orders.models import Outlet, Product
from opsdesk.orders.parsing import Catalog
from opsdesk.orders.policy import (
    Anomaly,
    DeliveryPlan,
    OrderPolicy,
    PricedLine,
    find_anomalies,
    plan_delivery,
    totals,
)
from opsdesk.orders.profile import policy_for

log = get_logger(__name__)


class OrderState(TypedDict, total=False):
    workspace_id: str
    session_id: str
    message_id: str
    sender_phone: str
    text: str
    items: list[dict[str, Any]]
    outlet_code: str | None
    urgent: bool
    questions: list[dict[str, Any]]
    notes: list[str]
    asked: dict[str, int]  # how often each open question has been asked (a third time hands over to staff)
    anomalies: list[dict[str, Any]]
    lines: list[dict[str, Any]]  # priced by the price step; the draft stores exactly these
    delivery: dict[str, str]
    order_id: str | None
    notice: str
    waiting_form: str  # a new order form sent while the draft waits; asked: does it replace the draft or add one?
    queued_text: str  # an order form to start when this run ends
    outcome: str
    reply: str
    trace: list[str]


@dataclass(frozen=True, slots=True)
class FlowResult:
    reply: str
    outcome: str  # asked | awaiting_confirmation | completed | cancelled
    awaiting: Literal["clarification", "confirmation"] | None = None
    order_id: uuid.UUID | None = None
    trace: tuple[str, ...] = ()
    queued: str = ""  # an order form to start once this run has ended (sent while its draft waited)


@dataclass(frozen=True, slots=True)
class Position:
    awaiting: str | None  # "clarification" | "confirmation" | None
    stalled: bool  # a run stopped between steps and must be resumed
    order_id: uuid.UUID | None  # the order the current run is about, once drafted
    checkpoint_id: str


def thread_id(workspace_id: uuid.UUID, session_id: str) -> str:
    return f"orders:{workspace_id}:{session_id}"


class OrderFlow:
    """The compiled graph, its checkpointer and a lock per conversation thread (one turn at a time anywhere)."""

    def __init__(self, ctx: AppContext, pool: AsyncConnectionPool[Any], saver: AsyncPostgresSaver) -> None:
        self.ctx = ctx
        self._pool = pool
        self._pause = _parse_pause(ctx.settings.order_flow_pause)
        self.graph = self._build().compile(checkpointer=saver)

    def lock(self, thread: str) -> AbstractAsyncContextManager[None]:
        """Holds one conversation thread in every API process (`LockBusy` when another holds it too long)."""
        return named_locks(self.ctx.extras, self.ctx.db.url).hold(thread)

    async def aclose(self) -> None:
        await self._pool.close()

    # ------------------------------------------------------------------------------------------- driving

    async def start(
        self, workspace_id: uuid.UUID, session_id: str, message_id: str, sender_phone: str | None, text: str
    ) -> FlowResult:
        """A new order conversation on this thread (whatever the thread held before is finished or dropped)."""
        state: OrderState = {
            "workspace_id": str(workspace_id),
            "session_id": session_id,
            "message_id": message_id,
            "sender_phone": sender_phone or "",
            "text": text,
            "items": [],
            "outlet_code": None,
            "urgent": False,
            "questions": [],
            "notes": [],
            "asked": {},
            "anomalies": [],
            "lines": [],
            "delivery": {},
            "order_id": None,
            "notice": "",
            "waiting_form": "",
            "queued_text": "",
            "outcome": "",
            "reply": "",
            "trace": [],
        }
        return await self._run(workspace_id, session_id, state)

    async def answer(self, workspace_id: uuid.UUID, session_id: str, value: dict[str, Any]) -> FlowResult:
        """Resumes the waiting step with the customer's message (``{"text": …}``) or a decision."""
        return await self._run(workspace_id, session_id, Command(resume=value))

    async def resume(self, workspace_id: uuid.UUID, session_id: str) -> FlowResult:
        """Continues a run that stopped between steps (a crash): from its last checkpoint."""
        return await self._run(workspace_id, session_id, None)

    async def position(self, workspace_id: uuid.UUID, session_id: str) -> Position:
        """Where the conversation's flow stands: waiting for an answer, stopped between steps (a crash), or idle."""
        snapshot = await self.graph.aget_state(_config(workspace_id, session_id))
        values = snapshot.values or {}
        order_id = uuid.UUID(values["order_id"]) if values.get("order_id") else None
        checkpoint = str(snapshot.config.get("configurable", {}).get("checkpoint_id", ""))
        for task in snapshot.tasks:
            for pending in task.interrupts:
                kind = pending.value.get("kind") if isinstance(pending.value, dict) else None
                return Position(str(kind or "clarification"), False, order_id, checkpoint)
        return Position(None, bool(snapshot.next), order_id, checkpoint)

    async def _run(self, workspace_id: uuid.UUID, session_id: str, value: Any) -> FlowResult:
        result = await self.graph.ainvoke(value, _config(workspace_id, session_id))
        trace = tuple(result.get("trace") or ())
        order_id = uuid.UUID(result["order_id"]) if result.get("order_id") else None
        for pending in result.get("__interrupt__") or ():
            data = pending.value
            awaiting = "confirmation" if data.get("kind") == "confirmation" else "clarification"
            outcome = "awaiting_confirmation" if awaiting == "confirmation" else "asked"
            return FlowResult(str(data["question"]), outcome, awaiting, order_id, trace)  # type: ignore[arg-type]
        reply, outcome, queued = (str(result.get(key) or "") for key in ("reply", "outcome", "queued_text"))
        return FlowResult(reply, outcome, None, order_id, trace, queued)

    # --------------------------------------------------------------------------------------------- graph

    def _build(self) -> StateGraph[OrderState]:
        graph = StateGraph(OrderState)
        for name, node in (
            ("parse", self._parse),
            ("clarify", self._clarify),
            ("verify_outlet", self._verify_outlet),
            ("check_stock", self._check_stock),
            ("anomaly_check", self._anomaly_check),
            ("price", self._price),
            ("draft", self._draft),
            ("confirm", self._confirm),
            ("delivery_order", self._delivery_order),
            ("invoice", self._invoice),
            ("post", self._post),
        ):
            graph.add_node(name, _traced_step(name, node))  # type: ignore[call-overload]
        graph.add_edge(START, "parse")
        graph.add_conditional_edges("parse", _ask_or("verify_outlet"), ["clarify", "verify_outlet"])
        graph.add_conditional_edges("clarify", _after_clarify, ["clarify", "verify_outlet", END])
        graph.add_conditional_edges("verify_outlet", _ask_or("check_stock"), ["clarify", "check_stock"])
        graph.add_conditional_edges("check_stock", _ask_or("anomaly_check"), ["clarify", "anomaly_check"])
        graph.add_edge("anomaly_check", "price")
        graph.add_edge("price", "draft")
        graph.add_edge("draft", "confirm")
        graph.add_conditional_edges("confirm", _after_confirm, ["confirm", "delivery_order", END])
        graph.add_edge("delivery_order", "invoice")
        graph.add_edge("invoice", "post")
        graph.add_edge("post", END)
        return graph

    async def _parse(self, state: OrderState) -> dict[str, Any]:
        workspace_id = uuid.UUID(state["workspace_id"])
        async with self.ctx.db.session() as session:
            parser = await parser_cache(self.ctx.extras).parser(session, workspace_id)
        request = from_parsed(parser.parse(state["text"], state.get("sender_phone") or None))
        return {**request.to_state(), "trace": [*state.get("trace", []), "parse"]}

    async def _clarify(self, state: OrderState) -> dict[str, Any]:
        answer = interrupt({"kind": "clarification", "question": replies.clarification(state["questions"])})
        text = str(answer.get("text", "")) if isinstance(answer, dict) else str(answer)
        trace = [*state.get("trace", []), "clarify"]
        if (isinstance(answer, dict) and answer.get("decision") == "cancel") or replies.classify(
            text
        ) is replies.Answer.NO:
            return {"outcome": "cancelled", "reply": replies.cancelled(None), "questions": [], "trace": trace}
        workspace_id = uuid.UUID(state["workspace_id"])
        async with self.ctx.db.session() as session:
            parser = await parser_cache(self.ctx.extras).parser(session, workspace_id)
        before = OrderRequest.from_state(dict(state))
        if wants_person(text):
            return self._hand_over(before, parser.catalog, trace, "asked for a person")
        request = apply_answer(before, text, parser, state.get("sender_phone") or None)
        if wants_skip(text):
            request = skip_items(request)
        # The same question is never asked a third time: the draft goes to staff instead.
        asked = dict(state.get("asked") or {})
        asked.update({question_key(q): asked.get(question_key(q), 0) + 1 for q in state["questions"]})
        if any(asked.get(question_key(q), 0) >= 2 for q in request.questions):
            return self._hand_over(request, parser.catalog, trace, "the same question would be asked a third time")
        return {**request.to_state(), "asked": asked, "text": f"{state['text']}\n{text}", "trace": trace}

    def _hand_over(self, request: OrderRequest, catalog: Catalog, trace: list[str], why: str) -> dict[str, Any]:
        """Ends the conversation's order flow with staff taking over; the reply carries the draft as understood."""
        items = [(catalog.product(sku).name, qty, catalog.product(sku).unit) for sku, qty in request.items.items()]
        reply = replies.handed_over(items, request.outlet_code, [str(q.get("question", "")) for q in request.questions])
        log.info("order_handed_over", reason=why, items=len(items), open_questions=len(request.questions))
        return {"outcome": "handed_over", "reply": reply, "questions": [], "trace": trace}

    async def _verify_outlet(self, state: OrderState) -> dict[str, Any]:
        trace = [*state.get("trace", []), "verify_outlet"]
        code = state.get("outlet_code")
        outlet = await self._outlet(uuid.UUID(state["workspace_id"]), code) if code else None
        if outlet is None:
            asked = "Which outlet is this order for? Please send the outlet name."
            return {"questions": [{"kind": "missing_outlet", "question": asked}], "outlet_code": None, "trace": trace}
        return {"trace": trace}

    async def _check_stock(self, state: OrderState) -> dict[str, Any]:
        workspace_id = uuid.UUID(state["workspace_id"])
        wanted = {str(i["sku"]): int(i["quantity"]) for i in state["items"]}
        async with self.ctx.db.session() as session:
            products = {
                p.sku: p
                for p in await session.scalars(
                    select(Product).where(Product.workspace_id == workspace_id, Product.sku.in_(list(wanted)))
                )
            }
        questions = stock_questions(wanted, products)
        return {"questions": questions, "trace": [*state.get("trace", []), "check_stock"]}

    async def _anomaly_check(self, state: OrderState) -> dict[str, Any]:
        policy = await self._policy(state)
        workspace_id = uuid.UUID(state["workspace_id"])
        async with self.ctx.db.session() as session:
            lines = await self._lines(session, workspace_id, state)
            skus = [line.sku for line in lines]
            history, others = await repository.usual_quantities(
                session,
                workspace_id,
                str(state["outlet_code"]),
                skus,
                policy.anomaly_history_orders,
                policy.anomaly_min_history,
            )
        found = find_anomalies(lines, history, Decimal(0), policy, others)  # the total is checked in price
        return {"anomalies": [a.to_dict() for a in found], "trace": [*state.get("trace", []), "anomaly_check"]}

    async def _price(self, state: OrderState) -> dict[str, Any]:
        """Catalog prices (never a price from the message), tax, and the delivery day and slot."""
        policy = await self._policy(state)
        workspace_id = uuid.UUID(state["workspace_id"])
        async with self.ctx.db.session() as session:
            lines = await self._lines(session, workspace_id, state)
        outlet = await self._outlet(workspace_id, str(state["outlet_code"]))
        over_total = find_anomalies([], {}, totals(lines, policy.tax_rate).total, policy)
        usual_days = outlet.usual_days if outlet else []
        plan = plan_delivery(datetime.now(UTC), usual_days, bool(state.get("urgent")), policy)
        return {
            "lines": [line.to_dict() for line in lines],
            "anomalies": [*state.get("anomalies", []), *(a.to_dict() for a in over_total)],
            "delivery": {"day": plan.day.isoformat(), "slot": plan.slot},
            "trace": [*state.get("trace", []), "price"],
        }

    async def _draft(self, state: OrderState) -> dict[str, Any]:
        policy = await self._policy(state)
        workspace_id = uuid.UUID(state["workspace_id"])
        lines = [PricedLine.from_dict(line) for line in state["lines"]]
        delivery = state["delivery"]
        async with self.ctx.db.session() as session:
            outlet = await session.scalar(
                select(Outlet).where(Outlet.workspace_id == workspace_id, Outlet.code == state["outlet_code"])
            )
            assert outlet is not None  # verify_outlet ran
            draft = service.DraftOrder(
                workspace_id=workspace_id,
                message_id=state["message_id"],
                session_id=state["session_id"],
                thread_id=thread_id(workspace_id, state["session_id"]),
                sender_phone=state.get("sender_phone", ""),
                text=state["text"][:20_000],
                outlet=outlet,
                urgent=bool(state.get("urgent")),
                lines=lines,
                totals=totals(lines, policy.tax_rate),
                plan=DeliveryPlan(date.fromisoformat(delivery["day"]), delivery["slot"]),
                anomalies=[Anomaly(**a) for a in state.get("anomalies", [])],
                notes=state.get("notes", []),
            )
            order = await service.create_draft(session, draft, policy)
            order_id = str(order.id)
        return {"order_id": order_id, "notice": "", "trace": [*state.get("trace", []), "draft"]}

    async def _confirm(self, state: OrderState) -> dict[str, Any]:
        policy = await self._policy(state)
        workspace_id, order_id = uuid.UUID(state["workspace_id"]), uuid.UUID(str(state["order_id"]))
        trace = [*state.get("trace", []), "confirm"]
        async with self.ctx.db.session() as session:
            order = await repository.get_order(session, workspace_id, order_id)
            question = replies.confirmation(
                order, await repository.lines_of(session, order.id), policy.tax_label, state.get("notice", "")
            )
        if order.status in ("confirmed", "dispatched", "delivered"):
            return {"outcome": "confirmed", "notice": "", "trace": trace}
        if order.status == "cancelled":
            return {"outcome": "cancelled", "reply": replies.cancelled(order), "trace": trace}
        answer = interrupt({"kind": "confirmation", "question": question, "order_id": str(order_id)})
        value = answer if isinstance(answer, dict) else {"text": str(answer)}
        update = await decide(
            self.ctx, policy, order, value, state.get("sender_phone") or None, state.get("waiting_form") or ""
        )
        return {**update, "trace": trace}

    async def _delivery_order(self, state: OrderState) -> dict[str, Any]:
        policy = await self._policy(state)
        async with self.ctx.db.session() as session:
            await billing.ensure_delivery_order(session, uuid.UUID(str(state["order_id"])), policy, datetime.now(UTC))
        await self._maybe_pause("delivery_order")
        return {"trace": [*state.get("trace", []), "delivery_order"]}

    async def _invoice(self, state: OrderState) -> dict[str, Any]:
        policy = await self._policy(state)
        async with self.ctx.db.session() as session:
            await billing.ensure_invoice(session, uuid.UUID(str(state["order_id"])), policy, datetime.now(UTC))
        await self._maybe_pause("invoice")
        return {"trace": [*state.get("trace", []), "invoice"]}

    async def _post(self, state: OrderState) -> dict[str, Any]:
        policy = await self._policy(state)
        workspace_id, order_id = uuid.UUID(state["workspace_id"]), uuid.UUID(str(state["order_id"]))
        async with self.ctx.db.session() as session:
            invoice = await billing.ensure_invoice(session, order_id, policy, datetime.now(UTC))
            invoice_id = invoice.id
        outcome = await posting.post_invoice(self.ctx, invoice_id, after_call=lambda: self._maybe_pause("post"))
        async with self.ctx.db.session() as session:
            order = await repository.get_order(session, workspace_id, order_id)
            delivery = await billing.ensure_delivery_order(session, order_id, policy, datetime.now(UTC))
            reply = replies.completed(
                order,
                delivery.number,
                outcome.number,
                policy.tax_label,
                policy.payment_terms_days,
                outcome.status == "posted",
            )
        return {"outcome": "completed", "reply": reply, "trace": [*state.get("trace", []), "post"]}

    # ------------------------------------------------------------------------------------------- helpers

    async def _policy(self, state: OrderState) -> OrderPolicy:
        """The workspace's order rules now: a settings change applies from the next step on."""
        return await policy_for(self.ctx, uuid.UUID(state["workspace_id"]))

    async def _outlet(self, workspace_id: uuid.UUID, code: str) -> Outlet | None:
        async with self.ctx.db.session() as session:
            return await session.scalar(
                select(Outlet).where(Outlet.workspace_id == workspace_id, Outlet.code == code, Outlet.active.is_(True))
            )

    async def _lines(self, session: AsyncSession, workspace_id: uuid.UUID, state: OrderState) -> list[PricedLine]:
        parser = await parser_cache(self.ctx.extras).parser(session, workspace_id)
        items = [(str(i["sku"]), int(i["quantity"])) for i in state["items"]]
        derived = {rule.derived_sku for rule in parser.catalog.rules}
        return service.price_request(
            parser.catalog, items, await repository.stock_levels(session, workspace_id, derived)
        )

    async def _maybe_pause(self, step: str) -> None:
        seconds = self._pause.get(step)
        if seconds:
            log.warning("order_flow_paused", step=step, seconds=seconds)
            await asyncio.sleep(seconds)


def _ask_or(next_step: str) -> Any:
    def route(state: OrderState) -> str:
        return "clarify" if state.get("questions") else next_step

    return route


def _after_clarify(state: OrderState) -> str:
    if state.get("outcome") in ("cancelled", "handed_over"):
        return END
    return "clarify" if state.get("questions") else "verify_outlet"


def _after_confirm(state: OrderState) -> str:
    outcome = state.get("outcome")
    if outcome == "confirmed":
        return "delivery_order"
    return END if outcome == "cancelled" else "confirm"


def _config(workspace_id: uuid.UUID, session_id: str) -> Any:
    return {"configurable": {"thread_id": thread_id(workspace_id, session_id)}, "recursion_limit": 100}


def _parse_pause(spec: str) -> dict[str, float]:
    pauses: dict[str, float] = {}
    for part in spec.split(","):
        step, _, seconds = part.partition("=")
        if step.strip() and seconds.strip():
            pauses[step.strip()] = float(seconds)
    return pauses


def _traced_step(name: str, node: Any) -> Any:
    """The node inside a span `flow.step` named after it; a flow's interrupt (a question) is not a failure."""
    return telemetry.traced(f"orders.flow.{name}", expected=(GraphBubbleUp,), **{"opsdesk.flow.step": name})(node)
