"""The frame pipeline on its own: stages in order and timed, interruptions jump the queue, a long call stays
bounded."""

from __future__ import annotations

import asyncio

import numpy as np

from opsdesk.voice.pipeline.frames import (
    Dtmf,
    EndOfCall,
    Frame,
    InputAudio,
    Interruption,
    SpeechStopped,
    TextFrame,
    TranscriptFinal,
)
from opsdesk.voice.pipeline.processor import FrameProcessor, Pipeline
from opsdesk.voice.pipeline.processors import CallState, EnergyDetector, VadProcessor


class Upper(FrameProcessor):
    """A stage that takes a moment and answers each text with its upper case."""

    interruptible = True

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, TextFrame):
            await asyncio.sleep(0.01)
            await self.push(TextFrame(text=frame.text.upper()))
        else:
            await self.push(frame)


async def _drain(pipeline: Pipeline, out: list[Frame]) -> None:
    await pipeline.stop("test")
    assert isinstance(out[-1], EndOfCall)


async def test_frames_go_through_in_order_and_each_stage_is_timed() -> None:
    out: list[Frame] = []
    three = asyncio.Event()

    def sink(frame: Frame) -> None:
        out.append(frame)
        if len(out) == 3:
            three.set()

    pipeline = Pipeline([Upper("one"), Upper("two")], sink=sink)
    pipeline.start()
    for text in ("a", "b", "c"):
        pipeline.put(TextFrame(text=text))
    await asyncio.wait_for(three.wait(), 5)
    await _drain(pipeline, out)
    assert [frame.text for frame in out if isinstance(frame, TextFrame)] == ["A", "B", "C"]
    assert [(t.stage, t.frame, t.produced) for t in pipeline.timings][:2] == [
        ("one", "TextFrame", "TextFrame"),
        ("two", "TextFrame", "TextFrame"),
    ]
    assert all(timing.seconds > 0 for timing in pipeline.timings)


async def test_an_interruption_drops_queued_work_and_cancels_the_frame_in_progress() -> None:
    out: list[Frame] = []
    stage = Upper("slow")
    pipeline = Pipeline([stage], sink=out.append)
    pipeline.start()
    for index in range(50):
        pipeline.put(TextFrame(text=f"reply {index}"))
    await asyncio.sleep(0.015)  # the first is being worked on, 49 wait
    pipeline.put(Interruption())
    await asyncio.sleep(0.05)
    await _drain(pipeline, out)
    texts = [frame.text for frame in out if isinstance(frame, TextFrame)]
    assert len(texts) <= 2
    assert any(isinstance(frame, Interruption) for frame in out)


async def test_an_interruption_keeps_the_callers_keys_and_words_queued_behind_it() -> None:
    out: list[Frame] = []
    pipeline = Pipeline([Upper("slow")], sink=out.append)
    pipeline.start()
    for index in range(20):
        pipeline.put(TextFrame(text=f"reply {index}"))
    pipeline.put(Dtmf(digit="4"))
    pipeline.put(TranscriptFinal(text="agent"))
    await asyncio.sleep(0.015)
    pipeline.put(Interruption())
    await asyncio.sleep(0.05)
    await _drain(pipeline, out)
    after = out[next(i for i, frame in enumerate(out) if isinstance(frame, Interruption)) + 1 :]
    assert isinstance(after[0], Dtmf) and after[0].digit == "4"  # after the interruption, not dropped by it
    assert isinstance(after[1], TextFrame) and after[1].text == "AGENT"  # the transcript, worked on by the stage
    assert sum(isinstance(frame, TextFrame) and frame.text.startswith("REPLY") for frame in out) <= 2


async def test_a_caller_talking_for_thirty_minutes_keeps_memory_bounded() -> None:
    lengths: list[int] = []
    vad = VadProcessor(EnergyDetector(), CallState(), max_utterance_seconds=20.0)
    pipeline = Pipeline(
        [vad], sink=lambda frame: lengths.append(len(frame.pcm)) if isinstance(frame, SpeechStopped) else None
    )
    pipeline.start()
    loud = (8000 * np.sin(np.arange(160) / 3)).astype("<i2").tobytes()
    held = 0
    for index in range(30 * 60 * 50):  # 30 minutes of 20 ms frames, never a pause
        vad.enqueue(InputAudio(pcm=loud, sample_rate=8000))
        if index % 250 == 0:
            await asyncio.sleep(0)  # let the stage keep up, as the real-time feed would
            held = max(held, len(vad._utterance))
    await pipeline.stop()
    assert len(lengths) == 89  # cut every 20 s; the last 20 s were still being spoken
    assert max(lengths) <= 20 * 16000 + 320
    assert held <= 20 * 16000  # never more than one utterance of audio held
    assert vad.dropped_audio == 0
