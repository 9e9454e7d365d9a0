"""Typed frames: everything that travels through a call's pipeline, as in Pipecat.

Audio is 16-bit signed little-endian mono PCM with its sample rate. System frames (interruption, end of call) jump
the queues: a processor that receives one drops what it had not yet processed and stops what it was doing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """Base of every frame; `created` is a monotonic timestamp (seconds)."""

    created: float = field(default_factory=time.monotonic)


@dataclass(frozen=True, slots=True, kw_only=True)
class SystemFrame(Frame):
    """Frames that are never queued behind data: they cancel pending work downstream."""


# --- audio ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class AudioFrame(Frame):
    """PCM16 little-endian mono at `sample_rate` Hz."""

    pcm: bytes
    sample_rate: int

    @property
    def samples(self) -> int:
        return len(self.pcm) // 2

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate


@dataclass(frozen=True, slots=True, kw_only=True)
class InputAudio(AudioFrame):
    """Caller audio, one RTP packet's worth (normally 20 ms)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputAudio(AudioFrame):
    """Bot audio to send to the caller; `utterance` groups the chunks of one reply."""

    utterance: int = 0


# --- text ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TextFrame(Frame):
    text: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptPartial(TextFrame):
    """What the recogniser has heard so far of an utterance still in progress."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptFinal(TextFrame):
    """The caller's whole utterance, after the end of turn."""


@dataclass(frozen=True, slots=True, kw_only=True)
class BotText(TextFrame):
    """A sentence the bot will say (synthesis streams sentence by sentence)."""

    utterance: int = 0


# --- control -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted(Frame):
    """The call is answered and media flows; `caller` is the From URI's user part."""

    call_id: str
    caller: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStarted(Frame):
    """The VAD heard the caller start speaking."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechPaused(Frame):
    """The caller paused mid-turn (a short silence, not yet the end of the turn); `pcm` is the utterance so far, so
    the recogniser can decode it while the VAD holds the turn open. `pause` numbers the pauses of a call."""

    pcm: bytes = b""
    sample_rate: int = 8000
    pause: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStopped(Frame):
    """The caller stopped speaking long enough to end the turn; `audio` is the utterance (PCM16)."""

    pcm: bytes = b""
    sample_rate: int = 8000


@dataclass(frozen=True, slots=True, kw_only=True)
class BotStartedSpeaking(Frame):
    utterance: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BotStoppedSpeaking(Frame):
    utterance: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Dtmf(Frame):
    """One key pressed on the caller's keypad (RFC 4733 event): 0-9, *, #, A-D."""

    digit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(Frame):
    """The dialogue asks to hand the call to a person; the gateway transfers it (REFER) when it can."""

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(Frame):
    """The dialogue ends the call after what is queued has been played; the gateway sends BYE."""

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Interruption(SystemFrame):
    """The caller barged in: queued bot audio is flushed and generation stops."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EndOfCall(SystemFrame):
    """The call is over (BYE either way, CANCEL, shutdown); processors release what they hold."""

    reason: str = ""
