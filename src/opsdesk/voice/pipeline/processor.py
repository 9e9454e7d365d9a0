"""Processors linked in a pipeline: each has one async `process(frame)`, its own queue and task, and is timed.

A processor receives frames in order and `push`es what it produces to the next one. The time from a frame entering
`process` to the first new frame the processor pushes for it is that stage's latency (recorded per call and in the
`opsdesk_voice_stage_seconds` histogram) — e.g. ASR: speech stopped → final transcript; TTS: bot text → first audio.
System frames (interruption, end of call) skip the queue: pending frames are dropped (on an interruption, all but the
caller's keys and final transcripts) and, in an `interruptible` processor, the frame being processed is cancelled
(barge-in stops generation at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from opsdesk.voice import metrics
from opsdesk.voice.pipeline.frames import (
    AudioFrame,
    Dtmf,
    EndOfCall,
    Frame,
    Interruption,
    SystemFrame,
    TranscriptFinal,
)

_MAX_QUEUED_AUDIO = 500  # 10 s of 20 ms frames: a stage further behind drops audio rather than grow without end


@dataclass(frozen=True, slots=True)
class StageTiming:
    stage: str
    frame: str  # the type of the frame that started the work
    produced: str  # the type of the first frame it produced
    seconds: float


class FrameProcessor:
    """Base of every stage. Subclasses override `process`; the default passes every frame on."""

    interruptible = False  # whether an interruption cancels the frame being processed

    def __init__(self, name: str | None = None) -> None:
        self.name = name or type(self).__name__
        self.dropped_audio = 0
        self._next: FrameProcessor | None = None
        self._sink: Callable[[Frame], None] | None = None
        self._queue: deque[Frame] = deque()
        self._wakeup = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._current: asyncio.Task[None] | None = None
        self._started: tuple[float, Frame] | None = None
        self._timings: deque[StageTiming] | None = None

    async def process(self, frame: Frame) -> None:
        await self.push(frame)

    async def push(self, frame: Frame) -> None:
        """Sends a frame to the next processor (or to the pipeline's sink after the last one)."""
        if self._started is not None and frame is not self._started[1]:
            began, source = self._started
            self._started = None
            self.record_timing(
                StageTiming(self.name, type(source).__name__, type(frame).__name__, time.monotonic() - began)
            )
        if self._next is not None:
            self._next.enqueue(frame)
        elif self._sink is not None:
            self._sink(frame)

    def restart_timing(self) -> None:
        """The latency of the frame in progress counts from now (the stage waited on purpose until now)."""
        if self._started is not None:
            self._started = (time.monotonic(), self._started[1])

    def record_timing(self, timing: StageTiming) -> None:
        """Keeps a timing for the call and in `opsdesk_voice_stage_seconds` (also for what a stage measures itself,
        e.g. the VAD's end-of-turn hold)."""
        metrics.STAGE_SECONDS.labels(timing.stage).observe(timing.seconds)
        if self._timings is not None:
            self._timings.append(timing)

    def enqueue(self, frame: Frame) -> None:
        kept: list[Frame] = []
        if isinstance(frame, SystemFrame):
            if isinstance(frame, Interruption):  # a barge-in cancels the bot's work, not what the caller keyed or said
                kept = [queued for queued in self._queue if isinstance(queued, Dtmf | TranscriptFinal)]
            self._queue = deque(queued for queued in self._queue if isinstance(queued, SystemFrame))
            if self.interruptible and self._current is not None:
                self._current.cancel()
        elif isinstance(frame, AudioFrame) and len(self._queue) >= _MAX_QUEUED_AUDIO:
            self.dropped_audio += 1
            return
        self._queue.append(frame)
        self._queue.extend(kept)  # after the interruption, so what they lead to is not cancelled by it
        self._wakeup.set()

    async def cleanup(self) -> None:
        """Releases what the processor holds (end of call)."""

    async def _run(self) -> None:
        while True:
            while not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            frame = self._queue.popleft()
            self._started = (time.monotonic(), frame)
            if self.interruptible and not isinstance(frame, SystemFrame):
                self._current = asyncio.get_running_loop().create_task(self.process(frame))
                with contextlib.suppress(asyncio.CancelledError):
                    await self._current
                self._current = None
            else:
                await self.process(frame)
            self._started = None
            if isinstance(frame, EndOfCall):
                return


class Pipeline:
    """Processors linked in order; frames put in go to the first, frames out of the last go to `sink`."""

    def __init__(self, processors: list[FrameProcessor], sink: Callable[[Frame], None] | None = None) -> None:
        if not processors:
            raise ValueError("a pipeline needs at least one processor")
        self.processors = processors
        self.timings: deque[StageTiming] = deque(maxlen=2000)
        for current, following in itertools.pairwise(processors):
            current._next = following
        processors[-1]._sink = sink
        for processor in processors:
            processor._timings = self.timings

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for processor in self.processors:
            processor._worker = loop.create_task(processor._run(), name=f"voice-{processor.name}")

    def put(self, frame: Frame) -> None:
        """Queues a frame at the head of the pipeline (safe to call from socket callbacks)."""
        self.processors[0].enqueue(frame)

    async def stop(self, reason: str = "") -> None:
        """Sends the end of call through every stage, waits briefly for them, then cancels what is left."""
        self.put(EndOfCall(reason=reason))
        workers = [p._worker for p in self.processors if p._worker is not None]
        if workers:
            _, pending = await asyncio.wait(workers, timeout=2.0)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for processor in self.processors:
            await processor.cleanup()
