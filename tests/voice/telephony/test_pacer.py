"""The RTP sender thread: one packet per 20 ms slot for every call, on a clock of its own; after a stall the missed
slots are skipped (the RTP clock moves on by them), never sent as a burst; flush, hold and the idle callback still
work from the event loop."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import threading

import numpy as np
import pytest

from opsdesk.voice.audio import ulaw_decode
from opsdesk.voice.rtp.pacer import PTIME, RtpPacer, SlotClock
from opsdesk.voice.rtp.packet import RtpPacket, parse_rtp
from opsdesk.voice.rtp.session import PortPool, RtpSession


class FakeTime:
    """A clock the pacer sleeps on; `stall_at` makes one sleep return `stall` seconds late."""

    def __init__(self, stall_at: int = -1, stall: float = 0.0) -> None:
        self.now = 100.0
        self.sleeps = 0
        self.stall_at, self.stall = stall_at, stall

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds + (self.stall if self.sleeps == self.stall_at else 0.0)
        self.sleeps += 1


class Timed:
    """A session as the pacer sees it, noting when each of its slots was sent."""

    def __init__(self, session: RtpSession, time: FakeTime) -> None:
        self.session, self.time = session, time
        self.sent_at: list[float] = []

    def send_slot(self, skipped: int) -> None:
        self.sent_at.append(self.time.now)
        self.session.send_slot(skipped)


def _listener() -> socket.socket:
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(2.0)
    return peer


def _received(peer: socket.socket, count: int) -> list[RtpPacket]:
    packets = []
    for _ in range(count):
        packet = parse_rtp(peer.recv(2048))
        assert packet is not None
        packets.append(packet)
    return packets


def _ramp(seconds: float) -> bytes:
    """Speech-loud PCM whose level rises 8 % a packet (more than a μ-law step), so the order of what was sent can be
    read back; it stays at the top level after a second."""
    levels = np.repeat(600 * 1.08 ** np.minimum(np.arange(round(seconds / PTIME)), 49), 160)
    return levels.astype("<i2").tobytes()


async def _session(peer: socket.socket, pacer: RtpPacer) -> RtpSession:
    session = RtpSession(
        remote=peer.getsockname(),
        codec=0,
        dtmf_payload_type=None,
        on_audio=lambda _: None,
        on_dtmf=lambda _: None,
        pacer=pacer,
    )
    await session.open("127.0.0.1", PortPool(42000, 42200))
    return session


def test_the_slot_clock_skips_whole_slots_after_a_stall_and_never_catches_up() -> None:
    slots = SlotClock(10.0)
    assert slots.take(10.0205) == pytest.approx((0.0005, 0))  # slot 1, half a millisecond late
    assert slots.take(10.05) == pytest.approx((0.01, 0))  # slot 2, 10 ms late: sent, no skip
    lateness, skipped = slots.take(10.2)  # slot 3 was due at 10.06: 140 ms late
    assert (lateness, skipped) == (0.0, 7)
    assert slots.due == pytest.approx(10.22)  # the next slot is one period on, not a run of catch-up slots
    assert slots.take(10.22) == pytest.approx((0.0, 0))


async def test_after_a_stall_the_sender_skips_the_missed_slots_instead_of_a_burst() -> None:
    peer = _listener()
    time = FakeTime(stall_at=20, stall=0.15)
    pacer = RtpPacer(clock=time.clock, sleep=time.sleep, threaded=False)
    session = await _session(peer, pacer)
    try:
        session.enqueue(_ramp(1.0))
        timed = Timed(session, time)
        pacer.add(timed)
        pacer.run_slots(40)
        packets = _received(peer, 40)
    finally:
        await session.close()
        peer.close()

    gaps = [b - a for a, b in itertools.pairwise(timed.sent_at)]
    assert len(timed.sent_at) == 40  # one packet a slot, stall or not
    assert min(gaps) == pytest.approx(PTIME)  # never two packets closer than a slot: no burst
    assert sum(gap > 2 * PTIME for gap in gaps) == 1  # the one stall
    assert [(b.sequence - a.sequence) & 0xFFFF for a, b in itertools.pairwise(packets)] == [1] * 39
    steps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(packets)]
    assert steps.count(160) == 38 and max(steps) == 160 * 8  # the RTP clock jumps over the 7 skipped slots
    levels = [int(np.abs(ulaw_decode(packet.payload).astype(int)).mean()) for packet in packets]
    assert levels == sorted(levels) and len(set(levels)) == 40  # the queued audio goes on in order, none dropped


async def test_the_sender_thread_paces_calls_and_the_event_loop_still_flushes_and_hears_when_idle() -> None:
    peers = [_listener(), _listener()]
    pacer = RtpPacer()
    sessions = [await _session(peer, pacer) for peer in peers]
    loop_thread = threading.get_ident()
    idle_in: list[int] = []
    idle = asyncio.Event()
    try:
        for session in sessions:
            session.start()
        sessions[0].enqueue(_ramp(0.2))
        sessions[0].when_idle(lambda: (idle_in.append(threading.get_ident()), idle.set()))
        sessions[1].enqueue(_ramp(10.0))
        await asyncio.wait_for(idle.wait(), 5)
        assert idle_in == [loop_thread]  # the callback runs on the event loop, not on the sender thread
        assert sessions[1].queued_seconds > 5.0
        assert sessions[1].flush() > 5.0
        assert sessions[1].queued_seconds == 0.0
        await asyncio.sleep(0.2)
        packets = [await asyncio.to_thread(_received, peer, 20) for peer in peers]
    finally:
        for session in sessions:
            await session.close()
    assert pacer.streams == 0
    for peer, received in zip(peers, packets, strict=True):
        peer.close()
        assert [(b.sequence - a.sequence) & 0xFFFF for a, b in itertools.pairwise(received)] == [1] * 19
        assert all(((b.timestamp - a.timestamp) & 0xFFFFFFFF) % 160 == 0 for a, b in itertools.pairwise(received))


async def test_a_key_press_takes_six_slots_with_one_event_timestamp() -> None:
    peer = _listener()
    session = await _session(peer, RtpPacer())
    try:
        session.start()
        session.enqueue(_ramp(1.0))
        await asyncio.wait_for(session.send_digit("5", 101), 5)
        packets = await asyncio.to_thread(_received, peer, 60)
    finally:
        await session.close()
        peer.close()
    events = [packet for packet in packets if packet.payload_type == 101]
    assert len(events) == 6
    assert len({packet.timestamp for packet in events}) == 1
    assert [packet.marker for packet in events] == [True] + [False] * 5
    assert [(b.sequence - a.sequence) & 0xFFFF for a, b in itertools.pairwise(packets)] == [1] * 59


def test_a_realtime_pacer_says_which_scheduling_class_its_thread_got() -> None:
    pacer = RtpPacer(realtime=True)
    started = threading.Event()

    class Probe:
        """Notes the scheduling class of the thread that sends its slots."""

        policy = -1

        def send_slot(self, skipped: int) -> None:
            self.policy = os.sched_getscheduler(threading.get_native_id())
            started.set()

    probe = Probe()
    pacer.add(probe)
    try:
        assert started.wait(5)
    finally:
        pacer.remove(probe)
    # Real-time when the process may ask for it (root or CAP_SYS_NICE); otherwise it says so and runs as before.
    assert pacer.priority == ("realtime" if probe.policy == os.SCHED_FIFO else "normal")
    assert probe.policy in (os.SCHED_FIFO, os.SCHED_OTHER)
