"""The banking desk as the gateway's dialogue: one `BankingFlow` shared by every call, a `BankingDialogue` stage per
call, and — with a database — the flow's checkpoints in PostgreSQL, call records in `voice_calls` and transfer
summaries in the operator inbox. Without one (tests, a gateway on its own) checkpoints stay in memory and records
only in the gateway's list."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from opsdesk.core.logging import get_logger
from opsdesk.voice.banking.backend import BankBackend, LocalBank, TimeoutBackend
from opsdesk.voice.banking.dialogue.flow import BankingFlow
from opsdesk.voice.banking.dialogue.intents import IntentReader
from opsdesk.voice.banking.dialogue.processor import BankingDialogue, DialogueTimers
from opsdesk.voice.gateway import CallRecord, GatewayConfig
from opsdesk.voice.pipeline.processor import FrameProcessor
from opsdesk.voice.pipeline.processors import CallState

if TYPE_CHECKING:
    from opsdesk.app.context import AppContext

log = get_logger(__name__)
CLASSIFIER_EMBEDDER = "minilm-int8"  # names the cached classifier: vectors from the int8-product MiniLM
_SETUP_LOCK = 7_310_078  # serialises checkpoint-table setup between processes (the order flow uses …077)


@dataclass
class BankingDesk:
    flow: BankingFlow
    timers: DialogueTimers = field(default_factory=DialogueTimers)
    ctx: AppContext | None = None
    workspace_id: uuid.UUID | None = None
    pool: AsyncConnectionPool[Any] | None = None

    def dialogue(self, state: CallState, config: GatewayConfig) -> FrameProcessor:
        """The gateway's dialogue factory: a stage for one call."""
        return BankingDialogue(self.flow, state, timers=self.timers, on_transfer=self._transferred)

    async def record(self, record: CallRecord, dialogue: FrameProcessor | None) -> None:
        """The gateway's end-of-call hook: the call's row in `voice_calls` (when there is a database)."""
        if self.ctx is None or self.workspace_id is None:
            return
        from opsdesk.voice.calls.service import save_call

        outcome = dialogue.outcome if isinstance(dialogue, BankingDialogue) else None
        async with self.ctx.db.session() as session:
            await save_call(session, self.workspace_id, record, outcome)

    async def _transferred(self, dialogue: BankingDialogue, summary: str) -> None:
        if self.ctx is None or self.workspace_id is None:
            log.info("voice.transfer_summary", call_id=dialogue.call_id, inbox=False)
            return
        from opsdesk.voice.calls.service import escalate_transfer

        async with self.ctx.db.session() as session:
            await escalate_transfer(session, self.ctx.settings, self.workspace_id, dialogue.caller, summary)

    def load_classifier_later(self) -> None:
        """Trains (first start on a machine) or loads the Banking77 classifier in the background; until it is
        ready, intents come from keyword rules alone."""
        loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=_load_classifier, args=(self.flow.reader, loop), name="voice-intents", daemon=True
        )
        thread.start()

    async def aclose(self) -> None:
        if self.pool is not None:
            await self.pool.close()


async def open_banking_desk(
    *,
    backend: BankBackend | None = None,
    reader: IntentReader | None = None,
    ctx: AppContext | None = None,
    workspace_id: uuid.UUID | None = None,
    timers: DialogueTimers | None = None,
    bank_timeout: float = 2.0,
) -> BankingDesk:
    """The desk over `backend` (the demo bank by default), every call to it limited to `bank_timeout` seconds."""
    bank = TimeoutBackend(backend or LocalBank.from_file(), bank_timeout)
    pool: AsyncConnectionPool[Any] | None = None
    checkpointer: BaseCheckpointSaver[Any]
    if ctx is not None:
        pool, checkpointer = await _postgres_checkpointer(ctx.db.url)
    else:
        checkpointer = InMemorySaver()
    prefix = str(workspace_id) if workspace_id else "local"
    flow = BankingFlow(bank, reader or IntentReader(), checkpointer, thread_prefix=prefix)
    return BankingDesk(flow, timers or DialogueTimers(), ctx, workspace_id, pool)


async def _postgres_checkpointer(async_url: str) -> tuple[AsyncConnectionPool[Any], AsyncPostgresSaver]:
    """A small psycopg pool on the app's database and the checkpoint tables, set up once (as the order flow does)."""
    url = make_url(async_url).set(drivername="postgresql").render_as_string(hide_password=False)
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=0, max_size=4, max_idle=60, kwargs=kwargs, open=False, timeout=10
    )
    await pool.open(wait=True, timeout=30)
    async with pool.connection() as conn:
        for _ in range(1200):  # tried, not waited on: setup builds indexes CONCURRENTLY (see the order flow)
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (_SETUP_LOCK,))).fetchone()
            if row is not None and row["taken"]:
                break
            await asyncio.sleep(0.05)
        else:
            await pool.close()
            raise TimeoutError("another process has been setting up the checkpoint tables for a minute")
        try:
            await AsyncPostgresSaver(conn).setup()  # type: ignore[arg-type]
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_SETUP_LOCK,))
    return pool, AsyncPostgresSaver(pool)  # type: ignore[arg-type]


def _load_classifier(reader: IntentReader, loop: asyncio.AbstractEventLoop) -> None:
    """In a daemon thread: the cached classifier, or one trained now on the shipped Banking77 file (and cached).
    A daemon, so a gateway stopped during the first training exits at once (the cache is written atomically)."""
    from opsdesk.providers.embedding.local_minilm import LocalMiniLM, bulk_model_path
    from opsdesk.voice.banking.intents import (
        TRAINING_FILE,
        BankingIntentClassifier,
        cached_path,
        load_examples,
    )

    try:
        embedder = LocalMiniLM(threads=1, model_path=bulk_model_path())
        path = cached_path(TRAINING_FILE, CLASSIFIER_EMBEDDER)
        if path.is_file():
            classifier = BankingIntentClassifier.load(path)
        else:
            examples = load_examples(TRAINING_FILE)
            vectors = embedder.embed_array([example.text for example in examples])
            classifier = BankingIntentClassifier.train(examples, vectors)
            classifier.save(path)
    except Exception:
        log.exception("voice.intent_classifier_unavailable")  # keyword rules carry on
        return
    loop.call_soon_threadsafe(reader.use, classifier, embedder.embed)
    log.info("voice.intent_classifier_ready", intents=len(classifier.labels), path=str(path))
