"""The dialogue stage in a pipeline: transcripts and keys in, BotText / Transfer / Hangup out; keys gathered until
'#' or a pause; a silent caller prompted, then let go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from prometheus_client import REGISTRY

from opsdesk.voice.banking.backend import CardDelivery, CustomerRef, LocalBank
from opsdesk.voice.banking.dialogue import replies
from opsdesk.voice.banking.dialogue.processor import BankingDialogue, DialogueTimers
from opsdesk.voice.pipeline.frames import (
    BotText,
    CallStarted,
    Dtmf,
    Frame,
    Hangup,
    Interruption,
    TranscriptFinal,
    Transfer,
)
from opsdesk.voice.pipeline.processor import Pipeline
from opsdesk.voice.pipeline.processors import CallState
from tests.voice.banking.dialogue_helpers import banking_flow, customer

FAST = DialogueTimers(silence_seconds=0.3, inter_digit_seconds=0.3, tick_seconds=0.02)


class Stage:
    def __init__(self, dialogue: BankingDialogue) -> None:
        self.dialogue = dialogue
        self.frames: list[Frame] = []
        self._arrived = asyncio.Event()
        self.pipeline = Pipeline([dialogue], sink=self._take)

    def _take(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._arrived.set()

    def put(self, *frames: Frame) -> None:
        for frame in frames:
            self.pipeline.put(frame)

    def keys(self, digits: str) -> None:
        self.put(*(Dtmf(digit=digit) for digit in digits))

    def said(self) -> str:
        return " ".join(frame.text for frame in self.frames if isinstance(frame, BotText))

    async def until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Waits for the frames out of the stage to satisfy `condition`."""

        async def wait() -> None:
            while not condition():
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(wait(), timeout)


@pytest.fixture
async def stage() -> AsyncIterator[Stage]:
    made = Stage(BankingDialogue(banking_flow(), CallState(), timers=DialogueTimers(silence_seconds=60)))
    made.pipeline.start()
    yield made
    await made.pipeline.stop("test over")


async def test_keys_ended_by_hash_identify_the_caller_and_words_are_answered(stage: Stage) -> None:
    alice = customer()
    stage.put(CallStarted(call_id="call-1", caller="+441632960001"))
    await stage.until(lambda: replies.ASK_NUMBER in stage.said())
    stage.keys(alice.card + "#")
    await stage.until(lambda: replies.ASK_PIN in stage.said())
    stage.keys(alice.pin + "#")
    await stage.until(lambda: replies.ASK_NEED in stage.said())
    stage.put(TranscriptFinal(text="where is my new card"))
    await stage.until(lambda: "DPD" in stage.said())

    transcript = stage.dialogue.outcome.transcript
    assert {"who": "caller", "text": f"[keys ••••{alice.card[-4:]}]"} in transcript
    assert {"who": "caller", "text": "[4 keys]"} in transcript  # the PIN: never which keys
    assert alice.card not in repr(transcript) and stage.dialogue.outcome.auth == "passed"


async def test_keys_without_hash_are_taken_after_the_inter_digit_pause() -> None:
    made = Stage(BankingDialogue(banking_flow(), CallState(), timers=FAST))
    made.pipeline.start()
    try:
        made.put(CallStarted(call_id="call-2", caller="caller"))
        made.keys(customer().account)  # no '#'
        await made.until(lambda: replies.ASK_PIN in made.said())
    finally:
        await made.pipeline.stop("test over")


async def test_a_silent_caller_is_prompted_twice_then_hung_up_on_politely() -> None:
    made = Stage(BankingDialogue(banking_flow(), CallState(), timers=FAST))
    made.pipeline.start()
    try:
        made.put(CallStarted(call_id="call-3", caller="caller"))
        await made.until(lambda: any(isinstance(frame, Hangup) for frame in made.frames))
    finally:
        await made.pipeline.stop("test over")
    said = [frame.text for frame in made.frames if isinstance(frame, BotText)]
    assert said.count(replies.NOT_HEARD) == 2 and said[-1] == replies.SILENT_GOODBYE
    hangup = next(frame for frame in made.frames if isinstance(frame, Hangup))
    assert hangup.reason == "silence" and made.dialogue.outcome.end_reason == "silence"
    ended = REGISTRY.get_sample_value("opsdesk_voice_dialogue_ends_total", {"end": "hangup", "auth": "none"})
    assert ended is not None and ended >= 1


async def test_asking_for_a_person_ends_in_a_transfer_frame(stage: Stage) -> None:
    stage.put(CallStarted(call_id="call-4", caller="caller"), TranscriptFinal(text="agent"))
    await stage.until(lambda: any(isinstance(frame, Transfer) for frame in stage.frames))
    transfer = next(frame for frame in stage.frames if isinstance(frame, Transfer))
    assert transfer.reason == "caller asked for a person"
    assert stage.dialogue.outcome.transfers == 1 and "caller asked for a person" in stage.dialogue.outcome.summary
    stage.put(TranscriptFinal(text="hello?"))  # after the end, the flow is not asked again
    await asyncio.sleep(0.05)
    assert sum(isinstance(frame, Transfer) for frame in stage.frames) == 1


class _BrokenBank(LocalBank):
    """A bank adapter with a bug: deliveries fail with an error the flow does not know."""

    async def card_deliveries(self, customer: CustomerRef) -> list[CardDelivery]:
        raise RuntimeError("adapter bug")


async def test_a_failing_step_hands_the_caller_to_a_person_instead_of_silence() -> None:
    alice = customer()
    made = Stage(BankingDialogue(banking_flow(_BrokenBank.from_file()), CallState(), timers=FAST))
    made.pipeline.start()
    try:
        made.put(CallStarted(call_id="call-5", caller="caller"))
        made.keys(alice.card + "#" + alice.pin + "#")
        await made.until(lambda: replies.ASK_NEED in made.said())
        made.put(TranscriptFinal(text="where is my new card"))
        await made.until(lambda: any(isinstance(frame, Transfer) for frame in made.frames))
    finally:
        await made.pipeline.stop("test over")
    assert replies.DESK_FAILED in made.said() and made.dialogue.outcome.end_reason == "dialogue error"


async def test_keys_waiting_behind_a_slow_bank_survive_the_caller_barging_in() -> None:
    alice = customer()
    slow = banking_flow(LocalBank.from_file(latency=0.3))
    made = Stage(BankingDialogue(slow, CallState(), timers=DialogueTimers(silence_seconds=60)))
    made.pipeline.start()
    try:
        made.put(CallStarted(call_id="call-6", caller="caller"))
        await made.until(lambda: replies.ASK_NUMBER in made.said())
        made.keys(alice.card + "#" + alice.pin + "#")  # the PIN queues while the card number is looked up
        made.put(Interruption())  # the caller speaks over the prompt meanwhile
        await made.until(lambda: replies.ASK_NEED in made.said())
    finally:
        await made.pipeline.stop("test over")
    assert made.dialogue.outcome.auth == "passed"


async def test_a_full_pin_or_card_number_needs_no_hash_and_no_pause() -> None:
    """Keyed entries end as soon as they cannot go on: four PIN digits, sixteen card digits (the pause that ends an
    entry without '#' is set to a minute here, so only the entry's length can end it)."""
    alice = customer()
    made = Stage(BankingDialogue(banking_flow(), CallState(), timers=DialogueTimers(inter_digit_seconds=60)))
    made.pipeline.start()
    try:
        made.put(CallStarted(call_id="call-full", caller="+441632960001"))
        await made.until(lambda: replies.ASK_NUMBER in made.said())
        made.keys(alice.card)  # sixteen digits: no '#', no pause
        await made.until(lambda: replies.ASK_PIN in made.said())
        made.keys(alice.pin + "#")  # the '#' after a full entry is not a second, empty one
        await made.until(lambda: replies.ASK_NEED in made.said())
        await asyncio.sleep(0.2)
        said = made.said()
        assert replies.PIN_SHAPE not in said and replies.NUMBER_SHAPE not in said and replies.NOT_UNDERSTOOD not in said
    finally:
        await made.pipeline.stop("test over")


async def test_an_eight_digit_entry_ends_after_the_shorter_pause() -> None:
    """Eight keys may be a whole account number: a 0.2 s pause ends them, where a shorter entry waits a minute."""
    timers = DialogueTimers(inter_digit_seconds=60, complete_entry_seconds=0.2)
    made = Stage(BankingDialogue(banking_flow(), CallState(), timers=timers))
    made.pipeline.start()
    try:
        made.put(CallStarted(call_id="call-eight", caller="+441632960001"))
        await made.until(lambda: replies.ASK_NUMBER in made.said())
        asked = made.said().count(replies.ASK_NUMBER)
        made.keys("99999999")  # eight digits, no account of the bank's
        await made.until(lambda: "9 9 9 9" in made.said() or made.said().count(replies.ASK_NUMBER) > asked)
    finally:
        await made.pipeline.stop("test over")
