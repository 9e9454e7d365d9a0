"""The process settings a voice gateway runs with: the same in `opsdesk voice serve` and in `opsdesk up --voice-port`.

- The interpreter hands its lock over within 1 ms, not 5: the RTP pacer thread shares it with the recogniser's and
  the synthesiser's threads, and a slot lost waiting for it is a gap in every call's audio.
- numpy's and scipy's BLAS on one thread: the intent embedder and the resamplers call it from several worker threads
  at once, and its own thread pool then spun in `exec_blas` for minutes (seen with gdb under a 10-call bench); the
  recogniser has its own threads.
- With `realtime_rtp` (the default), the pacer thread asks for the real-time FIFO class when it starts, where the
  process may (`rtp/pacer.py`); elsewhere it runs as before.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

SWITCH_INTERVAL = 0.001  # seconds
BLAS_THREADS = 1


@dataclass
class ProcessTuning:
    """What `tune_for_calls` changed, to put back (`restore`, or `aclose` when an app context closes it)."""

    switch_interval: float  # the interval before
    blas: Any  # threadpoolctl's limiter, which knows the thread counts before
    realtime_rtp: bool  # what the pacer was to ask for before (a thread already started keeps its class)
    restored: bool = False

    def restore(self) -> None:
        from opsdesk.voice.rtp.pacer import shared_pacer

        if not self.restored:
            self.restored = True
            sys.setswitchinterval(self.switch_interval)
            self.blas.restore_original_limits()
            shared_pacer(realtime=self.realtime_rtp)

    async def aclose(self) -> None:
        self.restore()


def tune_for_calls(*, realtime_rtp: bool = True) -> ProcessTuning:
    """Sets the process up for calls (module docstring); the returned object puts it back."""
    import scipy.signal  # noqa: F401  (its BLAS is loaded now, so the limit below covers it too)
    from threadpoolctl import threadpool_limits

    from opsdesk.voice.rtp.pacer import shared_pacer

    before, pacer = sys.getswitchinterval(), shared_pacer()
    realtime_before = pacer.realtime
    sys.setswitchinterval(SWITCH_INTERVAL)
    # Real-time: the 20 ms slots wake on time however busy the cores are (the thread works ~0.1 ms a slot).
    pacer.realtime = realtime_rtp
    return ProcessTuning(before, threadpool_limits(BLAS_THREADS, user_api="blas"), realtime_before)
