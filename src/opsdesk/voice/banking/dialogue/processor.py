"""The dialogue stage of a banking call: the caller's words (TranscriptFinal) and keys (Dtmf) go into the flow, what
the flow says comes out as BotText, and its end as Transfer or Hangup.

It lives beside the flow rather than in `voice/pipeline/` because it is the banking solution's: the pipeline knows
frames and engines, nothing of banks. Keys are collected into one entry ended by '#' or by a pause between keys;
a silence watcher turns a caller who says nothing after a prompt into a "silence" input for the flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from opsdesk.core.logging import get_logger
from opsdesk.voice import metrics
from opsdesk.voice.banking.dialogue import replies
from opsdesk.voice.banking.dialogue.flow import BankingFlow, InputKind, Turn
from opsdesk.voice.pipeline.frames import (
    BotText,
    CallStarted,
    Dtmf,
    EndOfCall,
    Frame,
    Hangup,
    Interruption,
    SpeechStarted,
    SpeechStopped,
    TranscriptFinal,
    Transfer,
)
from opsdesk.voice.pipeline.processor import FrameProcessor
from opsdesk.voice.pipeline.processors import CallState

log = get_logger(__name__)
MAX_KEYS = 24  # an entry longer than any card number is garbage: handed to the flow at once
MAX_TRANSCRIPT = 400  # lines kept per call (a 30-minute call stays bounded)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Silence(Frame):
    """The caller said and keyed nothing for the silence timeout after a prompt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _KeysPaused(Frame):
    """No key for the inter-digit timeout: the entry `entry` is complete."""

    entry: int


@dataclass(slots=True)
class DialogueOutcome:
    """What the call record keeps of the dialogue: all masked."""

    intents: list[str] = field(default_factory=list)
    auth: str = "none"
    transfers: int = 0
    end_reason: str = ""
    summary: str = ""
    transcript: list[dict[str, str]] = field(default_factory=list)  # {"who": caller|bot, "text": masked}

    def note(self, who: str, text: str) -> None:
        if len(self.transcript) < MAX_TRANSCRIPT:
            self.transcript.append({"who": who, "text": text})


TransferHook = Callable[["BankingDialogue", str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DialogueTimers:
    silence_seconds: float = 6.0  # no speech, no key after a prompt has been played
    inter_digit_seconds: float = 3.0  # an entry without '#' ends after this pause
    complete_entry_seconds: float = 1.5  # ... or after this shorter one once it has a complete length
    tick_seconds: float = 0.1


# Keyed entries that cannot go on at a step: handed to the flow at the last key, no pause needed.
_FULL_ENTRY = {"pin": 4, "number": 16, "dob": 8}
# Lengths that may be complete (an 8-digit account number, or half a card number): a shorter pause ends them.
_COMPLETE_ENTRY = {"number": 8}


class BankingDialogue(FrameProcessor):
    """One call's dialogue stage over the shared `BankingFlow`."""

    def __init__(
        self,
        flow: BankingFlow,
        state: CallState,
        *,
        timers: DialogueTimers | None = None,
        on_transfer: TransferHook | None = None,
    ) -> None:
        super().__init__("dialogue")
        self.flow = flow
        self.state = state
        self.timers = timers or DialogueTimers()
        self.on_transfer = on_transfer
        self.outcome = DialogueOutcome()
        self.call_id = ""
        self.caller = ""
        self.ended = False
        self._keys: list[str] = []
        self._entry = 0
        self._key_timer: asyncio.TimerHandle | None = None
        self._busy = False
        self._caller_speaking = False
        self._last_activity = time.monotonic()
        self._watcher: asyncio.Task[None] | None = None
        self._ended_by_length = False  # the last entry was taken at its full length, before any '#'
        self._step = ""  # what the flow last asked for (number, pin, dob …): how long a keyed entry can be
        self._answered = False

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, CallStarted):
            await self.push(frame)
            self.call_id, self.caller = frame.call_id, frame.caller
            self._answered = True
            await self._turn(self.flow.start(frame.call_id, frame.caller))
            self._watcher = asyncio.get_running_loop().create_task(self._watch_silence())
        elif isinstance(frame, TranscriptFinal):
            if self._live():
                await self._input("text", frame.text)
            await self.push(frame)
        elif isinstance(frame, Dtmf):
            if self._live():
                await self._key(frame.digit)
            await self.push(frame)
        elif isinstance(frame, _KeysPaused):
            if frame.entry == self._entry and self._keys and self._live():
                await self._submit_keys()
        elif isinstance(frame, _Silence):
            if self._live():
                await self._input("silence", "")
        else:
            if isinstance(frame, SpeechStarted | SpeechStopped):
                self._caller_speaking = isinstance(frame, SpeechStarted)
                self._last_activity = time.monotonic()
            await self.push(frame)
            if isinstance(frame, EndOfCall):
                await self._close()

    async def cleanup(self) -> None:
        await self._close()

    # ------------------------------------------------------------------------------------------- input

    def _live(self) -> bool:
        return self._answered and not self.ended

    async def _key(self, digit: str) -> None:
        self._last_activity = time.monotonic()
        if not self._keys and self.state.bot_speaking:
            await self.push(Interruption())  # keying over a prompt stops it, as speaking over it does
        ended_by_length, self._ended_by_length = self._ended_by_length, False
        if digit == "#":
            if not self._keys and ended_by_length:
                return  # the '#' a caller presses after a full entry that was already taken
            await self._submit_keys()
            return
        self._keys.append(digit)
        if len(self._keys) >= MAX_KEYS or len(self._keys) == _FULL_ENTRY.get(self._step, 0):
            self._ended_by_length = len(self._keys) < MAX_KEYS
            await self._submit_keys()
            return
        if self._key_timer is not None:
            self._key_timer.cancel()
        entry = self._entry
        pause = self.timers.inter_digit_seconds
        if len(self._keys) == _COMPLETE_ENTRY.get(self._step, 0):
            pause = min(pause, self.timers.complete_entry_seconds)
        self._key_timer = asyncio.get_running_loop().call_later(pause, lambda: self.enqueue(_KeysPaused(entry=entry)))

    async def _submit_keys(self) -> None:
        if self._key_timer is not None:
            self._key_timer.cancel()
            self._key_timer = None
        keys, self._keys = "".join(self._keys), []
        self._entry += 1
        await self._input("digits", keys)

    async def _input(self, kind: InputKind, value: str) -> None:
        if kind != "silence":
            self.outcome.note("caller", self.flow.masked(self.call_id, kind, value))
        await self._turn(self.flow.answer(self.call_id, kind, value))

    async def _turn(self, pending: Awaitable[Turn]) -> None:
        self._busy = True
        try:
            turn = await pending
        except Exception:  # a step that failed: the caller goes to a person rather than into silence
            log.exception("voice.dialogue_failed", call_id=self.call_id)
            reason = "dialogue error"
            summary = f"Voice call from {self.caller or 'an unknown number'} transferred: {reason}."
            turn = Turn((replies.DESK_FAILED, replies.TRANSFER), "", "transfer", reason, self.outcome.auth,
                        tuple(self.outcome.intents), summary)  # fmt: skip
        finally:
            self._busy = False
            self._last_activity = time.monotonic()
        self.outcome.intents = list(turn.intents)
        self.outcome.auth = turn.auth
        self._step = turn.step
        self.state.utterance += 1
        for sentence in turn.say:
            self.outcome.note("bot", sentence)
            await self.push(BotText(text=sentence, utterance=self.state.utterance))
        if not turn.end:
            return
        self.ended = True
        metrics.DIALOGUE_ENDS.labels(turn.end, turn.auth).inc()
        self.outcome.end_reason = turn.end_reason or ("transferred" if turn.end == "transfer" else "completed")
        if turn.end == "transfer":
            self.outcome.transfers += 1
            self.outcome.summary = turn.summary
            await self._announce_transfer(turn.summary)
            await self.push(Transfer(reason=turn.end_reason))
        else:
            await self.push(Hangup(reason=turn.end_reason or "dialogue finished"))

    async def _announce_transfer(self, summary: str) -> None:
        if self.on_transfer is None:
            return
        try:
            await self.on_transfer(self, summary)
        except Exception:  # the caller still reaches a person when the inbox cannot be written
            log.exception("voice.transfer_summary_failed", call_id=self.call_id)

    # ------------------------------------------------------------------------------------------- timers

    async def _watch_silence(self) -> None:
        while not self.ended:
            await asyncio.sleep(self.timers.tick_seconds)
            now = time.monotonic()
            if self._busy or self.state.bot_speaking or self._caller_speaking or self._keys:
                self._last_activity = now
            elif now - self._last_activity >= self.timers.silence_seconds:
                self._last_activity = now
                self.enqueue(_Silence())

    async def _close(self) -> None:
        self.ended = True
        if self._key_timer is not None:
            self._key_timer.cancel()
            self._key_timer = None
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if self.call_id:
            call_id, self.call_id = self.call_id, ""
            try:
                await self.flow.finish(call_id)
            except Exception:
                log.exception("voice.flow_finish_failed", call_id=call_id)
