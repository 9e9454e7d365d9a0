"""A WebSocket caller's audio is taken at most at real time (plus a few seconds of slack): a client that sends an
hour of audio at once gets the slack's worth queued for the recogniser, not the hour; a caller speaking in real time,
or a little ahead of it, loses nothing. Time is a test clock, never the wall clock."""

from __future__ import annotations

from opsdesk.voice.web_audio import InputPacer

PCM16_8K = 2 * 8000  # bytes per second of 16-bit audio at 8 kHz


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_hour_sent_at_once_is_cut_to_the_slack_and_then_to_the_clock() -> None:
    clock = _Clock()
    pacer = InputPacer(PCM16_8K, burst_s=5.0, clock=clock)

    taken = sum(len(pacer.admit(bytes(64_000), 2)) for _ in range(3600 * PCM16_8K // 64_000))

    assert taken == 5 * PCM16_8K
    assert pacer.dropped_s == 3600 - 5
    clock.now += 1.0  # a second later, a second more
    assert len(pacer.admit(bytes(64_000), 2)) == PCM16_8K


def test_real_time_and_twice_real_time_for_a_few_seconds_lose_nothing() -> None:
    clock = _Clock()
    pacer = InputPacer(PCM16_8K, burst_s=5.0, clock=clock)
    message = bytes(320)  # 20 ms

    real_time = 0
    for _ in range(50 * 60):  # a minute at real time
        real_time += len(pacer.admit(message, 2))
        clock.now += 0.02
    twice = 0
    for _ in range(50 * 8):  # eight seconds of speech sent in four
        twice += len(pacer.admit(message, 2))
        clock.now += 0.01

    assert real_time == 60 * PCM16_8K and twice == 8 * PCM16_8K and pacer.dropped_s == 0


def test_a_cut_keeps_whole_samples() -> None:
    pacer = InputPacer(PCM16_8K, burst_s=0.0001, clock=_Clock())  # 1.6 bytes of slack

    assert pacer.admit(bytes(101), 2) == bytes(0)
    ulaw = InputPacer(8000, burst_s=0.01, clock=_Clock())
    assert len(ulaw.admit(bytes(1000), 1)) == 80
