"""The banking call as an explicit LangGraph graph, one thread per call, checkpointed like the order flow.

    greet → listen ⟲ → number → pin → serve ⇄ confirm_block / dispute
              ↘ transfer (a person; "agent", three failed tries, an unsure desk, the bank not answering)
              ↘ goodbye (the caller is done, or silent three times)

``listen`` is the one step that waits for the caller (an interrupt): it says what is queued plus the step's prompt,
then takes silence, "agent" and "say that again" itself and hands anything else to the step the call is at.
Digits and words reach the graph masked — PINs, card and account numbers never enter a checkpoint: the caller's
raw input waits in a per-call vault in this process, taken once by the step that needs it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal, TypedDict

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from opsdesk.core.logging import get_logger
from opsdesk.core.masking import mask_number
from opsdesk.voice.banking.backend import (
    BackendUnavailable,
    BankBackend,
    BankError,
    BlockReason,
    CardStatus,
    CustomerRef,
    UnknownCustomer,
)
from opsdesk.voice.banking.dialogue import replies
from opsdesk.voice.banking.dialogue.dates import spoken_date
from opsdesk.voice.banking.dialogue.intents import FlowIntent, IntentReader, short_answer, spoken_digits
from opsdesk.voice.banking.dialogue.privacy import Vault, mask_caller_text, mask_keys

log = get_logger(__name__)

_NO_PIN = re.compile(
    r"\b(forgot|forgotten|forget|don'?t (know|have|remember)|do not (know|have|remember)|can'?t remember|"
    r"cannot remember|no pin|security questions?|date of birth)\b"
)
MAX_TRIES = 3  # account number, PIN: the third failure hands over to a person
MAX_SILENT_PROMPTS = 2  # re-prompts after silence; the next silence ends the call
MAX_UNCLEAR = 2  # answers not understood in a row before a person takes over
_KEPT = 50  # steps and intents kept in the state: a 30-minute call stays bounded

Step = Literal["number", "pin", "dob", "secret", "serve", "confirm_block", "dispute"]
InputKind = Literal["text", "digits", "silence"]
Auth = Literal["none", "passed", "failed", "unknown_account", "backend_unavailable"]


class CallFlowState(TypedDict, total=False):
    call_id: str
    caller: str
    step: str
    prompt: str
    say: list[str]  # sentences queued before the next prompt
    last_said: list[str]
    event: dict[str, Any]  # the caller's last input: kind, masked text, vault reference
    route: str
    customer: dict[str, str] | None  # CustomerRef fields (masked number only)
    auth: str
    number_tries: int
    pin_tries: int
    silences: int
    unclear: int
    intents: list[str]
    heard: list[str]  # what the caller said, masked, newest last (for the transfer summary)
    dob_ref: str  # the date of birth said, by its vault reference (never the date itself)
    block_candidates: list[dict[str, str]]
    block_reason: str
    end: str  # "" | transfer | hangup
    end_reason: str
    summary: str
    trace: list[str]


@dataclass(frozen=True, slots=True)
class Turn:
    """What the desk does after one input: sentences to say, then wait for `step`, or end the call."""

    say: tuple[str, ...]
    step: str  # what the caller is asked for; "" once the call is ending
    end: str  # "" | transfer | hangup
    end_reason: str = ""
    auth: str = "none"
    intents: tuple[str, ...] = ()
    summary: str = ""
    trace: tuple[str, ...] = ()


def thread_of(prefix: str, call_id: str) -> str:
    return f"voice:{prefix}:{call_id}"


class BankingFlow:
    """The compiled graph and its checkpointer; `start` at answer, `answer` on every input, `finish` at hang-up."""

    def __init__(
        self,
        backend: BankBackend,
        reader: IntentReader,
        checkpointer: BaseCheckpointSaver[Any],
        *,
        thread_prefix: str = "local",
        greeting: str = replies.GREETING,
    ) -> None:
        self.backend = backend
        self.reader = reader
        self.checkpointer = checkpointer
        self.thread_prefix = thread_prefix
        self.greeting = greeting
        self._vault = Vault()
        self._steps: dict[str, str] = {}
        self.graph = self._build().compile(checkpointer=checkpointer)

    # ------------------------------------------------------------------------------------------- driving

    async def start(self, call_id: str, caller: str) -> Turn:
        state: CallFlowState = {
            "call_id": call_id,
            "caller": caller,
            "step": "number",
            "prompt": replies.ASK_NUMBER,
            "say": [],
            "last_said": [],
            "event": {},
            "route": "",
            "customer": None,
            "auth": "none",
            "number_tries": 0,
            "pin_tries": 0,
            "silences": 0,
            "unclear": 0,
            "intents": [],
            "heard": [],
            "dob_ref": "",
            "block_candidates": [],
            "block_reason": BlockReason.LOST.value,
            "end": "",
            "end_reason": "",
            "summary": "",
            "trace": [],
        }
        return await self._run(call_id, state)

    async def answer(self, call_id: str, kind: InputKind, value: str = "") -> Turn:
        """The caller's input: words heard, digits keyed (without the '#'), or silence."""
        step = self._steps.get(call_id, "pin")  # unknown: mask as strictly as at the PIN
        event: dict[str, Any] = {"kind": kind}
        if kind == "text":
            event.update(masked=mask_caller_text(value, step), ref=self._vault.put(call_id, value))
        elif kind == "digits":
            event.update(masked=mask_keys(value, step), ref=self._vault.put(call_id, value))
        return await self._run(call_id, Command(resume=event))

    async def finish(self, call_id: str) -> None:
        """Forgets the call: its vault, and its checkpoints (the call record keeps what matters, masked)."""
        self._vault.drop(call_id)
        self._steps.pop(call_id, None)
        await self.checkpointer.adelete_thread(thread_of(self.thread_prefix, call_id))

    def masked(self, call_id: str, kind: InputKind, value: str) -> str:
        """The caller's input as the call record keeps it (masked for the step the call is at)."""
        step = self._steps.get(call_id, "pin")
        return mask_caller_text(value, step) if kind == "text" else mask_keys(value, step)

    async def _run(self, call_id: str, value: Any) -> Turn:
        config: Any = {"configurable": {"thread_id": thread_of(self.thread_prefix, call_id)}, "recursion_limit": 60}
        result = await self.graph.ainvoke(value, config)
        say, step, end = tuple(result.get("say") or ()), "", str(result.get("end") or "hangup")
        for pending in result.get("__interrupt__") or ():
            say, step, end = tuple(pending.value["say"]), str(pending.value["step"]), ""
        self._steps[call_id] = step
        return Turn(
            say,
            step,
            end,
            end_reason=str(result.get("end_reason") or ""),
            auth=str(result.get("auth") or "none"),
            intents=tuple(result.get("intents") or ()),
            summary=str(result.get("summary") or ""),
            trace=tuple(result.get("trace") or ()),
        )

    # --------------------------------------------------------------------------------------------- graph

    def _build(self) -> StateGraph[CallFlowState]:
        graph = StateGraph(CallFlowState)
        handlers = {
            "number": self._number,
            "pin": self._pin,
            "dob": self._dob,
            "secret": self._secret,
            "serve": self._serve,
            "confirm_block": self._confirm_block,
            "dispute": self._dispute,
        }
        graph.add_node("greet", self._greet)
        graph.add_node("listen", self._listen)
        for name, handler in handlers.items():
            graph.add_node(name, _guarded(name, handler))  # type: ignore[arg-type]
        graph.add_node("transfer", self._transfer)
        graph.add_node("goodbye", self._goodbye)
        graph.add_edge(START, "greet")
        graph.add_edge("greet", "listen")
        graph.add_conditional_edges("listen", _route, [*handlers, "listen", "transfer", "goodbye"])
        for name in handlers:
            graph.add_conditional_edges(name, _route, ["listen", "transfer", "goodbye"])
        graph.add_edge("transfer", END)
        graph.add_edge("goodbye", END)
        return graph

    async def _greet(self, state: CallFlowState) -> dict[str, Any]:
        return {"say": [self.greeting] if self.greeting else [], "trace": _traced(state, "greet")}

    async def _listen(self, state: CallFlowState) -> dict[str, Any]:
        said = [*state.get("say", []), state["prompt"]]
        event = interrupt({"say": said, "step": state["step"]})
        update: dict[str, Any] = {"event": event, "say": [], "last_said": said, "route": state["step"]}
        update["trace"] = _traced(state, "listen")
        if event.get("kind") == "silence":
            silences = state.get("silences", 0) + 1
            if silences > MAX_SILENT_PROMPTS:
                return {**update, "silences": silences, "say": [replies.SILENT_GOODBYE], "route": "goodbye",
                        "end_reason": "silence"}  # fmt: skip
            return {**update, "silences": silences, "say": [replies.NOT_HEARD], "route": "listen"}
        update["silences"] = 0
        masked = str(event.get("masked", ""))
        update["heard"] = [*state.get("heard", []), masked][-20:]
        if event.get("kind") == "text":
            quick = short_answer(self._vault.peek(state["call_id"], event.get("ref")))
            if quick is FlowIntent.AGENT:
                intents = _noted(state, FlowIntent.AGENT.value)
                return {**update, "intents": intents, "route": "transfer", "end_reason": "caller asked for a person"}
            if quick is FlowIntent.REPEAT:
                return {**update, "say": said[:-1], "route": "listen"}
        return update

    async def _number(self, state: CallFlowState) -> dict[str, Any]:
        event = state["event"]
        raw = self._vault.take(state["call_id"], event.get("ref"))
        digits = spoken_digits(raw) if event.get("kind") == "text" else raw
        tries = state.get("number_tries", 0) + 1
        if not re.fullmatch(r"\d{8}|\d{16}", digits):
            return self._retry(state, "number_tries", tries, replies.NUMBER_SHAPE, "no valid account or card number")
        try:
            customer = await self.backend.find_customer(digits)
        except UnknownCustomer:
            log.info("voice.unknown_number", number=mask_number(digits), tries=tries)
            update = self._retry(state, "number_tries", tries, replies.unknown_number(digits[-4:]), "unknown account")
            return {**update, "auth": "unknown_account"} if update["route"] == "transfer" else update
        return {
            "customer": asdict(customer),
            "step": "pin",
            "prompt": replies.ASK_PIN,
            "say": [replies.NUMBER_FOUND],  # no name before the PIN: the number alone proves nothing
            "route": "listen",
            "unclear": 0,
        }

    async def _pin(self, state: CallFlowState) -> dict[str, Any]:
        event = state["event"]
        raw = self._vault.take(state["call_id"], event.get("ref"))
        tries = state.get("pin_tries", 0) + 1
        if event.get("kind") == "text":
            if _NO_PIN.search(raw.lower()):  # no PIN: date of birth and the security question instead
                return {"step": "dob", "prompt": replies.ASK_DOB, "say": [replies.NO_PIN], "route": "listen"}
            return self._retry(state, "pin_tries", tries, replies.PIN_SPOKEN, "PIN not keyed", auth="failed")
        if not re.fullmatch(r"\d{4}", raw):
            return self._retry(state, "pin_tries", tries, replies.PIN_SHAPE, "PIN not keyed", auth="failed")
        if not await self.backend.verify_pin(_customer(state), raw):
            return self._retry(state, "pin_tries", tries, replies.PIN_WRONG, "wrong PIN three times", auth="failed")
        welcome = [replies.welcome_back(_customer(state).first_name)]
        return {"auth": "passed", "step": "serve", "prompt": replies.ASK_NEED, "say": welcome, "route": "listen",
                "unclear": 0}  # fmt: skip

    async def _dob(self, state: CallFlowState) -> dict[str, Any]:
        event = state["event"]
        born = spoken_date(self._vault.take(state["call_id"], event.get("ref")))
        if born is None:
            tries = state.get("pin_tries", 0) + 1
            return self._retry(state, "pin_tries", tries, replies.DOB_SHAPE, "identity not confirmed", auth="failed")
        question = await self.backend.security_question(_customer(state))
        dob_ref = self._vault.put(state["call_id"], born.isoformat())
        return {"step": "secret", "prompt": question, "dob_ref": dob_ref, "route": "listen"}

    async def _secret(self, state: CallFlowState) -> dict[str, Any]:
        event = state["event"]
        answer = self._vault.take(state["call_id"], event.get("ref"))
        born = self._vault.take(state["call_id"], state.get("dob_ref"))
        tries = state.get("pin_tries", 0) + 1
        again = {"step": "dob", "prompt": replies.ASK_DOB, "dob_ref": ""}
        if not born or event.get("kind") != "text":  # the date was lost (another process) or keys came: start over
            update = self._retry(
                state, "pin_tries", tries, replies.DETAILS_WRONG, "identity not confirmed", auth="failed"
            )
            return update if update["route"] == "transfer" else {**update, **again}
        if not await self.backend.verify_identity(_customer(state), date.fromisoformat(born), answer):
            update = self._retry(
                state, "pin_tries", tries, replies.DETAILS_WRONG, "identity not confirmed", auth="failed"
            )
            return update if update["route"] == "transfer" else {**update, **again}
        welcome = [replies.welcome_back(_customer(state).first_name)]
        return {"auth": "passed", "step": "serve", "prompt": replies.ASK_NEED, "say": welcome, "route": "listen",
                "unclear": 0, "dob_ref": ""}  # fmt: skip

    def _retry(
        self, state: CallFlowState, counter: str, tries: int, message: str, reason: str, *, auth: str | None = None
    ) -> dict[str, Any]:
        if tries >= MAX_TRIES:
            update = {counter: tries, "say": [message, replies.TOO_MANY_TRIES], "route": "transfer"}
            return {**update, "end_reason": reason, **({"auth": auth} if auth else {})}
        return {counter: tries, "say": [message], "route": "listen"}

    async def _serve(self, state: CallFlowState) -> dict[str, Any]:
        event = state["event"]
        raw = self._vault.take(state["call_id"], event.get("ref"))
        if event.get("kind") != "text":
            return self._unclear(state, replies.ASK_NEED, "keys pressed where words were expected")
        reading = await self.reader.read(str(event.get("masked", "")))
        intents = _noted(state, reading.intent.value)
        customer = _customer(state)
        more = {"intents": intents, "step": "serve", "prompt": replies.ASK_MORE, "route": "listen", "unclear": 0}
        match reading.intent:
            case FlowIntent.YES:
                return {**more, "prompt": replies.ASK_NEED}
            case FlowIntent.NO | FlowIntent.GOODBYE:
                return {"intents": intents, "route": "goodbye", "end_reason": "caller done"}
            case FlowIntent.CARD_DELIVERY:
                deliveries = await self.backend.card_deliveries(customer)
                said = [replies.delivery(item) for item in deliveries[:2]] or [replies.no_delivery()]
                return {**more, "say": said}
            case FlowIntent.TRANSACTIONS:
                return {**more, "say": [replies.transactions(await self.backend.last_transactions(customer, 3))]}
            case FlowIntent.BALANCE:
                return {**more, "say": [replies.balances(await self.backend.balances(customer))]}
            case FlowIntent.BLOCK_CARD:
                return {**more, **await self._offer_block(customer, raw)}
            case FlowIntent.DISPUTE:
                return {**more, "step": "dispute", "prompt": replies.ASK_WHICH_PAYMENT}
            case FlowIntent.OTHER:
                why = f"a request the desk does not serve ({reading.banking77})"
                return {"intents": intents, "route": "transfer", "end_reason": why}
            case _:
                return {**self._unclear(state, replies.ASK_NEED, "the desk did not understand"), "intents": intents}

    async def _offer_block(self, customer: CustomerRef, words: str) -> dict[str, Any]:
        cards = [card for card in await self.backend.list_cards(customer) if card.status is not CardStatus.BLOCKED]
        named = set(re.findall(r"\d{4}", spoken_digits(words)))
        cards.sort(key=lambda card: card.last4 not in named)  # a card the caller named first
        if not cards:
            return {"say": [replies.no_card_to_block()]}
        reason = BlockReason.STOLEN if re.search(r"\bstol", words.lower()) else BlockReason.LOST
        candidates = [{"card_id": c.card_id, "last4": c.last4, "kind": c.kind} for c in cards]
        first = candidates[0]
        return {
            "step": "confirm_block",
            "prompt": replies.confirm_block(first["kind"], first["last4"]),
            "block_candidates": candidates,
            "block_reason": reason.value,
        }

    async def _confirm_block(self, state: CallFlowState) -> dict[str, Any]:
        event = state["event"]
        self._vault.take(state["call_id"], event.get("ref"))
        answer = short_answer(str(event.get("masked", ""))) if event.get("kind") == "text" else None
        candidates = list(state.get("block_candidates") or [])
        more = {"step": "serve", "prompt": replies.ASK_MORE, "route": "listen", "unclear": 0, "block_candidates": []}
        if answer is FlowIntent.YES and candidates:
            card = candidates[0]
            reason = BlockReason(state.get("block_reason") or BlockReason.LOST.value)
            confirmation = await self.backend.block_card(_customer(state), card["card_id"], reason)
            return {**more, "say": [replies.blocked(confirmation)]}
        if answer in (FlowIntent.NO, FlowIntent.GOODBYE):
            rest = candidates[1:]
            if rest:
                prompt = replies.confirm_block(rest[0]["kind"], rest[0]["last4"])
                return {"block_candidates": rest, "prompt": prompt, "route": "listen", "unclear": 0}
            return {**more, "say": [replies.NOTHING_BLOCKED]}
        return self._unclear(state, state["prompt"], "no clear yes or no to blocking a card", say=replies.SAY_YES_NO)

    async def _dispute(self, state: CallFlowState) -> dict[str, Any]:
        event = state["event"]
        self._vault.take(state["call_id"], event.get("ref"))
        words = str(event.get("masked", "")).lower() if event.get("kind") == "text" else ""
        customer = _customer(state)
        spent = [t for t in await self.backend.last_transactions(customer, 10) if t.amount < 0]
        match = next((t for t in spent if _names(t.merchant, words)), None)
        if match is None:
            said = replies.no_such_payment(words.strip())
            return self._unclear(state, replies.ASK_WHICH_PAYMENT, "disputed payment not identified", say=said)
        case = await self.backend.report_dispute(customer, match.transaction_id, f"caller: {words[:200]}")
        say = replies.disputed(match.merchant, case.reference, case.already_reported)
        return {"say": [say], "step": "serve", "prompt": replies.ASK_MORE, "route": "listen", "unclear": 0}

    def _unclear(self, state: CallFlowState, prompt: str, reason: str, *, say: str = "") -> dict[str, Any]:
        unclear = state.get("unclear", 0) + 1
        if unclear >= MAX_UNCLEAR:
            return {"unclear": unclear, "route": "transfer", "end_reason": f"desk unsure: {reason}"}
        return {"unclear": unclear, "say": [say or replies.NOT_UNDERSTOOD], "prompt": prompt, "route": "listen"}

    async def _transfer(self, state: CallFlowState) -> dict[str, Any]:
        summary = summarise(state)
        log.info("voice.transfer", call_id=state["call_id"], reason=state.get("end_reason"), auth=state.get("auth"))
        return {
            "say": [*state.get("say", []), replies.TRANSFER],
            "end": "transfer",
            "summary": summary,
            "trace": _traced(state, "transfer"),
        }

    async def _goodbye(self, state: CallFlowState) -> dict[str, Any]:
        said = state.get("say", [])
        closing = said if state.get("end_reason") == "silence" else [*said, replies.GOODBYE]
        return {"say": closing, "end": "hangup", "trace": _traced(state, "goodbye")}


def summarise(state: CallFlowState) -> str:
    """For the operator who takes the call: why, who (masked), what the caller wanted and said."""
    customer = state.get("customer")
    who = f"{customer['first_name']} ({customer['matched_by']} {customer['masked_number']})" if customer else "unknown"
    intents = ", ".join(dict.fromkeys(state.get("intents", []))) or "none recognised"
    heard = " | ".join(state.get("heard", [])[-5:]) or "nothing"
    caller, reason = state.get("caller") or "an unknown number", state.get("end_reason") or "asked"
    return (
        f"Voice call from {caller} transferred: {reason}. "
        f"Caller: {who}; identity check: {state.get('auth', 'none')}. Intents: {intents}. Said: {heard}."
    )


def _customer(state: CallFlowState) -> CustomerRef:
    data = state.get("customer")
    if not data:
        raise UnknownCustomer("the call has no identified customer")
    return CustomerRef(data["customer_id"], data["first_name"], data["matched_by"], data["masked_number"])  # type: ignore[arg-type]


def _names(merchant: str, words: str) -> bool:
    """Whether the caller's words name the merchant (any word of its name of three letters or more)."""
    return any(
        len(part) >= 3 and re.search(rf"\b{re.escape(part)}", words)
        for part in re.findall(r"[a-z']+", merchant.lower())
    )


def _guarded(
    name: str, handler: Callable[[CallFlowState], Awaitable[dict[str, Any]]]
) -> Callable[[CallFlowState], Awaitable[dict[str, Any]]]:
    """The step, with the bank not answering turned into an apology and a transfer (recorded as such)."""

    async def step(state: CallFlowState) -> dict[str, Any]:
        trace = _traced(state, name)
        try:
            return {**await handler(state), "trace": trace}
        except BackendUnavailable as exc:
            log.warning("voice.backend_unavailable", call_id=state["call_id"], step=name, error=str(exc))
            auth = state.get("auth") if state.get("auth") == "passed" else "backend_unavailable"
            return {"say": [replies.BACKEND_DOWN], "route": "transfer", "end_reason": "bank back end unavailable",
                    "auth": auth, "trace": trace}  # fmt: skip
        except BankError as exc:  # the bank refused what the desk asked (a card or payment not the caller's …)
            log.warning("voice.bank_refused", call_id=state["call_id"], step=name, error=type(exc).__name__)
            why = f"the bank refused the request ({type(exc).__name__})"
            return {"say": [replies.CANNOT_DO], "route": "transfer", "end_reason": why, "trace": trace}

    return step


def _traced(state: CallFlowState, step: str) -> list[str]:
    """The steps taken, newest last; a long call keeps its last `_KEPT` (checkpoints stay small)."""
    return [*state.get("trace", []), step][-_KEPT:]


def _noted(state: CallFlowState, intent: str) -> list[str]:
    return [*state.get("intents", []), intent][-_KEPT:]


def _route(state: CallFlowState) -> str:
    return state.get("route") or "listen"
