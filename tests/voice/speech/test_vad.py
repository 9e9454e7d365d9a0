"""Silero VAD finds the speech in espeak-ng audio, where it starts and ends, and none in silence or line noise."""

from __future__ import annotations

import numpy as np
import pytest

from opsdesk.voice.audio import resample
from opsdesk.voice.pipeline.interfaces import VoiceActivityDetector
from opsdesk.voice.speech.vad import SileroVad, SpeechDetector, SpeechEvent
from tests.voice.speech.conftest import Speak

RATE = 16000


def _feed(detector: SpeechDetector, samples: np.ndarray, frame: int) -> list[SpeechEvent]:
    events: list[SpeechEvent] = []
    for start in range(0, samples.size, frame):
        events += detector.feed(samples[start : start + frame].astype("<i2").tobytes())
    return events


def _noise(seconds: float, level: float, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, level, int(seconds * RATE)).astype(np.int16)


def test_silero_is_a_voice_activity_detector_for_the_pipeline() -> None:
    assert isinstance(SileroVad(8000), VoiceActivityDetector)
    with pytest.raises(ValueError):
        SileroVad(44100)


async def test_two_sentences_with_a_pause_are_two_spans_of_speech(speak: Speak) -> None:
    speech = np.frombuffer(await speak("My card has not arrived. Where is it now?"), dtype="<i2")
    silence = np.zeros(RATE, dtype=np.int16)
    audio = np.concatenate([silence, speech, silence, speech, silence])
    events = _feed(SpeechDetector(min_silence_seconds=0.5), audio, 320)  # 20 ms frames

    assert [event.kind for event in events] == ["start", "stop", "start", "stop"]
    spoken = speech.size / RATE
    assert events[0].at == pytest.approx(1.0, abs=0.15)
    assert 1.0 + spoken - 0.6 <= events[1].at <= 1.0 + spoken  # espeak-ng ends its audio with a little silence
    assert events[2].at == pytest.approx(2.0 + spoken, abs=0.15)


async def test_a_short_pause_between_words_does_not_end_the_turn(speak: Speak) -> None:
    words = np.frombuffer(await speak("Block my card."), dtype="<i2")
    voiced = np.flatnonzero(np.abs(words) > 500)
    words = words[voiced[0] : voiced[-1] + 1]  # without espeak-ng's own leading and trailing silence
    pause = np.zeros(int(0.25 * RATE), dtype=np.int16)
    audio = np.concatenate([pause, words, pause, words, np.zeros(RATE, dtype=np.int16)])
    events = _feed(SpeechDetector(min_silence_seconds=0.6), audio, 512)
    assert [event.kind for event in events] == ["start", "stop"]


def test_silence_and_line_noise_are_not_speech() -> None:
    detector = SpeechDetector()
    assert _feed(detector, np.zeros(3 * RATE, dtype=np.int16), 320) == []
    detector.reset()
    assert _feed(detector, _noise(3.0, 800.0), 320) == []  # hiss about -32 dBFS
    detector.reset()
    clicks = np.zeros(3 * RATE, dtype=np.int16)
    clicks[:: RATE // 2] = 20000  # a click every half second
    assert _feed(detector, clicks, 320) == []


async def test_telephone_audio_at_8_khz_is_detected_too(speak: Speak) -> None:
    speech = resample(np.frombuffer(await speak("I lost my card yesterday."), dtype="<i2"), RATE, 8000)
    audio = np.concatenate([np.zeros(4000, dtype=np.int16), speech, np.zeros(8000, dtype=np.int16)])
    events = _feed(SpeechDetector(sample_rate=8000), audio, 160)
    assert [event.kind for event in events] == ["start", "stop"]


async def test_probability_answers_for_any_chunk_size_and_reset_forgets(speak: Speak) -> None:
    vad = SileroVad(RATE)
    speech = await speak("Please tell me my balance.")
    assert vad.speech_probability(speech[:100]) == 0.0  # no full window yet
    highest = max(vad.speech_probability(speech[i : i + 700]) for i in range(0, len(speech), 700))
    assert highest > 0.8
    vad.reset()
    assert vad.speech_probability(bytes(2 * 512)) < 0.2
