"""One call's RTP: a UDP socket from a port range, receive through the jitter buffer, send paced at 20 ms.

Only packets from the address the SDP named are taken (or, with `latch`, from the first source seen — for callers
behind NAT); once media flows we send back to where it comes from (symmetric RTP). Receiving runs on the event loop;
sending runs on the process's pacer thread (`rtp/pacer.py`): packet n leaves at start + n * 20 ms on a monotonic
clock, so errors never accumulate, and a stall of the event loop (a dialogue step, a VAD window) cannot delay it.
After a stall of the pacer itself the missed slots are skipped, not sent as a burst. Between replies it sends
silence, so the line never goes dead. The bot's audio is encoded to G.711 when it is queued, so a slot is a slice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import threading
from collections import deque
from collections.abc import Callable

from opsdesk.voice import metrics
from opsdesk.voice.audio import DECODERS, ENCODERS, SILENCE
from opsdesk.voice.rtp.dtmf import DtmfReceiver, event_payload
from opsdesk.voice.rtp.jitter import JitterBuffer
from opsdesk.voice.rtp.pacer import RtpPacer, shared_pacer
from opsdesk.voice.rtp.packet import RtpPacket, parse_rtp

SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = SAMPLES * 2  # PCM16
_RATE = 8000


class PortPool:
    """Even RTP ports in [low, high); a port is taken until released."""

    def __init__(self, low: int = 40000, high: int = 41000) -> None:
        if low <= 0 or high <= low:
            raise ValueError(f"bad RTP port range {low}-{high}")
        self.low, self.high = low + (low % 2), high
        self._taken: set[int] = set()
        self._next = self.low

    async def bind(
        self, host: str, protocol: asyncio.DatagramProtocol
    ) -> tuple[asyncio.DatagramTransport, int, socket.socket]:
        """A transport on the next free port, and a socket of its own on the same port for the sender thread."""
        loop = asyncio.get_running_loop()
        for _ in range((self.high - self.low) // 2):
            port = self._next
            self._next = self.low if self._next + 2 >= self.high else self._next + 2
            if port in self._taken:
                continue
            bound = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
            try:
                bound.bind((host, port))
            except OSError:
                bound.close()
                continue
            bound.setblocking(False)
            sender = bound.dup()  # the same socket for the pacer thread (the transport owns `bound`)
            transport, _ = await loop.create_datagram_endpoint(lambda: protocol, sock=bound)
            self._taken.add(port)
            return transport, port, sender
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
        pacer: RtpPacer | None = None,
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
        # Shared with the pacer thread, under `_lock`: the queued payload (G.711, one byte a sample), the hold,
        # the idle callbacks, the keypad events to send, and the RTP counters.
        self._lock = threading.Lock()
        self._outbound = bytearray()
        self._idle_callbacks: list[Callable[[], None]] = []
        self._events: deque[tuple[bytes, int, bool, asyncio.Event | None]] = deque()
        self._event_timestamp: int | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._socket: socket.socket | None = None
        self._pacer = pacer
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._ssrc = random.getrandbits(32)
        self._sequence = random.getrandbits(16)
        self._timestamp = random.getrandbits(32)
        self._pool: PortPool | None = None
        self._talking = False
        self._held = False

    async def open(self, host: str, pool: PortPool) -> int:
        self._transport, self.port, self._socket = await pool.bind(host, self)
        self._pool = pool
        return self.port

    def start(self) -> None:
        """Starts the paced sender (after the call is answered)."""
        if not self._started:
            self._started = True
            self._loop = asyncio.get_running_loop()
            if self._pacer is None:
                self._pacer = shared_pacer()
            self._pacer.add(self)

    def update(self, *, remote: tuple[str, int], codec: int, dtmf_payload_type: int | None, sending: bool) -> None:
        """A re-INVITE changed the media: new address, codec, or direction (hold stops our audio)."""
        with self._lock:
            if remote != self.remote:
                self._peer = None
            if codec != self.codec and self._outbound:  # what is queued was encoded for the old codec
                pcm = DECODERS[self.codec](bytes(self._outbound)).tobytes()
                self._outbound = bytearray(ENCODERS[codec](pcm).tobytes())
            self.remote, self.codec, self.dtmf_payload_type, self.sending = remote, codec, dtmf_payload_type, sending

    async def close(self) -> None:
        if self._pacer is not None and self._started:
            self._pacer.remove(self)  # returns once no slot of ours is being sent
        self._started = False
        for packet in self._jitter.drain():
            self._deliver(packet)
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._pool is not None:
            self._pool.release(self.port)
            self._pool = None

    # --- outbound ----------------------------------------------------------------------------------------------

    def enqueue(self, pcm: bytes) -> None:
        """Queues PCM16 at 8 kHz to play after what is already queued."""
        pcm = pcm[: len(pcm) - len(pcm) % 2]
        codec = self.codec
        payload = ENCODERS[codec](pcm).tobytes()  # outside the lock: the pacer thread never waits for an encoding
        with self._lock:
            self._outbound += payload if codec == self.codec else ENCODERS[self.codec](pcm).tobytes()

    def flush(self) -> float:
        """Drops queued audio at once (barge-in); returns how many seconds were dropped."""
        with self._lock:
            dropped = len(self._outbound) / _RATE
            self._outbound.clear()
        return dropped

    def hold(self, on: bool) -> None:
        """Pauses the queued audio (silence goes out, nothing is dropped) until `hold(False)`: the caller spoke over
        the bot and the VAD is checking whether it is a barge-in or a backchannel."""
        self._held = on

    @property
    def queued_seconds(self) -> float:
        return len(self._outbound) / _RATE

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Calls `callback` once, when the queued audio has all been sent (at once if nothing is queued)."""
        with self._lock:
            idle = not self._outbound
            if not idle:
                self._idle_callbacks.append(callback)
        if idle:
            callback()

    async def send_digit(self, digit: str, payload_type: int) -> None:
        """Presses a key: one RFC 4733 event of 60 ms (three progress packets, then the end packet three times),
        sent in the audio's place on the next slots."""
        if not self._started:
            raise RuntimeError("the media is not started")
        sent = asyncio.Event()
        with self._lock:
            for index in range(6):
                payload = event_payload(digit, end=index >= 3, duration=SAMPLES * min(index + 1, 3))
                self._events.append((payload, payload_type, index == 0, sent if index == 5 else None))
        await sent.wait()

    def send_slot(self, skipped: int) -> None:
        """The pacer thread's call, once per slot: the next packet (keypad event, queued audio or silence)."""
        with self._lock:
            if skipped:
                self._timestamp = (self._timestamp + skipped * SAMPLES) & 0xFFFFFFFF  # the receiver conceals them
            if self._events:
                self._send_event()
                return
            chunk = b"" if self._held else bytes(self._outbound[:SAMPLES])
            del self._outbound[: len(chunk)]
            if not self._outbound and self._idle_callbacks and not self._held:
                callbacks, self._idle_callbacks = self._idle_callbacks, []
                self._call_on_loop(callbacks)
            marker = bool(chunk) and not self._talking
            self._talking = bool(chunk)
            silence = SILENCE[self.codec]
            payload = chunk + bytes([silence]) * (SAMPLES - len(chunk)) if chunk else bytes([silence]) * SAMPLES
            if self.sending:
                self._send(RtpPacket(self.codec, self._sequence, self._timestamp, self._ssrc, payload, marker))
            self._timestamp = (self._timestamp + SAMPLES) & 0xFFFFFFFF

    def _send_event(self) -> None:
        payload, payload_type, first, sent = self._events.popleft()
        if first:
            self._event_timestamp = self._timestamp
        assert self._event_timestamp is not None
        self._send(RtpPacket(payload_type, self._sequence, self._event_timestamp, self._ssrc, payload, first))
        self._timestamp = (self._timestamp + SAMPLES) & 0xFFFFFFFF
        if sent is not None:
            self._call_on_loop([sent.set])

    def _send(self, packet: RtpPacket) -> None:
        if self._socket is None:
            return
        try:
            self._socket.sendto(packet.to_bytes(), self._peer or self.remote)
        except OSError:  # a full buffer or an unreachable peer: this slot is lost, never queued for later
            metrics.RTP_SEND_ERRORS.inc()
        else:
            self.sent += 1
            metrics.RTP_PACKETS.labels("out").inc()
        self._sequence = (self._sequence + 1) & 0xFFFF

    def _call_on_loop(self, callbacks: list[Callable[[], None]]) -> None:
        if self._loop is None:
            return
        for callback in callbacks:
            with contextlib.suppress(RuntimeError):  # the loop is closing: nobody waits for it any more
                self._loop.call_soon_threadsafe(callback)

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
