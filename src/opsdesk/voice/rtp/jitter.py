"""A small receive jitter buffer: packets come out in sequence order; late ones are dropped, gaps are skipped.

It holds at most `depth` packets while waiting for a missing one, so it adds at most `depth` times 20 ms of delay.
It also keeps the RFC 3550 interarrival jitter estimate (in seconds).
"""

from __future__ import annotations

from opsdesk.voice.rtp.packet import RtpPacket, seq_after


class JitterBuffer:
    def __init__(self, depth: int = 3, clock_rate: int = 8000) -> None:
        self.depth = depth
        self.clock_rate = clock_rate
        self.late = 0
        self.lost = 0
        self.duplicates = 0
        self.jitter = 0.0
        self._expected: int | None = None
        self._held: dict[int, RtpPacket] = {}
        self._transit: float | None = None

    def push(self, packet: RtpPacket, arrival: float) -> list[RtpPacket]:
        """Takes one packet (with its arrival time in seconds); returns the packets now ready, in order."""
        self._estimate_jitter(packet, arrival)
        if self._expected is None:
            self._expected = packet.sequence
        if packet.sequence != self._expected and not seq_after(packet.sequence, self._expected):
            self.late += 1
            return []
        if packet.sequence in self._held:
            self.duplicates += 1
            return []
        self._held[packet.sequence] = packet
        ready = self._release()
        while len(self._held) > self.depth:  # waited long enough for the missing packet: skip the gap
            self._skip_to_oldest()
            ready.extend(self._release())
        return ready

    def drain(self) -> list[RtpPacket]:
        """Everything held, in order (end of call)."""
        ready: list[RtpPacket] = []
        while self._held:
            self._skip_to_oldest()
            ready.extend(self._release())
        return ready

    def _release(self) -> list[RtpPacket]:
        ready: list[RtpPacket] = []
        while self._expected is not None and self._expected in self._held:
            ready.append(self._held.pop(self._expected))
            self._expected = (self._expected + 1) & 0xFFFF
        return ready

    def _skip_to_oldest(self) -> None:
        assert self._expected is not None
        expected = self._expected
        oldest = min(self._held, key=lambda sequence: (sequence - expected) & 0xFFFF)
        self.lost += (oldest - expected) & 0xFFFF
        self._expected = oldest

    def _estimate_jitter(self, packet: RtpPacket, arrival: float) -> None:
        transit = arrival - packet.timestamp / self.clock_rate
        if self._transit is not None:
            difference = abs(transit - self._transit)
            if difference < 10:  # a timestamp jump (new talkspurt, new source) is not jitter
                self.jitter += (difference - self.jitter) / 16
        self._transit = transit
