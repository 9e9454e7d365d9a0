"""What a speech engine implements to plug into a call's pipeline (VAD, ASR, TTS).

Audio is always PCM16 little-endian mono bytes. Each engine says which sample rate it wants; the pipeline resamples
to it (telephone audio arrives at 8 kHz). Engines that do CPU-heavy work run it off the event loop themselves
(`asyncio.to_thread`), because one loop carries the RTP of every call. Engines never import the pipeline's frames:
the processors in `processors.py` adapt them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable


@runtime_checkable
class VoiceActivityDetector(Protocol):
    """Speech probability per chunk of audio; stateful per call (one instance per call)."""

    @property
    def sample_rate(self) -> int:
        """The rate `speech_probability` expects (8000 or 16000)."""
        ...

    def speech_probability(self, pcm: bytes) -> float:
        """Probability (0..1) that the latest audio is speech. Accepts any length; the engine buffers partial windows
        and answers for the most recent complete one (or the previous answer while a window is incomplete)."""
        ...

    def reset(self) -> None:
        """Forgets the audio seen so far (a new turn or a new call)."""
        ...


@runtime_checkable
class SpeechRecognizer(Protocol):
    """Speech to text for one utterance; shared by calls (must be safe to call concurrently)."""

    @property
    def name(self) -> str: ...

    @property
    def sample_rate(self) -> int:
        """The rate `transcribe` expects (16000 for Whisper, 8000 or 16000 for others)."""
        ...

    async def transcribe(self, pcm: bytes, *, partial: bool = False) -> str:
        """The text spoken in `pcm`. With `partial=True` the audio is an utterance still in progress: the engine may
        answer faster and rougher (the pipeline sends the answer on as a partial transcript)."""
        ...


@runtime_checkable
class SpeechSynthesizer(Protocol):
    """Text to speech, streamed: the first chunk should come as soon as the engine has it."""

    @property
    def name(self) -> str: ...

    @property
    def sample_rate(self) -> int:
        """The rate of the PCM chunks `synthesize` yields."""
        ...

    def synthesize(self, text: str, *, continuing: bool = False) -> AsyncIterator[bytes]:
        """PCM16 chunks of `text` spoken (any chunk size; the RTP sender re-frames to 20 ms), each made when asked
        for: the TTS stage asks for the next one only when the call's queued audio runs low. Cancelling the iteration
        (barge-in) must stop the engine's work. `continuing`: the text goes on with a reply already playing (an
        engine shared by calls may serve other replies' first words before it)."""
        ...
