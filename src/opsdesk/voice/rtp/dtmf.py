"""RFC 4733 telephone events to keypad digits: one digit per event, however many packets carry it."""

from __future__ import annotations

from opsdesk.voice.rtp.packet import RtpPacket

_DIGITS = "0123456789*#ABCD"


class DtmfReceiver:
    """Feeds on telephone-event packets; `push` returns the digits that just completed."""

    def __init__(self) -> None:
        self._current: tuple[int, str] | None = None  # (timestamp, digit) of the event in progress
        self._done: set[int] = set()

    def push(self, packet: RtpPacket) -> list[str]:
        if len(packet.payload) < 4:
            return []
        event, flags = packet.payload[0], packet.payload[1]
        if event >= len(_DIGITS):  # flash and other events are not digits
            return []
        digits: list[str] = []
        if self._current is not None and self._current[0] != packet.timestamp:
            digits += self._finish()  # the previous event's end packets were lost
        if packet.timestamp in self._done:
            return digits  # retransmitted end packets
        self._current = (packet.timestamp, _DIGITS[event])
        if flags & 0x80:  # E bit: the event ended
            digits += self._finish()
        return digits

    def _finish(self) -> list[str]:
        if self._current is None:
            return []
        timestamp, digit = self._current
        self._current = None
        self._done.add(timestamp)
        if len(self._done) > 64:
            self._done = {timestamp}
        return [digit]


def event_payload(digit: str, *, end: bool, duration: int, volume: int = 10) -> bytes:
    """The 4-byte RFC 4733 payload for `digit` (used by tests and the test-call client)."""
    event = _DIGITS.index(digit.upper())
    return bytes([event, (0x80 if end else 0) | (volume & 0x3F)]) + duration.to_bytes(2, "big")
