"""Each offline recogniser hears the key words of an espeak-ng sentence, at 16 kHz and through a μ-law phone line."""

from __future__ import annotations

import asyncio
import re

import pytest

from opsdesk.core.errors import ConfigurationError
from opsdesk.voice.pipeline.interfaces import SpeechRecognizer
from opsdesk.voice.speech.asr import (
    WHISPER_BASE_SHA256,
    WHISPER_BASE_SIZE,
    PartialTranscriber,
    PocketsphinxRecognizer,
    WhisperRecognizer,
    recognizer,
    whisper_base_dir,
)
from tests.voice.speech.conftest import Speak, by_telephone

ENGINES = ["whisper_tiny", "whisper_base", "pocketsphinx"]


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("line", ["wideband", "telephone"])
async def test_card_not_arrived_is_heard(engine: str, line: str, speak: Speak, request: pytest.FixtureRequest) -> None:
    asr: WhisperRecognizer | PocketsphinxRecognizer = request.getfixturevalue(engine)
    assert isinstance(asr, SpeechRecognizer)
    pcm = await speak("My card has not arrived.")
    text = await asr.transcribe(by_telephone(pcm) if line == "telephone" else pcm)
    assert "card" in text.lower() and "arriv" in text.lower(), text


@pytest.mark.parametrize("engine", ENGINES)
async def test_blocking_a_lost_card_is_heard(engine: str, speak: Speak, request: pytest.FixtureRequest) -> None:
    asr: WhisperRecognizer | PocketsphinxRecognizer = request.getfixturevalue(engine)
    text = await asr.transcribe(by_telephone(await speak("I lost my card, please block it.")))
    # Through the phone band "block" is often heard as "lock" (its /b/ is a short burst the band cuts).
    assert all(word in text.lower() for word in ("lost", "card", "lock")), text


async def test_too_little_audio_is_no_words(whisper_tiny: WhisperRecognizer) -> None:
    assert await whisper_tiny.transcribe(bytes(200)) == ""


async def test_concurrent_calls_share_an_engine(whisper_tiny: WhisperRecognizer, speak: Speak) -> None:
    pcm = await speak("What is my balance?")
    texts = await asyncio.gather(*(whisper_tiny.transcribe(pcm) for _ in range(3)))
    assert all("balance" in _words(text) for text in texts), texts


async def test_partial_transcripts_arrive_while_the_caller_still_speaks(
    whisper_tiny: WhisperRecognizer, speak: Speak
) -> None:
    pcm = await speak(
        "I would like to know where my new card is. I ordered it two weeks ago and it has still not arrived."
    )
    partials = PartialTranscriber(whisper_tiny, interval_seconds=1.0)
    frame, spoken = 640, 2 * 16000 * 2  # 20 ms frames; the first two seconds
    for start in range(0, spoken, frame):
        await partials.feed(pcm[start : start + frame])
    early = await partials.settle()  # the decode the first second of audio started
    assert early, "no partial transcript while the caller speaks"
    for start in range(spoken, len(pcm), frame):
        await partials.feed(pcm[start : start + frame])
    final = await partials.finish()
    assert len(_words(early)) < len(_words(final))
    assert "card" in final.lower() and "arriv" in final.lower(), final


def test_whisper_base_is_joined_once_from_its_two_wheels_and_checked() -> None:
    directory = whisper_base_dir()
    assert (directory / "model.bin").stat().st_size == WHISPER_BASE_SIZE
    assert directory.name.endswith(WHISPER_BASE_SHA256[:12])
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {path.name for path in directory.iterdir()}
    assert whisper_base_dir() == directory  # found, not joined again


def test_unknown_engines_are_configuration_errors() -> None:
    with pytest.raises(ConfigurationError):
        recognizer("whisper-large")
    with pytest.raises(ConfigurationError):
        WhisperRecognizer("medium")
    assert recognizer("pocketsphinx").name == "pocketsphinx"
