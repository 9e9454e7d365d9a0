"""The turn pipeline: one inbound message in, one reply out, every step durable.

receive -> store once (dedupe by the channel's message id, masked copy) -> L1 -> intent (L3) -> the solution's
handler, or a default (knowledge answers through L2/L4) -> store the reply (+ escalation, state) -> return.

A message delivered twice is processed once: the second delivery gets the first reply (waiting briefly while the
first is still being answered). Turns of one session run one at a time in every API process (a PostgreSQL advisory
lock, `db.locks`); a turn whose worker died is taken over after `STALE_CLAIM`. `stream_turn` runs the same
pipeline and reports it as server-sent events.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import timedelta
from typing import Any

import numpy as np
import orjson
from prometheus_client import Histogram

from opsdesk.app.context import AppContext
from opsdesk.conversation import service
from opsdesk.conversation.answering import answer_model, knowledge_target, prompt_version
from opsdesk.conversation.cache import CacheScope, ConversationCache, conversation_cache, count, state_fingerprint
from opsdesk.conversation.channels import Inbound, TextIssue, text_issue
from opsdesk.conversation.defaults import FAILED, TEXT_ISSUE_REPLIES, default_handler
from opsdesk.conversation.escalation import create_escalation
from opsdesk.conversation.handlers import EscalationRequest, Reply, SolutionConfig, Turn, handler_for, solution_config
from opsdesk.conversation.inflight import Payload, inflight_of
from opsdesk.conversation.intents import (
    IntentContext,
    IntentResult,
    Vector,
    classifier_for,
    classify_text,
    llm_enabled,
)
from opsdesk.conversation.models import ConversationMessage, ConversationSession
from opsdesk.conversation.pair_verifier import load_pair_verifier
from opsdesk.conversation.schemas import TurnOut
from opsdesk.conversation.semantic import NO_SUBJECTS, SemanticCache
from opsdesk.core.errors import Conflict, InvalidInput, OpsdeskError
from opsdesk.core.logging import get_logger
from opsdesk.core.masking import mask_text
from opsdesk.db.locks import LockBusy, named_locks

_log = get_logger(__name__)
STALE_CLAIM = timedelta(minutes=2)
DUPLICATE_WAIT_S = 5.0
STILL_WORKING = "I'm still working on your previous message; you'll have my answer in a moment."
TURN_SECONDS = Histogram(
    "opsdesk_conversation_turn_seconds",
    "Time to answer one inbound message, by intent and cache tier.",
    ["intent", "cached"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

EventSink = Callable[[str, dict[str, Any]], Awaitable[None]]


async def _ignore(_: str, __: dict[str, Any]) -> None:
    return None


def _lock(ctx: AppContext, session_id: uuid.UUID) -> AbstractAsyncContextManager[None]:
    """One turn of a session at a time, in every API process."""
    return named_locks(ctx.extras, ctx.db.url).hold(f"conversation:{session_id}")


class _Pipeline:
    def __init__(self, ctx: AppContext, workspace_id: uuid.UUID, inbound: Inbound, events: EventSink) -> None:
        self.ctx = ctx
        self.workspace_id = workspace_id
        self.inbound = inbound
        self.events = events
        self.config: SolutionConfig = solution_config(inbound.solution)
        self.cache: ConversationCache = conversation_cache(ctx)
        self.streamed = False
        self._vector: list[float] | None = None

    # ---------------------------------------------------------------------------------------- entry

    async def run(self) -> TurnOut:
        async with self.ctx.db.session() as session:
            conversation = await self._conversation(session)
            stored = await service.store_inbound(
                session,
                conversation,
                text=self.inbound.text,
                external_id=self.inbound.external_id,
                metadata=self.inbound.metadata,
            )
        if stored.duplicate:
            if stored.message.text != self.inbound.text:
                raise Conflict(
                    f"Message id {self.inbound.external_id!r} was already used for a different text.",
                    code="message_id_reused",
                )
            replayed = await self._replay(stored.message)
            if replayed is not None:
                await self.events("delta", {"text": replayed.reply})
                await self.events("reply", replayed.model_dump(mode="json"))
                return replayed
        await self.events("received", {"session_id": str(conversation.id), "message_id": str(stored.message.id)})
        try:
            async with _lock(self.ctx, conversation.id):
                try:
                    return await self._process(conversation.id, stored.message)
                except BaseException:
                    async with self.ctx.db.session() as session:
                        await service.mark_failed(session, stored.message.id)
                    raise
        except LockBusy:  # a turn of this session runs elsewhere for too long: a redelivery is answered afresh
            async with self.ctx.db.session() as session:
                await service.mark_failed(session, stored.message.id)
            return TurnOut(
                session_id=conversation.id,
                message_id=stored.message.id,
                reply_id=None,
                reply=STILL_WORKING,
                intent=None,
                status="processing",
            )

    async def _conversation(self, session: Any) -> ConversationSession:
        inbound = self.inbound
        if inbound.session_id is not None:
            conversation = await service.session_by_id(session, self.workspace_id, inbound.session_id)
            if conversation.channel != inbound.channel or conversation.solution != inbound.solution:
                what = f"a {conversation.channel} conversation with '{conversation.solution}'"
                raise InvalidInput(f"Session {conversation.id} is {what}.", code="session_mismatch")
            return conversation
        return await service.open_session(
            session,
            self.workspace_id,
            channel=inbound.channel,
            sender=inbound.sender,
            solution=inbound.solution,
            sender_name=inbound.sender_name,
        )

    async def _replay(self, message: ConversationMessage) -> TurnOut | None:
        """The first reply to a redelivered message; None when this call should process it after all."""
        deadline = time.monotonic() + DUPLICATE_WAIT_S
        while True:
            async with self.ctx.db.session() as session:
                current = await session.get(ConversationMessage, message.id)
                assert current is not None
                reply = await service.reply_of(session, current)
                if reply is not None:
                    return _out_of(current, reply, duplicate=True)
                if await service.reclaim(session, current.id, STALE_CLAIM):
                    _log.info("conversation_message_reclaimed", message_id=str(current.id))
                    return None
            if time.monotonic() >= deadline:
                return TurnOut(
                    session_id=message.session_id,
                    message_id=message.id,
                    reply_id=None,
                    reply=STILL_WORKING,
                    intent=None,
                    duplicate=True,
                    status="processing",
                )
            await asyncio.sleep(0.2)

    # ---------------------------------------------------------------------------------------- the turn

    async def _process(self, conversation_id: uuid.UUID, message: ConversationMessage) -> TurnOut:
        started = time.perf_counter()
        async with self.ctx.db.session() as session:
            conversation = await session.get(ConversationSession, conversation_id)
            assert conversation is not None
            history = await service.history(session, conversation.id, before=message.created_at)
            target = await knowledge_target(session, self.workspace_id, self.config, self.ctx)
        expects = service.expects_of(conversation)
        issue = text_issue(self.inbound, self.ctx.settings.conversation_max_message_chars)
        if issue is not None and not (issue == TextIssue.emoji_only and expects):
            reply = Reply(TEXT_ISSUE_REPLIES[issue], metadata={"text_issue": issue.value})
            return await self._finish(conversation, message, None, reply, started, keep_expects=True)

        scope = CacheScope(
            self.workspace_id, self.config.name, target.version, answer_model(self.ctx), prompt_version(self.config)
        )
        l1_key = self.cache.l1_key(scope, message.text, state_fingerprint(conversation.state, conversation.last_intent))
        cached = await self.cache.l1.get(l1_key)
        if isinstance(cached, dict):
            return await self._cached(conversation, message, cached, "l1", started)

        context = IntentContext(
            expects=expects,
            previous=conversation.last_intent,
            recent=tuple(item.text for item in history if item.direction == "in"),
        )
        intent = await self._intent(message.text, context)
        await self.events("intent", intent.to_json())
        stateless = intent.intent in self.config.stateless_intents
        inflight = inflight_of(self.ctx.extras, self.ctx.settings) if stateless and target.kb is not None else None
        subjects = NO_SUBJECTS
        if inflight is not None and self.config.subjects is not None:
            subjects = await self.config.subjects(self.ctx, self.workspace_id)
        semantic = SemanticCache(
            self.ctx.settings.semantic_cache_threshold,
            self.ctx.settings.semantic_cache_margin,
            self.ctx.settings.cache_l2_ttl_s,
            subjects,
            load_pair_verifier(self.ctx.settings.semantic_cache_verifier_threshold),
        )
        if inflight is not None:
            async with self.ctx.db.session() as session:
                found = await semantic.lookup(session, scope, message.text, await self._embedding())
            if found is not None:
                await self.cache.l1.set(l1_key, found.answer)
                return await self._cached(conversation, message, found.answer, "l2", started)
            pending = await inflight.find(
                scope.digest(),
                message.text,
                await self._embedding(),
                semantic.threshold,
                semantic.margin,
                subjects,
                semantic.verifier,
            )
            if pending is not None:
                payload = await asyncio.shield(pending)
                count("l2-inflight", payload is not None)
                if payload is not None:
                    await self.cache.l1.set(l1_key, payload)
                    return await self._cached(conversation, message, payload, "l2", started)

        handler = handler_for(self.config.name, intent.intent)
        turn = Turn(
            ctx=self.ctx,
            workspace_id=self.workspace_id,
            session_id=conversation.id,
            channel=conversation.channel,
            solution=conversation.solution,
            sender=conversation.sender,
            sender_phone=self.inbound.sender_phone,
            text=message.text,
            message_id=message.id,
            message_key=message.external_id or str(message.id),
            intent=intent,
            state=service.solution_state(conversation),
            history=history,
            emit=self._emit,
            embedding=self._embedding,
        )
        leading: AbstractAsyncContextManager[asyncio.Future[Payload | None] | None] = (
            inflight.lead(scope.digest(), message.text, await self._embedding()) if inflight else nullcontext(None)
        )
        async with leading as answer:
            reply = await self._call(handler or default_handler(intent.intent), turn)
            if stateless and reply.cacheable and reply.escalate is None:
                payload = _payload(reply, intent)
                await self.cache.l1.set(l1_key, payload)
                if target.kb is not None:
                    async with self.ctx.db.session() as session:
                        await semantic.store(session, scope, message.text, await self._embedding(), payload)
                if answer is not None:
                    answer.set_result(payload)
        return await self._finish(conversation, message, intent, reply, started, keep_expects=handler is None)

    async def _intent(self, text: str, context: IntentContext) -> IntentResult:
        classifier = await classifier_for(self.ctx, self.config.examples_path)
        version = classifier.version + (
            "+llm:" + ",".join(self.ctx.settings.fallback_chain()) if llm_enabled(self.ctx) else ""
        )
        key = self.cache.l3_key(self.workspace_id, self.config.name, version, text, context.key())
        cached = await self.cache.l3.get(key)
        if isinstance(cached, dict) and cached.get("intent"):
            return IntentResult(str(cached["intent"]), float(cached.get("confidence", 0.0)), "cache")
        result = await classify_text(self.ctx, classifier, text, context, self._embedding_array)
        await self.cache.l3.set(key, result.to_json())
        return result

    async def _call(self, handler: Callable[[Turn], Awaitable[Reply]], turn: Turn) -> Reply:
        try:
            return await handler(turn)
        except OpsdeskError as exc:
            _log.warning("conversation_handler_refused", intent=turn.intent.intent, error=exc.message)
            reason = f"The assistant could not handle this message: {exc.message}"
        except Exception as exc:  # the customer gets an answer and a person gets the case; never a dead end
            _log.exception("conversation_handler_failed", intent=turn.intent.intent, error=type(exc).__name__)
            reason = f"The assistant failed on this message ({type(exc).__name__})."
        return Reply(FAILED, escalate=EscalationRequest(reason=reason, level="staff"), metadata={"failed": True})

    async def _cached(
        self,
        conversation: ConversationSession,
        message: ConversationMessage,
        payload: dict[str, Any],
        tier: str,
        started: float,
    ) -> TurnOut:
        intent = IntentResult(str(payload.get("intent")), float(payload.get("confidence") or 0.0), tier)
        reply = Reply(
            str(payload.get("text", "")),
            citations=list(payload.get("citations") or []),
            metadata={**dict(payload.get("metadata") or {}), "cached": tier},
        )
        return await self._finish(conversation, message, intent, reply, started, keep_expects=True, cached=tier)

    async def _finish(
        self,
        conversation: ConversationSession,
        message: ConversationMessage,
        intent: IntentResult | None,
        reply: Reply,
        started: float,
        *,
        keep_expects: bool,
        cached: str | None = None,
    ) -> TurnOut:
        """Stores the reply, the new state and any escalation in one transaction."""
        metadata = {**reply.metadata, "citations": reply.citations} if reply.citations else dict(reply.metadata)
        if intent is not None:
            metadata["intent"] = intent.to_json()
        async with self.ctx.db.session() as session:
            current = await service.session_by_id(session, self.workspace_id, conversation.id, for_update=True)
            stored = await service.store_reply(
                session, current, message, text=reply.text, intent=intent.intent if intent else None, metadata=metadata
            )
            state = dict(reply.state) if reply.state is not None else service.solution_state(current)
            runtime = dict((current.state or {}).get(service.RUNTIME_KEY) or {})
            if not keep_expects:
                runtime["expects"] = reply.expects
            current.state = {**state, service.RUNTIME_KEY: runtime} if runtime.get("expects") else state
            if intent is not None:
                current.last_intent = intent.intent
            current.last_activity_at = stored.created_at
            escalation = None
            if reply.escalate is not None:
                escalation = await create_escalation(
                    session, self.ctx.settings, current, reply.escalate, message_id=message.id
                )
        escalation_id = escalation.id if escalation else None
        out = _out_of(message, stored, duplicate=False, cached=cached, escalation_id=escalation_id)
        if intent is not None:
            out.intent, out.confidence, out.intent_source = intent.intent, intent.confidence, intent.source
        elapsed = time.perf_counter() - started
        TURN_SECONDS.labels(out.intent or "none", cached or "none").observe(elapsed)
        _log.info(
            "conversation_turn",
            session=str(conversation.id),
            channel=conversation.channel,
            intent=out.intent,
            cached=cached,
            escalated=escalation is not None,
            ms=round(elapsed * 1000, 1),
            text=mask_text(message.text[:120]),
        )
        if not self.streamed:
            await self.events("delta", {"text": out.reply})
        await self.events("reply", out.model_dump(mode="json"))
        return out

    # ---------------------------------------------------------------------------------------- helpers

    async def _emit(self, delta: str) -> None:
        self.streamed = True
        await self.events("delta", {"text": delta})

    async def _embedding(self) -> list[float]:
        if self._vector is None:
            (vector,) = await self.ctx.providers.embedder().embed([self.inbound.text or " "])
            self._vector = [float(x) for x in vector]
        return self._vector

    async def _embedding_array(self) -> Vector:
        return np.asarray(await self._embedding(), dtype=np.float32)


def _payload(reply: Reply, intent: IntentResult) -> dict[str, Any]:
    return {
        "text": reply.text,
        "intent": intent.intent,
        "confidence": intent.confidence,
        "citations": reply.citations,
        "metadata": reply.metadata,
    }


def _out_of(
    message: ConversationMessage,
    reply: ConversationMessage,
    *,
    duplicate: bool,
    cached: str | None = None,
    escalation_id: uuid.UUID | None = None,
) -> TurnOut:
    meta = dict(reply.meta or {})
    intent = meta.get("intent") or {}
    return TurnOut(
        session_id=message.session_id,
        message_id=message.id,
        reply_id=reply.id,
        reply=reply.text,
        intent=reply.intent,
        confidence=intent.get("confidence"),
        intent_source=intent.get("source"),
        cached=cached if cached in ("l1", "l2") else meta.get("cached"),  # type: ignore[arg-type]
        duplicate=duplicate,
        escalation_id=escalation_id,
        citations=list(meta.get("citations") or []),
        metadata={k: v for k, v in meta.items() if k not in ("citations", "intent")},
    )


async def handle_turn(ctx: AppContext, workspace_id: uuid.UUID, inbound: Inbound) -> TurnOut:
    """Answers one inbound message (or returns the answer it already got)."""
    return await _Pipeline(ctx, workspace_id, inbound, _ignore).run()


_running: set[asyncio.Task[Any]] = set()


def stream_turn(ctx: AppContext, workspace_id: uuid.UUID, inbound: Inbound) -> AsyncIterator[dict[str, str]]:
    """Server-sent events of one turn: `received`, `intent`, `delta`…, `reply`, `done` (or `error`).

    An unknown solution fails here, before the stream starts (a 400, not a broken stream). The turn runs in its own
    task: a client that disconnects mid-stream still gets its reply stored.
    """
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

    async def sink(event: str, data: dict[str, Any]) -> None:
        await queue.put((event, data))

    return _events(_Pipeline(ctx, workspace_id, inbound, sink), queue)


async def _events(
    pipeline: _Pipeline, queue: asyncio.Queue[tuple[str, dict[str, Any]] | None]
) -> AsyncIterator[dict[str, str]]:
    async def run() -> None:
        try:
            await pipeline.run()
        except OpsdeskError as exc:
            await queue.put(("error", {"message": exc.message, "code": exc.code}))
        except Exception as exc:
            _log.exception("conversation_stream_failed")
            message = f"The turn failed ({type(exc).__name__})."
            await queue.put(("error", {"message": message, "code": "internal_error"}))
        finally:
            await queue.put(None)

    task = asyncio.create_task(run())
    _running.add(task)
    task.add_done_callback(_running.discard)
    while (item := await queue.get()) is not None:
        event, data = item
        yield {"event": event, "data": orjson.dumps(data).decode()}
    yield {"event": "done", "data": "{}"}
