"""The speech engines of the gateway inside `opsdesk up`: whatever is installed is used and whatever is missing is a
warning, not a failed start; the recogniser loads in the background so the HTTP API and the gateway serve at once.
A call that starts before the recogniser is ready is served on keys (the dialogue's keypad path); calls after it
are heard. `opsdesk voice serve` instead loads every engine it is given before it answers (`voice/cli.py`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from opsdesk.core.errors import ConfigurationError
from opsdesk.core.logging import get_logger
from opsdesk.voice.gateway import SpeechEngines
from opsdesk.voice.pipeline.interfaces import SpeechRecognizer, VoiceActivityDetector

log = get_logger(__name__)

Notify = Callable[[str], None]
# Where `opsdesk up`'s gateway parks its engines in the app context, so that calls over the WebSocket share them.
SHARED_ENGINES_KEY = "voice.engines"
# What a missing engine package, model file or binary raises while being loaded.
_UNAVAILABLE = (ConfigurationError, ImportError, OSError, RuntimeError, ValueError)


def available_engines(*, vad: str = "silero", tts: str = "espeak-ng", warn: Notify) -> SpeechEngines:
    """The VAD and synthesiser named, or a warning and the fallback: the energy detector for a missing Silero,
    no speech out (a desk that cannot talk) for a missing espeak-ng. No recogniser yet."""
    engines = SpeechEngines()
    if vad == "silero":
        try:
            from opsdesk.voice.speech.vad import SileroVad

            SileroVad(8000)  # fails here, not on the first call
            engines.vad = _silero
        except _UNAVAILABLE as exc:
            warn(f"Silero VAD unavailable ({exc}); the voice desk finds speech by energy instead")
    if tts != "none":
        try:
            from opsdesk.voice.speech.tts import synthesizer

            engines.tts = synthesizer(tts, output_rate=8000)  # the phone's rate: no resampling in the call
        except _UNAVAILABLE as exc:
            warn(f"no speech synthesis ({exc}); the voice desk answers calls but cannot speak")
    return engines


def _silero() -> VoiceActivityDetector:
    from opsdesk.voice.speech.vad import SileroVad

    return SileroVad(8000)


@dataclass
class RecognizerLoading:
    """A recogniser being loaded for `engines` in a worker thread; calls use it once `ready`. Closed (loading
    abandoned) with the app context that holds it."""

    engines: SpeechEngines
    name: str
    task: asyncio.Task[bool] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, timeout: float) -> bool:
        """Whether the recogniser is in use within `timeout` seconds (False when it failed or is still loading); a
        failed load answers at once."""
        if self.task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.task), timeout)
        return self.ready.is_set()

    async def aclose(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def load_recognizer_later(engines: SpeechEngines, name: str, *, warn: Notify, loaded: Notify) -> RecognizerLoading:
    """Starts loading the recogniser `name` (whisper-tiny.en, whisper-base, pocketsphinx); `loaded` is told once
    calls use it, `warn` why they never will (a missing model package, say) — calls then stay on keys."""
    loading = RecognizerLoading(engines, name)
    loading.task = asyncio.get_running_loop().create_task(_load(loading, warn, loaded), name=f"load {name}")
    return loading


async def _load(loading: RecognizerLoading, warn: Notify, loaded: Notify) -> bool:
    try:
        engine = await asyncio.to_thread(_loaded_recognizer, loading.name)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # any failure of a model's load leaves the desk on keys, never stops opsdesk
        log.exception("voice.recognizer_unavailable", engine=loading.name)
        warn(f"speech recognition unavailable ({exc}); voice calls are served on keys only")
        return False
    loading.engines.asr = engine  # the pipelines of calls that start from now on hear the caller
    loading.ready.set()
    loaded(f"Voice recogniser {loading.name} ready: callers can speak")
    return True


def _loaded_recognizer(name: str) -> SpeechRecognizer:
    from opsdesk.voice.speech.asr import recognizer

    engine = recognizer(name)
    engine.load()  # the first caller should not wait for the model
    return engine
