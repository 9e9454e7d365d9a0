"""RTP: packets, the jitter buffer's order and drops, RFC 4733 digits."""

from __future__ import annotations

from opsdesk.voice.rtp.dtmf import DtmfReceiver, event_payload
from opsdesk.voice.rtp.jitter import JitterBuffer
from opsdesk.voice.rtp.packet import RtpPacket, parse_rtp, seq_after


def _packet(sequence: int) -> RtpPacket:
    return RtpPacket(0, sequence & 0xFFFF, sequence * 160, 7, b"\xff" * 160)


def test_a_packet_survives_writing_and_reading() -> None:
    packet = RtpPacket(8, 65535, 4_000_000_000, 0xDEADBEEF, b"abc", marker=True)
    assert parse_rtp(packet.to_bytes()) == packet


def test_csrcs_extensions_and_padding_are_skipped() -> None:
    header = bytes([0x80 | 0x20 | 0x10 | 0x01, 0, 0, 1]) + (160).to_bytes(4, "big") + (7).to_bytes(4, "big")
    csrc = (99).to_bytes(4, "big")
    extension = b"\xbe\xde\x00\x01" + b"\x00" * 4
    packet = parse_rtp(header + csrc + extension + b"audio" + b"\x00\x00\x03")
    assert packet is not None and packet.payload == b"audio"


def test_non_rtp_bytes_are_not_packets() -> None:
    assert parse_rtp(b"") is None
    assert parse_rtp(b"\x00" * 20) is None  # version 0
    assert parse_rtp(bytes([0x80, 200]) + b"\x00" * 10) is None  # RTCP sender report
    assert parse_rtp(bytes([0x8F]) + b"\x00" * 11) is None  # 15 CSRCs announced, none there


def test_sequence_order_wraps() -> None:
    assert seq_after(1, 65535)
    assert not seq_after(65535, 1)


def test_the_jitter_buffer_puts_packets_back_in_order() -> None:
    buffer = JitterBuffer(depth=3)
    out = [p.sequence for s in (10, 12, 11, 13) for p in buffer.push(_packet(s), 0.0)]
    assert out == [10, 11, 12, 13]
    assert buffer.late == buffer.lost == 0


def test_a_late_packet_is_dropped_and_a_gap_is_skipped_after_depth_packets() -> None:
    buffer = JitterBuffer(depth=2)
    out = [p.sequence for s in (1, 3, 4, 5, 2, 6) for p in buffer.push(_packet(s), 0.0)]
    assert out == [1, 3, 4, 5, 6]
    assert (buffer.lost, buffer.late) == (1, 1)


def test_the_jitter_buffer_crosses_the_sequence_wrap() -> None:
    buffer = JitterBuffer()
    out = [p.sequence for s in (65534, 0, 65535, 1) for p in buffer.push(_packet(s), 0.0)]
    assert out == [65534, 65535, 0, 1]


def test_duplicates_are_dropped() -> None:
    buffer = JitterBuffer()
    out = [p.sequence for s in (5, 7, 7, 6) for p in buffer.push(_packet(s), 0.0)]
    assert out == [5, 6, 7]
    assert buffer.duplicates == 1


def test_steady_arrival_has_no_jitter_and_uneven_arrival_has_some() -> None:
    steady, uneven = JitterBuffer(), JitterBuffer()
    for index in range(50):
        steady.push(_packet(index), index * 0.02)
        uneven.push(_packet(index), index * 0.02 + (0.015 if index % 2 else 0.0))
    assert steady.jitter < 1e-9
    assert uneven.jitter > 0.005


def _event(digit: str, timestamp: int, *, end: bool, duration: int) -> RtpPacket:
    return RtpPacket(101, 1, timestamp, 7, event_payload(digit, end=end, duration=duration))


def test_one_digit_per_event_however_many_end_packets() -> None:
    receiver = DtmfReceiver()
    digits: list[str] = []
    for packet in [
        _event("5", 1000, end=False, duration=160),
        _event("5", 1000, end=False, duration=320),
        _event("5", 1000, end=True, duration=480),
        _event("5", 1000, end=True, duration=480),
        _event("5", 1000, end=True, duration=480),
        _event("#", 3000, end=True, duration=480),
    ]:
        digits += receiver.push(packet)
    assert digits == ["5", "#"]


def test_a_digit_whose_end_packets_were_lost_still_counts_when_the_next_starts() -> None:
    receiver = DtmfReceiver()
    digits = receiver.push(_event("1", 1000, end=False, duration=160))
    digits += receiver.push(_event("2", 2000, end=False, duration=160))
    digits += receiver.push(_event("2", 2000, end=True, duration=320))
    assert digits == ["1", "2"]


def test_flash_and_short_payloads_are_not_digits() -> None:
    receiver = DtmfReceiver()
    assert receiver.push(RtpPacket(101, 1, 1, 7, bytes([16, 0x80, 0, 160]))) == []
    assert receiver.push(RtpPacket(101, 1, 1, 7, b"\x01")) == []
