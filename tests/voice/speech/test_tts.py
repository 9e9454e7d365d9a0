"""espeak-ng speaks a reply sentence by sentence: the first sentence's audio comes before the next is made."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncGenerator, Callable
from pathlib import Path

import numpy as np
import pytest

from opsdesk.core.errors import ConfigurationError
from opsdesk.voice.pipeline.interfaces import SpeechSynthesizer
from opsdesk.voice.speech.asr import WhisperRecognizer
from opsdesk.voice.speech.tts import ESPEAK_RATE, EspeakSynthesizer, SynthesisError, sentences, synthesizer


class _CountingEspeak(EspeakSynthesizer):
    """espeak-ng, counting the sentences it has started making."""

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.started: list[str] = []

    def _speak(self, sentence: str):  # type: ignore[no-untyped-def]
        self.started.append(sentence)
        return super()._speak(sentence)


def test_a_reply_is_cut_into_sentences_and_short_pieces_join_the_next() -> None:
    assert sentences("Hello. Your card was posted on Monday! It should arrive by Friday; anything else?") == [
        "Hello. Your card was posted on Monday!",
        "It should arrive by Friday;",
        "anything else?",
    ]
    assert sentences("Yes.") == ["Yes."]
    assert sentences("  \n ") == []


async def test_the_first_sentence_is_heard_before_the_second_is_made() -> None:
    tts = _CountingEspeak()
    assert isinstance(tts, SpeechSynthesizer)
    stream = tts.synthesize("Your new card was posted on Monday. It should arrive by Friday. Is there anything else?")
    first = await anext(stream)
    assert first and len(first) % 2 == 0
    assert len(tts.started) == 1  # only the first sentence is being made
    rest = [chunk async for chunk in stream]
    assert len(tts.started) == 3
    seconds = (len(first) + sum(len(chunk) for chunk in rest)) / 2 / ESPEAK_RATE
    assert 3.0 < seconds < 12.0


async def test_spoken_reply_is_understood_by_the_recognizer(whisper_tiny: WhisperRecognizer) -> None:
    tts = EspeakSynthesizer(output_rate=16000)
    assert tts.sample_rate == 16000
    pcm = b"".join([chunk async for chunk in tts.synthesize("Your card has been blocked.")])
    assert "blocked" in (await whisper_tiny.transcribe(pcm)).lower()


def _espeak_children() -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            name = stat.read_text().split("(", 1)[1].rsplit(")", 1)[0]
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid() and name.startswith("espeak"):
            found.append(int(stat.parent.name))
    return found


async def test_cancelling_the_stream_stops_the_engine() -> None:
    tts = _CountingEspeak()
    stream = tts.synthesize("This is a long reply that goes on, " * 30 + "and on.")
    assert isinstance(stream, AsyncGenerator)
    await anext(stream)
    await stream.aclose()  # barge-in: the consumer stops reading
    assert _espeak_children() == []
    assert len(tts.started) == 1


async def test_text_is_never_an_option_and_odd_input_still_speaks() -> None:
    tts = EspeakSynthesizer()
    pcm = b"".join([chunk async for chunk in tts.synthesize("--help -v xx; rm -rf / $(reboot)")])
    samples = np.frombuffer(pcm, dtype="<i2")
    assert samples.size > ESPEAK_RATE // 2 and np.abs(samples).max() > 1000


async def test_a_sentence_that_takes_too_long_is_an_error(tmp_path: Path) -> None:
    slow = tmp_path / "espeak-slow"
    slow.write_text("#!/bin/sh\nsleep 5\n")
    slow.chmod(0o755)
    tts = EspeakSynthesizer(binary=str(slow), timeout_seconds=0.3)
    with pytest.raises(SynthesisError, match=r"more than 0\.3 s"):
        _ = [chunk async for chunk in tts.synthesize("Hello there, caller.")]


def test_piper_is_optional_and_unknown_voices_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="optional"):
        synthesizer("piper")
    with pytest.raises(ConfigurationError):
        EspeakSynthesizer(voice="en; rm -rf /")
    with pytest.raises(ConfigurationError):
        EspeakSynthesizer(binary="no-such-espeak")


@pytest.mark.parametrize("output_rate", [None, 8000])
async def test_a_prompt_said_again_comes_from_the_cache_and_figures_are_made_every_time(
    output_rate: int | None,
) -> None:
    tts = _CountingEspeak(output_rate=output_rate)
    prompt, figures = "Is there anything else I can help with?", "Your card ending 4 8 2 1 is on its way."
    first = b"".join([chunk async for chunk in tts.synthesize(f"{prompt} {figures}")])
    again = b"".join([chunk async for chunk in tts.synthesize(f"{prompt} {figures}")])
    assert again == first and len(first) > 2 * tts.sample_rate  # the same audio, a few seconds of it
    assert tts.started == [prompt, figures, figures]  # the prompt was made once; the figures twice, never kept
    assert tts.cache_hits == 1


def _gated_espeak(tmp_path: Path) -> tuple[Path, Path]:
    """An espeak-ng that waits until the gate file exists before it speaks; (binary, gate)."""
    gate, binary = tmp_path / "gate", tmp_path / "espeak-gated"
    real = shutil.which("espeak-ng")
    binary.write_text(f'#!/bin/sh\nwhile [ ! -e "{gate}" ]; do sleep 0.01; done\nexec {real} "$@"\n')
    binary.chmod(0o755)
    return binary, gate


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_sentence_cut_short_by_a_barge_in_is_not_kept_and_its_process_dies(tmp_path: Path) -> None:
    binary, _ = _gated_espeak(tmp_path)  # never opened: the sentence is still being made when the caller barges in
    tts = EspeakSynthesizer(binary=str(binary))
    stream = tts.synthesize("Is there anything else I can help with?")
    making = asyncio.ensure_future(anext(stream))
    await _until(lambda: bool(_espeak_children()))
    making.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await making
    await _until(lambda: not _espeak_children())
    assert not tts._cache and tts._slots.busy == 0  # not kept, and the synthesis slot is free again


async def test_sentences_are_made_a_few_at_a_time_and_a_reply_that_opens_goes_before_one_that_continues(
    tmp_path: Path,
) -> None:
    binary, gate = _gated_espeak(tmp_path)
    tts = _CountingEspeak(binary=str(binary), max_processes=1)
    heard: dict[str, bytes] = {}

    async def say(name: str, text: str, *, continuing: bool = False) -> None:
        heard[name] = b"".join([chunk async for chunk in tts.synthesize(text, continuing=continuing)])

    first = asyncio.ensure_future(say("a", "The first reply opens here. And the first reply goes on here."))
    await _until(lambda: len(tts.started) == 1)  # holds the only slot until the gate opens
    going_on = asyncio.ensure_future(say("b", "The second reply goes on here.", continuing=True))
    await asyncio.sleep(0.05)
    opening = asyncio.ensure_future(say("c", "The third reply opens here."))
    await asyncio.sleep(0.05)
    assert tts.started == ["The first reply opens here."]
    gate.touch()
    await asyncio.gather(first, going_on, opening)
    assert tts.started == [
        "The first reply opens here.",
        "The third reply opens here.",  # it came last but opens a reply: a caller waits in silence for it
        "The second reply goes on here.",
        "And the first reply goes on here.",
    ]
    assert tts._slots.most_busy == 1 and tts._slots.busy == 0
    assert all(len(pcm) > ESPEAK_RATE for pcm in heard.values())


async def test_the_cache_keeps_to_its_size_dropping_the_least_recently_used() -> None:
    texts = ["The first prompt is this one.", "The second prompt is that one.", "A third prompt comes now."]
    sizes = [len(b"".join([chunk async for chunk in EspeakSynthesizer(output_rate=8000).synthesize(t)])) for t in texts]
    tts = EspeakSynthesizer(output_rate=8000, cache_bytes=sizes[1] + sizes[2])
    for text in texts:
        async for _ in tts.synthesize(text):
            pass
    assert list(tts._cache) == texts[1:]  # the first made way for the third
