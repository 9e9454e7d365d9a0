"""Speech synthesis: espeak-ng (the Debian binary) as the always-available engine, streamed sentence by sentence.

`EspeakSynthesizer` is a `SpeechSynthesizer` (opsdesk.voice.pipeline.interfaces): a reply is cut into sentences;
each sentence is one `espeak-ng --stdout` process (text on stdin, never on the command line), made when the consumer
asks for it and yielded whole (espeak-ng takes some tens of milliseconds a sentence), so the first sentence plays
before the next one is made and the consumer decides when that is (the call's TTS stage: when its queued audio runs
low). At most `max_processes` sentences are made at once across all calls (`SynthesisSlots`), the first sentence of
a reply before the rest, so ten answers at once do not start ten processes on two cores. A sentence that takes
longer than `timeout_seconds` is an error; cancelling the iteration (barge-in) kills the process.

The audio of each sentence without digits (prompts such as "Is there anything else?", said to every caller) is kept
in a small cache (`cache_bytes`, least recently used out): ten callers hearing the same prompt at once cost one
espeak-ng process, not ten. Sentences with digits (card endings, amounts, references) are made every time and never
kept.

piper (`piper-tts` with a packaged voice) sounds better but is GPL-3.0: it is an optional engine that opsdesk does
not install; asking for it without it installed is a clear configuration error.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import re
import shutil
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import TypeVar

import numpy as np

from opsdesk.core.errors import ConfigurationError
from opsdesk.voice import metrics
from opsdesk.voice.audio.resample import resample

T = TypeVar("T")
ESPEAK_RATE = 22050  # espeak-ng's output rate
_WAV_HEADER = 44  # espeak-ng writes the canonical 44-byte header
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
_MIN_SENTENCE = 12  # characters: "Yes." joins the next sentence rather than costing a process of its own
_DIGIT = re.compile(r"\d")


class SynthesisError(RuntimeError):
    """The engine failed or took too long on a sentence."""


def sentences(text: str) -> list[str]:
    """The text cut where sentences end; very short pieces are joined to the next one."""
    pieces = [piece.strip() for piece in _SENTENCE_END.split(text) if piece and piece.strip()]
    joined: list[str] = []
    carry = ""
    for piece in pieces:
        carry = f"{carry} {piece}".strip()
        if len(carry) >= _MIN_SENTENCE:
            joined.append(carry)
            carry = ""
    if carry:
        if joined:
            joined[-1] = f"{joined[-1]} {carry}"
        else:
            joined.append(carry)
    return joined


class SynthesisSlots:
    """At most `size` sentences made at once, across every call of the process; a sentence that opens a reply (the
    caller waits in silence for it) is served before one that continues a reply already playing, each kind in the
    order they came. Used from one event loop at a time."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self.busy = 0
        self.most_busy = 0  # the most held at once so far
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()

    @contextlib.asynccontextmanager
    async def held(self, *, first: bool) -> AsyncIterator[None]:
        began = time.monotonic()
        await self._acquire(first)
        metrics.TTS_WAIT_SECONDS.labels("first" if first else "later").observe(time.monotonic() - began)
        metrics.TTS_SYNTHESES.inc()
        try:
            yield
        finally:
            metrics.TTS_SYNTHESES.dec()
            self._release()

    async def _acquire(self, first: bool) -> None:
        if self.busy < self.size and not self._waiting:
            self._take()
            return
        entry = (0 if first else 1, next(self._arrivals), asyncio.get_running_loop().create_future())
        heapq.heappush(self._waiting, entry)
        try:
            await entry[2]
        except asyncio.CancelledError:
            if entry[2].done() and not entry[2].cancelled():  # handed the slot just as the wait was cancelled
                self._release()
            elif entry in self._waiting:
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
            raise

    def _take(self) -> None:
        self.busy += 1
        self.most_busy = max(self.most_busy, self.busy)

    def _release(self) -> None:
        self.busy -= 1
        while self._waiting and self.busy < self.size:
            _, _, waiter = heapq.heappop(self._waiting)
            if not waiter.done():
                self._take()
                waiter.set_result(None)


class EspeakSynthesizer:
    """espeak-ng as a streaming synthesizer; `output_rate` resamples each sentence (e.g. 8000 for a phone line)."""

    def __init__(
        self,
        *,
        voice: str = "en-us",
        words_per_minute: int = 165,
        pitch: int = 50,
        output_rate: int | None = None,
        timeout_seconds: float = 10.0,
        binary: str = "espeak-ng",
        cache_bytes: int = 16 << 20,
        max_processes: int = 2,
    ) -> None:
        found = shutil.which(binary)
        if found is None:
            raise ConfigurationError(f"`{binary}` is not installed (Debian: apt-get install espeak-ng)")
        if not re.fullmatch(r"[A-Za-z0-9_+\-/]{1,40}", voice):
            raise ConfigurationError(f"Not an espeak-ng voice name: {voice!r}")
        self._binary = found
        self.voice = voice
        self.words_per_minute = min(max(words_per_minute, 80), 450)
        self.pitch = min(max(pitch, 0), 99)
        self._output_rate = output_rate
        self.timeout_seconds = timeout_seconds
        self.cache_bytes = cache_bytes
        self.cache_hits = 0
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cached_bytes = 0
        self._slots = SynthesisSlots(max_processes)

    @property
    def max_processes(self) -> int:
        return self._slots.size

    @property
    def name(self) -> str:
        return "espeak-ng"

    @property
    def sample_rate(self) -> int:
        return self._output_rate or ESPEAK_RATE

    async def synthesize(self, text: str, *, continuing: bool = False) -> AsyncIterator[bytes]:
        """PCM16 of the text spoken, one chunk a sentence, each made when the consumer asks for it. `continuing`:
        the text goes on with a reply already playing, so its first sentence gives way to other replies' first
        sentences for a synthesis slot."""
        for index, sentence in enumerate(sentences(text)):
            cached = self._cache.get(sentence)
            if cached is not None:
                self._cache.move_to_end(sentence)
                self.cache_hits += 1
                yield cached
                continue
            opens = index == 0 and not continuing
            async with self._slots.held(first=opens):
                # Made whole and resampled whole (no streaming filter's edges) while the slot is held; closed at
                # once when the consumer stops (barge-in), not when the loop collects it: the process dies.
                async with contextlib.aclosing(self._speak(sentence)) as chunks:
                    pcm = b"".join([chunk async for chunk in chunks])
                if self._output_rate and self._output_rate != ESPEAK_RATE:
                    pcm = await asyncio.to_thread(self._resampled, pcm)
            self._keep(sentence, pcm)
            yield pcm  # outside the slot: the consumer may hold it as long as it likes

    def _resampled(self, pcm: bytes) -> bytes:
        assert self._output_rate is not None
        samples = resample(np.frombuffer(pcm, dtype="<i2"), ESPEAK_RATE, self._output_rate)
        return bytes(samples.astype("<i2").tobytes())

    def _keep(self, sentence: str, audio: bytes) -> None:
        if _DIGIT.search(sentence) or not audio or len(audio) > self.cache_bytes:
            return  # personal figures are never kept
        self._cache[sentence] = audio
        self._cached_bytes += len(audio)
        while self._cached_bytes > self.cache_bytes:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= len(dropped)

    async def _speak(self, sentence: str) -> AsyncGenerator[bytes, None]:
        process = await asyncio.create_subprocess_exec(
            self._binary,
            "--stdout",
            "-b",
            "1",  # the input is UTF-8
            "-v",
            self.voice,
            "-s",
            str(self.words_per_minute),
            "-p",
            str(self.pitch),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert process.stdin is not None and process.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_seconds  # the engine's time only: not the time a consumer takes

        async def within(step: Awaitable[T]) -> T:
            return await asyncio.wait_for(step, max(deadline - loop.time(), 0.001))

        try:
            process.stdin.write(sentence.encode("utf-8"))
            await within(process.stdin.drain())
            process.stdin.close()
            header = await within(process.stdout.readexactly(_WAV_HEADER))
            if header[:4] != b"RIFF":
                raise SynthesisError("espeak-ng did not write a WAV stream")
            odd = b""
            while chunk := await within(process.stdout.read(8192)):
                chunk = odd + chunk
                cut = len(chunk) - len(chunk) % 2  # whole samples only
                odd = chunk[cut:]
                if cut:
                    yield chunk[:cut]
            code = await within(process.wait())
        except TimeoutError as exc:
            raise SynthesisError(f"espeak-ng took more than {self.timeout_seconds:g} s for one sentence") from exc
        except asyncio.IncompleteReadError as exc:
            raise SynthesisError("espeak-ng ended without audio") from exc
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                with contextlib.suppress(Exception):
                    await process.wait()
        if code != 0:
            raise SynthesisError(f"espeak-ng failed with exit code {code}")


def synthesizer(name: str = "espeak-ng", *, output_rate: int | None = None) -> EspeakSynthesizer:
    """An offline engine by name. piper is optional (GPL-3.0) and not installed with opsdesk."""
    if name == "espeak-ng":
        return EspeakSynthesizer(output_rate=output_rate)
    if name == "piper":
        raise ConfigurationError(
            "piper is an optional engine (GPL-3.0) that opsdesk does not install; use espeak-ng, "
            "or install piper-tts and a voice yourself and plug it in as a SpeechSynthesizer"
        )
    raise ConfigurationError(f"Unknown speech synthesizer {name!r}: espeak-ng (piper is optional)")
