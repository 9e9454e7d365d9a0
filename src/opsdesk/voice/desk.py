"""The banking desk as the gateway's dialogue: one `BankingFlow` shared by every call, a `BankingDialogue` stage per
call, and — with a database — the flow's checkpoints in PostgreSQL, call records in `voice_calls` (written when the
call starts, after each turn and at its end) and transfer summaries in the operator inbox. Without one (tests, a
gateway on its own) checkpoints stay in memory and records only in the gateway's list."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from psycopg_pool import AsyncConnectionPool

from opsdesk.core.logging import get_logger
from opsdesk.db.checkpoints import open_checkpointer
from opsdesk.voice.banking.backend import BankBackend, LocalBank, TimeoutBackend
from opsdesk.voice.banking.dialogue.flow import BankingFlow
from opsdesk.voice.banking.dialogue.intents import IntentReader
from opsdesk.voice.banking.dialogue.processor import BankingDialogue, DialogueOutcome, DialogueTimers
from opsdesk.voice.gateway import CallRecord, GatewayConfig
from opsdesk.voice.pipeline.frames import CallStarted, Frame
from opsdesk.voice.pipeline.processor import FrameProcessor
from opsdesk.voice.pipeline.processors import CallState

if TYPE_CHECKING:
    from opsdesk.app.context import AppContext

log = get_logger(__name__)


@dataclass
class BankingDesk:
    flow: BankingFlow
    timers: DialogueTimers = field(default_factory=DialogueTimers)
    ctx: AppContext | None = None
    workspace_id: uuid.UUID | None = None
    pool: AsyncConnectionPool[Any] | None = None
    loading: asyncio.Task[None] | None = None
    trainer: asyncio.subprocess.Process | None = None
    _writers: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)  # live rows being written

    def dialogue(self, state: CallState, config: GatewayConfig) -> FrameProcessor:
        """The gateway's dialogue factory: a stage for one call."""
        return _LiveDialogue(self, self.flow, state, timers=self.timers, on_transfer=self._transferred)

    async def record(self, record: CallRecord, dialogue: FrameProcessor | None) -> None:
        """The gateway's end-of-call hook: the call's row in `voice_calls` (when there is a database)."""
        if isinstance(dialogue, _LiveDialogue):
            dialogue.live.ended = True
            writer = dialogue.live.writer
            if writer is not None:  # the live row's last write first, so it cannot land after the end
                await asyncio.wait([writer])
        if self.ctx is None or self.workspace_id is None:
            return
        from opsdesk.voice.calls.service import save_call

        outcome = dialogue.outcome if isinstance(dialogue, BankingDialogue) else None
        async with self.ctx.db.session() as session:
            await save_call(session, self.workspace_id, record, outcome)

    def _keep_live(self, dialogue: _LiveDialogue) -> None:
        """Has the call's live row written with the transcript as it is now, in a task of its own: the dialogue
        stage never waits for the database. One writer per call, so writes land in order; turns that come while it
        writes are written together next."""
        live = dialogue.live
        if self.ctx is None or self.workspace_id is None or live.ended:
            return
        live.dirty = True
        if live.writer is None or live.writer.done():
            live.writer = asyncio.get_running_loop().create_task(self._write_live(dialogue))
            self._writers.add(live.writer)
            live.writer.add_done_callback(self._writers.discard)

    async def _write_live(self, dialogue: _LiveDialogue) -> None:
        from opsdesk.voice.calls.service import save_live_call

        live = dialogue.live
        assert self.ctx is not None and self.workspace_id is not None
        while live.dirty:
            live.dirty = False
            shown = dialogue.outcome
            now = DialogueOutcome(list(shown.intents), shown.auth, shown.transfers, transcript=list(shown.transcript))
            try:
                async with self.ctx.db.session() as session:
                    await save_live_call(session, self.workspace_id, live.call_id, live.caller, live.started, now)
            except Exception:  # the call goes on; its end is saved as usual, and the page shows it then
                log.exception("voice.live_call_write_failed", call_id=live.call_id)

    async def _transferred(self, dialogue: BankingDialogue, summary: str) -> None:
        if self.ctx is None or self.workspace_id is None:
            log.info("voice.transfer_summary", call_id=dialogue.call_id, inbox=False)
            return
        from opsdesk.voice.calls.service import escalate_transfer

        async with self.ctx.db.session() as session:
            await escalate_transfer(session, self.ctx.settings, self.workspace_id, dialogue.caller, summary)

    def load_classifier_later(self) -> None:
        """Loads the Banking77 classifier in the background (trained first, in a child process, on a machine that
        has none cached); until it is ready, intents come from keyword rules alone."""
        self.loading = asyncio.get_running_loop().create_task(_load_classifier(self.flow.reader, self))

    async def aclose(self) -> None:
        if self._writers:
            await asyncio.wait(set(self._writers))
        if self.loading is not None:
            self.loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.loading
        if self.trainer is not None and self.trainer.returncode is None:
            self.trainer.kill()  # a first training cut short: the next start trains again
            await self.trainer.wait()
        if self.pool is not None:
            await self.pool.close()


@dataclass(slots=True)
class _LiveCall:
    """What the desk keeps to write a call's row while it goes on."""

    call_id: str = ""
    caller: str = ""
    started: float = 0.0
    dirty: bool = False  # turns not written yet
    ended: bool = False  # the end is being saved: no live write after it
    writer: asyncio.Task[None] | None = None


class _LiveDialogue(BankingDialogue):
    """A banking call's dialogue whose row in `voice_calls` the desk writes when the call starts and after each turn
    (the masked transcript the final record keeps)."""

    def __init__(self, desk: BankingDesk, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.desk = desk
        self.live = _LiveCall()

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, CallStarted):
            self.live.call_id, self.live.caller, self.live.started = frame.call_id, frame.caller, time.time()
            self.desk._keep_live(self)  # the row appears before the greeting is worked out
        noted = self._turns()
        await super().process(frame)
        if self.live.call_id and self._turns() != noted:
            self.desk._keep_live(self)

    def _turns(self) -> tuple[int, int]:
        # The bot's replies count too: a transcript at its length limit stops growing, the row must not go stale.
        return len(self.outcome.transcript), self.state.utterance


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
        pool, checkpointer = await open_checkpointer(ctx.db.url, max_size=4, name="banking dialogue")
    else:
        checkpointer = InMemorySaver()
    prefix = str(workspace_id) if workspace_id else "local"
    flow = BankingFlow(bank, reader or IntentReader(), checkpointer, thread_prefix=prefix)
    return BankingDesk(flow, timers or DialogueTimers(), ctx, workspace_id, pool)


async def _load_classifier(reader: IntentReader, desk: BankingDesk) -> None:
    """The cached classifier, trained first in a child process when this machine has none."""
    from opsdesk.voice.banking.intents import BankingIntentClassifier
    from opsdesk.voice.banking.train_intents import classifier_path, intent_embedder

    try:
        path = await asyncio.to_thread(classifier_path)
        if not path.is_file():
            log.info("voice.intent_classifier_training", path=str(path))
            desk.trainer = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "opsdesk.voice.banking.train_intents", stdout=asyncio.subprocess.DEVNULL
            )
            if await desk.trainer.wait() != 0:
                raise RuntimeError(f"training the intent classifier exited {desk.trainer.returncode}")
        classifier = await asyncio.to_thread(BankingIntentClassifier.load, path)
        embedder = await asyncio.to_thread(intent_embedder)  # the model it was trained on; loaded off the loop
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("voice.intent_classifier_unavailable")  # keyword rules carry on
        return
    reader.use(classifier, embedder.embed)
    log.info("voice.intent_classifier_ready", intents=len(classifier.labels))
