"""One call's RTP: a UDP socket from a port range, receive through the jitter buffer, send paced at 20 ms.

Only packets from the address the SDP named are taken (or, with `latch`, from the first source seen — for callers
behind NAT); once media flows we send back to where it comes from (symmetric RTP). The sender runs on a monotonic
schedule: packet n leaves at start + n * 20 ms, so errors never accumulate; after a stall the missed slots are
skipped, not sent as a burst. Between replies it sends silence, so the line never goes dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

from opsdesk.voice import metrics
from opsdesk.voice.audio import DECODERS, ENCODERS, SILENCE
from opsdesk.voice.rtp.dtmf import DtmfReceiver, event_payload
from opsdesk.voice.rtp.jitter import JitterBuffer
from opsdesk.voice.rtp.packet import RtpPacket, parse_rtp

PTIME = 0.02
SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = SAMPLES * 2  # PCM16
_MAX_STALL_SLOTS = 3  # later than this many slots: skip ahead instead of catching up


class PortPool:
    """Even RTP ports in [low, high); a port is taken until released."""

    def __init__(self, low: int = 40000, high: int = 41000) -> None:
        if low <= 0 or high <= low:
            raise ValueError(f"bad RTP port range {low}-{high}")
        self.low, self.high = low + (low % 2), high
        self._taken: set[int] = set()
        self._next = self.low

    async def bind(self, host: str, protocol: asyncio.DatagramProtocol) -> tuple[asyncio.DatagramTransport, int]:
        loop = asyncio.get_running_loop()
        for _ in range((self.high - self.low) // 2):
            port = self._next
            self._next = self.low if self._next + 2 >= self.high else self._next + 2
            if port in self._taken:
                continue
            try:
                transport, _ = await loop.create_datagram_endpoint(lambda: protocol, local_addr=(host, port))
            except OSError:
                continue
            self._taken.add(port)
            return transport, port
        raise OSError(f"no free RTP port in {self.low}-{self.high}")

    def release(self, port: int) -> None:
        self._taken.discard(port)


class RtpSession(asyncio.DatagramProtocol):
    """The media of one call. `on_audio` gets each received 20 ms of PCM16 (8 kHz); `on_dtmf` each keypad digit."""

    def __init__(
        self,
        *,
        remote: tuple[str, int],
        codec: int,
        dtmf_payload_type: int | None,
        on_audio: Callable[[bytes], None],
        on_dtmf: Callable[[str], None],
        latch: bool = False,
        jitter_depth: int = 3,
    ) -> None:
        self.remote = remote
        self.codec = codec
        self.dtmf_payload_type = dtmf_payload_type
        self.sending = True
        self.port = 0
        self.sent = 0
        self.received = 0
        self.foreign = 0
        self._on_audio = on_audio
        self._on_dtmf = on_dtmf
        self._latch = latch
        self._peer: tuple[str, int] | None = None
        self._jitter = JitterBuffer(depth=jitter_depth)
        self._dtmf = DtmfReceiver()
        self._outbound = bytearray()
        self._idle_callbacks: list[Callable[[], None]] = []
        self._transport: asyncio.DatagramTransport | None = None
        self._sender: asyncio.Task[None] | None = None
        self._ssrc = random.getrandbits(32)
        self._sequence = random.getrandbits(16)
        self._timestamp = random.getrandbits(32)
        self._pool: PortPool | None = None
        self._talking = False
        self._held = False

    async def open(self, host: str, pool: PortPool) -> int:
        self._transport, self.port = await pool.bind(host, self)
        self._pool = pool
        return self.port

    def start(self) -> None:
        """Starts the paced sender (after the call is answered)."""
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send_loop(), name=f"rtp-send-{self.port}")

    def update(self, *, remote: tuple[str, int], codec: int, dtmf_payload_type: int | None, sending: bool) -> None:
        """A re-INVITE changed the media: new address, codec, or direction (hold stops our audio)."""
        if remote != self.remote:
            self._peer = None
        self.remote, self.codec, self.dtmf_payload_type, self.sending = remote, codec, dtmf_payload_type, sending

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None
        for packet in self._jitter.drain():
            self._deliver(packet)
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._pool is not None:
            self._pool.release(self.port)
            self._pool = None

    # --- outbound ----------------------------------------------------------------------------------------------

    def enqueue(self, pcm: bytes) -> None:
        """Queues PCM16 at 8 kHz to play after what is already queued."""
        self._outbound += pcm

    def flush(self) -> float:
        """Drops queued audio at once (barge-in); returns how many seconds were dropped."""
        dropped = len(self._outbound) / (2 * 8000)
        self._outbound.clear()
        return dropped

    def hold(self, on: bool) -> None:
        """Pauses the queued audio (silence goes out, nothing is dropped) until `hold(False)`: the caller spoke over
        the bot and the VAD is checking whether it is a barge-in or a backchannel."""
        self._held = on

    @property
    def queued_seconds(self) -> float:
        return len(self._outbound) / (2 * 8000)

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Calls `callback` once, when the queued audio has all been sent (at once if nothing is queued)."""
        if not self._outbound:
            callback()
        else:
            self._idle_callbacks.append(callback)

    async def send_digit(self, digit: str, payload_type: int) -> None:
        """Presses a key: one RFC 4733 event of 60 ms (three progress packets, then the end packet three times)."""
        timestamp = self._timestamp
        for index in range(6):
            payload = event_payload(digit, end=index >= 3, duration=SAMPLES * min(index + 1, 3))
            packet = RtpPacket(payload_type, self._sequence, timestamp, self._ssrc, payload, marker=index == 0)
            if self._transport is not None:
                self._transport.sendto(packet.to_bytes(), self._peer or self.remote)
            self._sequence = (self._sequence + 1) & 0xFFFF
            await asyncio.sleep(PTIME)

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        slot = 0
        while True:
            slot += 1
            due = start + slot * PTIME
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            lateness = loop.time() - due
            if lateness > _MAX_STALL_SLOTS * PTIME:
                missed = int(lateness / PTIME)
                slot += missed
                self._timestamp += missed * SAMPLES
                metrics.RTP_SKIPPED_SLOTS.inc(missed)
            else:
                metrics.RTP_SEND_LATENESS.observe(max(lateness, 0.0))
            self._send_slot()

    def _send_slot(self) -> None:
        chunk = b"" if self._held else bytes(self._outbound[:FRAME_BYTES])
        del self._outbound[: len(chunk)]
        if chunk and len(chunk) < FRAME_BYTES:
            chunk += bytes(FRAME_BYTES - len(chunk))
        if not self._outbound and self._idle_callbacks and not self._held:
            callbacks, self._idle_callbacks = self._idle_callbacks, []
            for callback in callbacks:
                callback()
        marker = bool(chunk) and not self._talking
        self._talking = bool(chunk)
        payload = ENCODERS[self.codec](chunk).tobytes() if chunk else bytes([SILENCE[self.codec]]) * SAMPLES
        if self.sending and self._transport is not None:
            packet = RtpPacket(self.codec, self._sequence, self._timestamp, self._ssrc, payload, marker)
            self._transport.sendto(packet.to_bytes(), self._peer or self.remote)
            self._sequence = (self._sequence + 1) & 0xFFFF
            self.sent += 1
            metrics.RTP_PACKETS.labels("out").inc()
        self._timestamp = (self._timestamp + SAMPLES) & 0xFFFFFFFF

    # --- inbound -----------------------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        source = (str(addr[0]), int(addr[1]))
        if self._peer is None:
            if not self._latch and source != self.remote:
                self._ignore()
                return
            self._peer = source
        elif source != self._peer:
            self._ignore()
            return
        packet = parse_rtp(data)
        if packet is None:
            return
        self.received += 1
        metrics.RTP_PACKETS.labels("in").inc()
        if self.dtmf_payload_type is not None and packet.payload_type == self.dtmf_payload_type:
            for digit in self._dtmf.push(packet):
                self._on_dtmf(digit)
            return
        if packet.payload_type != self.codec:
            return
        late, lost = self._jitter.late, self._jitter.lost
        for ready in self._jitter.push(packet, asyncio.get_running_loop().time()):
            self._deliver(ready)
        metrics.RTP_LATE.inc(self._jitter.late - late)
        metrics.RTP_LOST.inc(self._jitter.lost - lost)

    @property
    def jitter(self) -> float:
        return self._jitter.jitter

    @property
    def late(self) -> int:
        return self._jitter.late

    def _deliver(self, packet: RtpPacket) -> None:
        decoder = DECODERS.get(packet.payload_type)
        if decoder is not None and packet.payload:
            self._on_audio(decoder(packet.payload).tobytes())

    def _ignore(self) -> None:
        self.foreign += 1
        metrics.RTP_FOREIGN.inc()
