"""The frame pipeline's own cost: opsdesk's `voice.pipeline` beside Pipecat's, same shape, same load.

Each call is a pipeline of five pass-through processors and a sink; 20 ms audio frames (8 kHz PCM16, as RTP
delivers them) are put in at real-time pace for every call at once. Measured: transit latency of a frame from put
to sink (p50/p95/p99) and CPU seconds spent per second of call audio — what the framework costs before any model
runs. Pipecat is not a dependency: give a Python that has it (`--pipecat-python`, e.g. a throwaway venv with
`pip install pipecat-ai`); without it only opsdesk is measured.

    python bench/voice_pipeline.py [--calls 10] [--seconds 10] [--pipecat-python /tmp/pipecat-venv/bin/python] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STAGES = 5
FRAME = bytes(320)  # 20 ms at 8 kHz, PCM16


def _summary(latencies: list[float], cpu: float, calls: int, seconds: float) -> dict[str, Any]:
    ordered = sorted(latencies)

    def pick(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return {
        "frames": len(ordered),
        "p50_ms": round(pick(0.50), 3),
        "p95_ms": round(pick(0.95), 3),
        "p99_ms": round(pick(0.99), 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3) if ordered else 0.0,
        "cpu_s_per_call_s": round(cpu / (calls * seconds), 4),
    }


async def _feed(put: Any, seconds: float) -> None:
    """Puts one frame every 20 ms on a monotonic schedule."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    for index in range(int(seconds / 0.02)):
        delay = start + index * 0.02 - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await put()


async def run_opsdesk(calls: int, seconds: float) -> dict[str, Any]:
    from opsdesk.voice.pipeline.frames import Frame, InputAudio
    from opsdesk.voice.pipeline.processor import FrameProcessor, Pipeline

    latencies: list[float] = []

    def sink(frame: Frame) -> None:
        if isinstance(frame, InputAudio):
            latencies.append(time.monotonic() - frame.created)

    pipelines = [Pipeline([FrameProcessor(f"pass{i}") for i in range(STAGES)], sink=sink) for _ in range(calls)]
    for pipeline in pipelines:
        pipeline.start()

    def feeder(pipeline: Pipeline) -> Any:
        async def put() -> None:
            pipeline.put(InputAudio(pcm=FRAME, sample_rate=8000))

        return put

    cpu = time.process_time()
    await asyncio.gather(*(_feed(feeder(pipeline), seconds) for pipeline in pipelines))
    await asyncio.sleep(0.2)
    cpu = time.process_time() - cpu
    for pipeline in pipelines:
        await pipeline.stop()
    return _summary(latencies, cpu, calls, seconds)


async def run_pipecat(calls: int, seconds: float) -> dict[str, Any]:
    from loguru import logger

    logger.remove()  # Pipecat logs every start and stop at DEBUG to stderr by default; measured as deployed
    logger.add(sys.stderr, level="WARNING")
    from pipecat.frames.frames import EndFrame, Frame, InputAudioRawFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineWorker
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
    from pipecat.workers.runner import WorkerRunner

    latencies: list[float] = []
    sent: dict[int, float] = {}

    class Pass(FrameProcessor):  # type: ignore[misc]
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            await self.push_frame(frame, direction)

    class Sink(FrameProcessor):  # type: ignore[misc]
        async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
            await super().process_frame(frame, direction)
            if isinstance(frame, InputAudioRawFrame) and frame.id in sent:
                latencies.append(time.monotonic() - sent.pop(frame.id))
            await self.push_frame(frame, direction)

    workers = []
    for _ in range(calls):
        pipeline = Pipeline([*(Pass() for _ in range(STAGES)), Sink()])
        workers.append(PipelineWorker(pipeline, idle_timeout_secs=None, enable_rtvi=False, enable_turn_tracking=False))
    runner = WorkerRunner(handle_sigint=False)
    runs = [asyncio.create_task(runner.run(worker)) for worker in workers]
    await asyncio.sleep(1.0)  # let every worker start

    def feeder(worker: Any) -> Any:
        async def put() -> None:
            frame = InputAudioRawFrame(audio=FRAME, sample_rate=8000, num_channels=1)
            sent[frame.id] = time.monotonic()
            await worker.queue_frame(frame)

        return put

    cpu = time.process_time()
    await asyncio.gather(*(_feed(feeder(worker), seconds) for worker in workers))
    await asyncio.sleep(0.2)
    cpu = time.process_time() - cpu
    for worker in workers:
        await worker.queue_frame(EndFrame())
    await asyncio.wait(runs, timeout=10)
    return _summary(latencies, cpu, calls, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pipecat-python", type=Path, default=None, help="A Python with pipecat-ai installed.")
    parser.add_argument("--framework", choices=["opsdesk", "pipecat"], default="opsdesk", help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    runner = run_pipecat if args.framework == "pipecat" else run_opsdesk
    if args.child:
        print(json.dumps(asyncio.run(runner(args.calls, args.seconds))))
        return
    results: dict[str, Any] = {"calls": args.calls, "seconds": args.seconds, "stages": STAGES}
    results["opsdesk"] = asyncio.run(run_opsdesk(args.calls, args.seconds))
    if args.pipecat_python is not None:
        child = [str(args.pipecat_python), __file__, "--framework", "pipecat", "--child"]
        child += ["--calls", str(args.calls), "--seconds", str(args.seconds)]
        done = subprocess.run(child, capture_output=True, text=True, timeout=args.seconds * 10 + 120, check=True)
        results["pipecat"] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{args.calls} calls x {args.seconds:g} s of 20 ms frames through {STAGES} pass-through stages")
    print(f"{'framework':<10} {'frames':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'CPU s per call-s':>17}")
    for name in ("opsdesk", "pipecat"):
        if name in results:
            row = results[name]
            print(
                f"{name:<10} {row['frames']:>7} {row['p50_ms']:>8.3f} {row['p95_ms']:>8.3f} {row['p99_ms']:>8.3f} "
                f"{row['cpu_s_per_call_s']:>17.4f}"
            )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench._results import publish

    publish("voice_pipeline", results, as_json=args.json)


if __name__ == "__main__":
    main()
