"""Short utterances that wait for the recogniser together are decoded as one batch, with the texts they get alone;
the batcher hands each free worker its share of what waits, and a looping decode is recognised as one, made again
over 20 s and counted."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from prometheus_client import REGISTRY

from opsdesk.voice.speech.asr import WhisperRecognizer
from opsdesk.voice.speech.batching import DecodeBatcher
from opsdesk.voice.speech.whisper_window import repeats_itself, without_loops
from tests.voice.speech.conftest import Speak, by_telephone

PHRASES = [
    "Where is my new card?",
    "I lost my card, please block it.",
    "What is my balance?",
    "I want to speak to an agent.",
    "My card has not arrived.",
    "Sorry, can you say that again?",
]


async def test_utterances_waiting_together_are_decoded_as_a_batch_with_the_texts_they_get_alone(
    whisper_tiny: WhisperRecognizer, speak: Speak
) -> None:
    clips = [by_telephone(await speak(phrase)) for phrase in PHRASES]
    alone = [await whisper_tiny.transcribe(clip) for clip in clips]
    before = len(whisper_tiny.batches)
    together = await asyncio.gather(*(whisper_tiny.transcribe(clip) for clip in clips))
    sizes = whisper_tiny.batches[before:] if before < 100 else whisper_tiny.batches
    assert together == alone
    assert max(sizes) > 1 and sum(sizes) == len(clips)  # some were decoded in one batch, each once
    assert "balance" in together[2].lower() and "agent" in together[3].lower()


def _gated() -> tuple[DecodeBatcher[str], list[list[str]], threading.Event]:
    """A batcher whose decodes wait for the gate, noting each batch it was given."""
    gate = threading.Event()
    seen: list[list[str]] = []

    def decode(items: list[str]) -> list[str]:
        seen.append(items)
        gate.wait(10)
        return [item.upper() for item in items]

    return DecodeBatcher(decode, workers=2), seen, gate


def test_a_free_worker_takes_the_first_decode_at_once_and_the_rest_are_shared_between_the_workers() -> None:
    batcher, seen, gate = _gated()
    first = [batcher.submit(text) for text in ("a", "b")]  # one for each idle worker, not waiting for company
    waiting = [batcher.submit(text) for text in "cdefg"]
    long = batcher.submit("h", batchable=False)
    gate.set()
    assert [future.result(10) for future in first + waiting + [long]] == list("ABCDEFGH")
    assert sorted(seen[:2]) == [["a"], ["b"]]
    # The first worker free leaves the other busy one its share (⌈5 / 2⌉ taken); the long one goes alone.
    assert seen[2] == ["c", "d", "e"]
    assert ["h"] in seen[3:] and sorted(item for batch in seen[3:] for item in batch) == ["f", "g", "h"]


def test_a_cancelled_decode_is_left_out_and_a_failure_reaches_every_caller_of_its_batch() -> None:
    gate = threading.Event()

    def decode(items: list[str]) -> list[str]:
        gate.wait(10)
        if "bad" in items:
            raise ValueError("decoder failed")
        return items

    batcher = DecodeBatcher(decode, workers=1)
    busy = batcher.submit("busy")
    dropped, bad, other = batcher.submit("dropped"), batcher.submit("bad"), batcher.submit("other")
    assert dropped.cancel()
    gate.set()
    assert busy.result(10) == "busy"
    for future in (bad, other):
        with pytest.raises(ValueError, match="decoder failed"):
            future.result(10)
    assert batcher.batches == [1, 2]


@pytest.mark.parametrize(
    ("text", "loops"),
    [
        ("I lost my card and I lost my card and I lost my card and", True),
        ("I lost my card, and I lost my card.", True),
        ("Yes. Yes.", True),
        ("x x x x x x x", True),
        ("Where is my new card?", False),
        ("4 4 7 6 3 5 3 1", False),
        ("No, no.", False),
        ("4 0 0 0 6 5 0 4 8 6 2 2 4 8 2 1 4 0 0 0", False),
        ("I lost my card and I want to block it.", False),
    ],
)
def test_a_looping_decode_is_told_from_speech(text: str, loops: bool) -> None:
    assert repeats_itself(text) is loops


def test_a_sentence_repeated_back_to_back_is_kept_once() -> None:
    assert without_loops("Okay. Okay. Okay.") == "Okay."
    assert without_loops("Where is my card? Where is my card? I lost it.") == "Where is my card? I lost it."


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_each_batch_its_wait_and_every_fallback_decode_are_counted(
    whisper_tiny: WhisperRecognizer, speak: Speak
) -> None:
    fallbacks = _sample("opsdesk_voice_asr_fallback_decodes_total")
    batches, decoded = _sample("opsdesk_voice_asr_batch_size_count"), _sample("opsdesk_voice_asr_batch_size_sum")
    waits = _sample("opsdesk_voice_asr_wait_seconds_count")
    short = _sample("opsdesk_voice_asr_decode_seconds_count", {"window": "short"})
    assert await whisper_tiny.transcribe(by_telephone(await speak("Where is my new card?")))
    assert _sample("opsdesk_voice_asr_fallback_decodes_total") == fallbacks  # it did not loop
    # "I lost my card and", cut as the VAD cuts it at a pause, loops over the short window: it is made again over 20 s.
    cut = by_telephone(await speak("I lost my card and")) + bytes(2 * 16000 // 5)
    assert "lost my card" in (await whisper_tiny.transcribe(cut)).lower()
    assert _sample("opsdesk_voice_asr_fallback_decodes_total") == fallbacks + 1
    assert _sample("opsdesk_voice_asr_decode_seconds_count", {"window": "fallback"}) >= 1
    assert _sample("opsdesk_voice_asr_batch_size_count") == batches + 2  # two decodes, one batch each
    assert _sample("opsdesk_voice_asr_batch_size_sum") == decoded + 2
    assert _sample("opsdesk_voice_asr_wait_seconds_count") == waits + 2
    assert _sample("opsdesk_voice_asr_decode_seconds_count", {"window": "short"}) == short + 2


async def test_silence_and_line_hiss_are_no_words_beside_speech_in_the_same_batch(
    whisper_tiny: WhisperRecognizer, speak: Speak
) -> None:
    """Whisper reads "you" into a second of digital silence over a short window; audio under -50 dBFS throughout is
    not decoded at all, and the speech decoded with it keeps its words."""
    rng = np.random.default_rng(0)
    hiss = (rng.standard_normal(16000) * 0.001 * 32767).astype("<i2").tobytes()  # -60 dBFS
    spoken, silent, hissing = await asyncio.gather(
        whisper_tiny.transcribe(by_telephone(await speak("Where is my new card?"))),
        whisper_tiny.transcribe(bytes(32000)),
        whisper_tiny.transcribe(hiss),
    )
    assert "card" in spoken.lower()
    assert (silent, hissing) == ("", "")
