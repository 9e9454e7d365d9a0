"""RTP packets (RFC 3550 §5.1): parse and build the fixed header; CSRCs, extensions and padding are skipped."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        return _HEADER.pack(0x80, second, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc) + self.payload


def parse_rtp(data: bytes) -> RtpPacket | None:
    """The packet, or None when the bytes are not RTP version 2 (RTCP, STUN, garbage)."""
    if len(data) < _HEADER.size:
        return None
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        return None
    payload_type = second & 0x7F
    if 72 <= payload_type <= 76:  # RTCP sent to the RTP port (RFC 5761)
        return None
    offset = _HEADER.size + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack_from("!H", data, offset + 2)[0]
    end = len(data)
    if first & 0x20:  # padding: the last byte counts the padding bytes
        end -= data[-1]
    if offset > end:
        return None
    return RtpPacket(payload_type, sequence, timestamp, ssrc, bytes(data[offset:end]), bool(second & 0x80))


def seq_after(a: int, b: int) -> bool:
    """Whether sequence number `a` comes after `b`, modulo 2**16 (RFC 3550 A.1)."""
    return a != b and ((a - b) & 0xFFFF) < 0x8000
