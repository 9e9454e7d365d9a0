"""Bad input: a caller who speaks over every prompt. Each barge-in stops the prompt, never the call: the caller's
words and keys still reach the flow, and the call ends as it would have without the interruptions."""

from __future__ import annotations

from collections.abc import Callable

from opsdesk.voice.banking.dialogue import replies
from opsdesk.voice.banking.dialogue.processor import BankingDialogue
from opsdesk.voice.pipeline.frames import BotText, CallStarted, Frame, Hangup, Interruption, TranscriptFinal
from opsdesk.voice.pipeline.processors import CallState
from tests.voice.banking.dialogue_helpers import banking_flow, customer
from tests.voice.banking.test_dialogue_stage import FAST, Stage


def _prompts(frames: list[Frame]) -> int:
    return sum(1 for frame in frames if isinstance(frame, BotText))


def _asked_again(made: Stage, seen: int, expected: str) -> Callable[[], bool]:
    return lambda: _prompts(made.frames) > seen and expected in made.said()


async def test_a_caller_who_speaks_over_every_prompt_is_still_served_and_let_go() -> None:
    alice = customer()
    made = Stage(BankingDialogue(banking_flow(), CallState(), timers=FAST))
    made.pipeline.start()
    try:
        made.put(CallStarted(call_id="call-over", caller="caller"))
        await made.until(lambda: replies.ASK_NUMBER in made.said())
        for entry, expected in (
            (alice.card + "#", replies.ASK_PIN),
            (alice.pin + "#", replies.ASK_NEED),
        ):
            seen = _prompts(made.frames)
            made.put(Interruption())  # over the prompt being spoken
            made.keys(entry)
            await made.until(_asked_again(made, seen, expected))
        seen = _prompts(made.frames)
        made.put(Interruption(), TranscriptFinal(text="where is my new card"))
        await made.until(lambda: _prompts(made.frames) > seen + 1)
        made.put(Interruption(), TranscriptFinal(text="no that's all, goodbye"))
        await made.until(lambda: any(isinstance(frame, Hangup) for frame in made.frames))
    finally:
        await made.pipeline.stop("test over")
    outcome = made.dialogue.outcome
    assert outcome.auth == "passed"
    assert outcome.transfers == 0 and outcome.end_reason not in ("dialogue error", "transferred")
    assert any("card" in intent for intent in outcome.intents)
    assert replies.GOODBYE in made.said()
