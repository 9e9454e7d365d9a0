"""Speech for the speech tests: espeak-ng sentences at 16 kHz, as a phone line delivers them, and the engines
loaded once per session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np
import pytest

from opsdesk.voice.audio import resample, ulaw_decode, ulaw_encode
from opsdesk.voice.speech.asr import BANKING_PROMPT, PocketsphinxRecognizer, WhisperRecognizer
from opsdesk.voice.speech.tts import EspeakSynthesizer

# The espeak-ng voice and pace the recognisers read best through a phone line (espeak-ng's default male voice at its
# default pace is misread by all three: "my card's been out of your eye").
VOICE = "en-us+f2"
WORDS_PER_MINUTE = 130
# Both engines are primed with the desk's words, as the voice desk runs them: Whisper by its prompt, pocketsphinx by a
# language model of what callers of a bank say (the desk's comes from Banking77's training sentences).
BANKING_SENTENCES = [
    "my card has not arrived yet",
    "my new card still has not arrived",
    "when will my card arrive",
    "i lost my card please block it",
    "my card was stolen",
    "what is my balance",
    "show me my last transactions",
    "i want to speak to an agent",
    "there is a payment i did not make",
]

Speak = Callable[[str], Awaitable[bytes]]


@pytest.fixture(scope="session")
def speak() -> Speak:
    synthesizer = EspeakSynthesizer(voice=VOICE, words_per_minute=WORDS_PER_MINUTE, output_rate=16000)

    async def run(text: str) -> bytes:
        return b"".join([chunk async for chunk in synthesizer.synthesize(text)])

    return run


def by_telephone(pcm: bytes) -> bytes:
    """16 kHz speech as it comes out of a phone call: 8 kHz, μ-law, decoded and brought back to 16 kHz."""
    narrow = resample(np.frombuffer(pcm, dtype="<i2"), 16000, 8000)
    return resample(ulaw_decode(ulaw_encode(narrow)), 8000, 16000).astype("<i2").tobytes()


@pytest.fixture(scope="session")
def whisper_tiny() -> WhisperRecognizer:
    engine = WhisperRecognizer("whisper-tiny.en", prompt=BANKING_PROMPT)
    engine.load()
    return engine


@pytest.fixture(scope="session")
def whisper_base() -> WhisperRecognizer:
    engine = WhisperRecognizer("whisper-base", prompt=BANKING_PROMPT)
    engine.load()
    return engine


@pytest.fixture(scope="session")
def pocketsphinx() -> PocketsphinxRecognizer:
    engine = PocketsphinxRecognizer(BANKING_SENTENCES)
    engine.load()
    return engine
