"""One thread that sends every call's RTP on a shared 20 ms clock, away from the event loop.

The event loop also runs the calls' VAD, dialogue and pipeline; a packet whose slot falls while one of those holds
the loop used to leave late. Here the slots are kept by a thread of their own: at start + n * 20 ms (monotonic, so
it never drifts) it asks each registered stream for its next packet and sends it with a plain `socket.sendto`. A
stream builds its packets from audio already encoded when it was queued, so a slot costs the thread a slice and a
12-byte header. After a stall of more than `max_stall_slots` slots the missed slots are skipped (each stream moves
its RTP clock on by them), never sent as a burst.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from typing import Protocol

from opsdesk.core.logging import get_logger
from opsdesk.voice import metrics

_log = get_logger(__name__)

PTIME = 0.02
MAX_STALL_SLOTS = 3  # later than this many slots: skip ahead instead of catching up
REALTIME_PRIORITY = 10  # SCHED_FIFO, low among real-time threads: above every ordinary process, below the kernel's


class PacedStream(Protocol):
    """What the pacer needs of a call's media: send the next slot's packet (after `skipped` missed slots)."""

    def send_slot(self, skipped: int) -> None: ...


class SlotClock:
    """The schedule: slot n is due at start + n * `ptime`. `take(now)` says how late the slot being sent is and how
    many slots a stall made it skip; after a skip the schedule starts again from now, so the packet after the stall
    is a full period after it (never two packets close together)."""

    def __init__(self, start: float, *, ptime: float = PTIME, max_stall_slots: int = MAX_STALL_SLOTS) -> None:
        self.ptime = ptime
        self.max_stall = max_stall_slots * ptime
        self.due = start + ptime

    def take(self, now: float) -> tuple[float, int]:
        """(lateness of the slot sent now, slots skipped before it); moves on to the next slot."""
        lateness = now - self.due
        if lateness > self.max_stall:
            self.due = now + self.ptime
            return 0.0, int(lateness / self.ptime + 1e-9)
        self.due += self.ptime
        return max(lateness, 0.0), 0


class RtpPacer:
    """The process's sender thread; streams join with `add` and leave with `remove` (after which the thread never
    touches them again, so their socket can be closed)."""

    def __init__(
        self,
        *,
        ptime: float = PTIME,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        threaded: bool = True,
        realtime: bool = False,
    ) -> None:
        self.ptime = ptime
        self.threaded = threaded  # False: nothing sends until `run_slots` is called (tests)
        self.realtime = realtime
        self.priority = "normal"  # what the thread got: "normal" or "realtime"
        self._clock = clock
        self._sleep = sleep
        self._streams: list[PacedStream] = []
        self._lock = threading.Lock()  # held while a slot is sent: `remove` waits for the send in progress
        self._wanted = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    @property
    def streams(self) -> int:
        return len(self._streams)

    def add(self, stream: PacedStream) -> None:
        with self._lock:
            if stream not in self._streams:
                self._streams.append(stream)
            if self._thread is None and self.threaded:
                self._thread = threading.Thread(target=self._run, name="rtp-pacer", daemon=True)
                self._thread.start()
            self._wanted.notify()

    def remove(self, stream: PacedStream) -> None:
        with self._lock:
            if stream in self._streams:
                self._streams.remove(stream)

    def run_slots(self, count: int) -> None:
        """Sends `count` slots on the schedule, in the calling thread (what the thread does forever; for tests)."""
        slots = SlotClock(self._clock(), ptime=self.ptime)
        for _ in range(count):
            self._next_slot(slots)

    def _run(self) -> None:
        if self.realtime:
            self.priority = _realtime_priority()
            _log.info("rtp_pacer_started", priority=self.priority)
        while True:
            with self._lock:
                while not self._streams:  # no calls: sleep until one joins, and start a fresh schedule then
                    self._wanted.wait()
            slots = SlotClock(self._clock(), ptime=self.ptime)
            while self._streams:
                self._next_slot(slots)

    def _next_slot(self, slots: SlotClock) -> None:
        delay = slots.due - self._clock()
        if delay > 0:
            self._sleep(delay)
        lateness, skipped = slots.take(self._clock())
        with self._lock:
            streams = list(self._streams)
            for stream in streams:
                try:
                    stream.send_slot(skipped)
                except Exception:  # one call's fault must not stop every other call's audio
                    _log.exception("rtp_slot_failed")
                    metrics.RTP_SEND_ERRORS.inc()
        if skipped:
            metrics.RTP_SKIPPED_SLOTS.inc(skipped * len(streams))
        else:
            for _ in streams:  # per packet, as the metric counts
                metrics.RTP_SEND_LATENESS.observe(lateness)


def _realtime_priority() -> str:
    """Puts the calling thread in the real-time FIFO class when the process may (root, or CAP_SYS_NICE, or an
    `rtprio` limit): a thread that works for a fraction of a millisecond every 20 ms then wakes on time whatever
    else the cores are doing, as telephony servers run their media timers. Otherwise it stays as it was."""
    with contextlib.suppress(OSError, AttributeError):  # not allowed, or not Linux
        os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        return "realtime"
    return "normal"


_shared: RtpPacer | None = None
_shared_lock = threading.Lock()


def shared_pacer(*, realtime: bool | None = None) -> RtpPacer:
    """The process's one sender thread (started when the first call's media starts); `realtime` (before it starts)
    asks for the real-time scheduling class."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = RtpPacer()
        if realtime is not None:
            _shared.realtime = realtime
        return _shared
