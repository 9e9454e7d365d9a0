"""Real peers for the gateway's tests: sipp scenarios, and a caller media endpoint (our own UDP socket) that
captures what the gateway sends and sends audio and RFC 4733 digits back."""

from __future__ import annotations

import asyncio
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from opsdesk.voice.audio import ulaw_decode, ulaw_encode
from opsdesk.voice.rtp.dtmf import event_payload
from opsdesk.voice.rtp.packet import RtpPacket, parse_rtp

SCENARIOS = Path(__file__).parent / "scenarios"
SIPP = shutil.which("sipp")


def free_port(span: int = 1) -> int:
    """A port free for UDP and TCP, with the `span - 1` ports after it free too (sipp and baresip bind several)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        if port + span < 65536 and all(_free(port + offset) for offset in range(span)):
            return port
    raise OSError("no free port")


def _free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@dataclass
class SippResult:
    returncode: int
    messages: str
    errors: str
    output: str

    def explain(self) -> str:
        parts = [f"--- errors\n{self.errors[-3000:]}", f"--- messages\n{self.messages[-4000:]}", self.output[-1500:]]
        return f"sipp exited {self.returncode}\n" + "\n".join(parts)


async def run_sipp(
    scenario: str,
    port: int,
    workdir: Path,
    *,
    pause_ms: int = 0,
    variables: dict[str, str] | None = None,
    calls: int = 1,
    timeout: float = 40.0,
    tcp: bool = False,
    extra: tuple[str, ...] = (),
) -> SippResult:
    """Runs one sipp scenario against 127.0.0.1:`port` until its calls are done; the exit code 0 means all passed."""
    assert SIPP is not None, "sipp is not installed (Debian package sip-tester)"
    messages, errors = workdir / f"{scenario}-{port}-messages.log", workdir / f"{scenario}-{port}-errors.log"
    command = [
        SIPP,
        f"127.0.0.1:{port}",
        "-sf",
        str(SCENARIOS / f"{scenario}.xml"),
        "-s",
        "desk",
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-mp",
        str(free_port()),
        "-m",
        str(calls),
        "-l",
        str(calls),
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-nostdin",
        "-trace_msg",
        "-message_file",
        str(messages),
        "-trace_err",
        "-error_file",
        str(errors),
    ]
    if pause_ms:
        command += ["-d", str(pause_ms)]
    if tcp:
        command += ["-t", "t1"]  # one TCP connection for the run
    command += list(extra)
    for name, value in (variables or {}).items():
        command += ["-set", name, value]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=workdir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout + 10)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
    return SippResult(
        process.returncode if process.returncode is not None else -1,
        messages.read_text(errors="replace") if messages.exists() else "",
        errors.read_text(errors="replace") if errors.exists() else "",
        output.decode(errors="replace"),
    )


@dataclass
class Received:
    packet: RtpPacket
    source: tuple[str, int]


@dataclass
class MediaPeer(asyncio.DatagramProtocol):
    """The caller's RTP endpoint: records every packet the gateway sends, and sends audio or digits back to it."""

    packets: list[Received] = field(default_factory=list)
    port: int = 0
    gateway: tuple[str, int] | None = None
    first_packet: asyncio.Event = field(default_factory=asyncio.Event)
    _transport: asyncio.DatagramTransport | None = None
    _sequence: int = 1000
    _timestamp: int = 50_000

    async def open(self) -> MediaPeer:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        packet = parse_rtp(data)
        if packet is None:
            return
        source = (str(addr[0]), int(addr[1]))
        self.gateway = self.gateway or source
        self.packets.append(Received(packet, source))
        self.first_packet.set()

    async def wait_for_media(self, timeout: float = 10.0) -> tuple[str, int]:
        await asyncio.wait_for(self.first_packet.wait(), timeout)
        assert self.gateway is not None
        return self.gateway

    async def send_audio(self, pcm: np.ndarray, *, paced: bool = True) -> None:
        """Sends 8 kHz PCM16 as 20 ms PCMU packets (paced at 20 ms, as a phone would)."""
        assert self._transport is not None and self.gateway is not None
        codes = ulaw_encode(pcm.astype(np.int16)).tobytes()
        for start in range(0, len(codes) - 159, 160):
            packet = RtpPacket(0, self._sequence, self._timestamp, 0x1234, codes[start : start + 160])
            self._transport.sendto(packet.to_bytes(), self.gateway)
            self._sequence += 1
            self._timestamp += 160
            if paced:
                await asyncio.sleep(0.02)

    async def send_digits(self, digits: str, payload_type: int = 101) -> None:
        """Each digit as an RFC 4733 event: three progress packets, then three end packets (the same timestamp)."""
        assert self._transport is not None and self.gateway is not None
        for digit in digits:
            for index in range(6):
                end = index >= 3
                payload = event_payload(digit, end=end, duration=160 * (index + 1))
                packet = RtpPacket(payload_type, self._sequence, self._timestamp, 0x1234, payload, marker=index == 0)
                self._transport.sendto(packet.to_bytes(), self.gateway)
                self._sequence += 1
                await asyncio.sleep(0.01)
            self._timestamp += 160 * 8

    def audio(self) -> np.ndarray:
        """Everything the gateway sent, decoded, in sequence order."""
        ordered = sorted(self.packets, key=lambda item: item.packet.sequence)
        return np.concatenate([ulaw_decode(item.packet.payload) for item in ordered]) if ordered else np.zeros(0)


def tone(frequency: float, seconds: float, level: float = 8000.0) -> np.ndarray:
    count = round(seconds * 8000)
    return np.rint(level * np.sin(2 * np.pi * frequency * np.arange(count) / 8000)).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * 8000), dtype=np.int16)


def dominant_frequencies(pcm: np.ndarray, *, frame: int = 160, min_rms: float = 500.0) -> list[int]:
    """The strongest frequency (Hz, rounded to 20) of each 20 ms frame loud enough to be more than silence."""
    found: list[int] = []
    for start in range(0, len(pcm) - frame + 1, frame):
        chunk = pcm[start : start + frame].astype(np.float64)
        if np.sqrt(np.mean(chunk * chunk)) < min_rms:
            continue
        spectrum = np.abs(np.fft.rfft(chunk * np.hanning(frame), n=1600))
        found.append(int(round(np.argmax(spectrum) * 8000 / 1600 / 20) * 20))
    return found


def spoken_parts(pcm: np.ndarray, *, rate: int = 8000, gap_s: float = 0.3, level: int = 500) -> list[np.ndarray]:
    """`pcm` cut at its pauses of `gap_s` or longer, each part padded with 0.1 s of silence: a listener that hears
    a long answer part by part does not loop on it as Whisper can over a whole answer ("ending 8611111…")."""
    frame = rate // 50
    count = pcm.size // frame
    loud = np.abs(pcm[: count * frame].reshape(count, frame).astype(np.int32)).max(axis=1) > level
    pad = np.zeros(rate // 10, dtype=pcm.dtype)
    parts: list[np.ndarray] = []
    start: int | None = None
    quiet = 0
    for index, is_loud in enumerate(loud):
        if is_loud:
            start = index if start is None else start
            quiet = 0
            continue
        if start is None:
            continue
        quiet += 1
        if quiet * frame >= gap_s * rate:
            parts.append(np.concatenate([pad, pcm[start * frame : (index - quiet + 1) * frame], pad]))
            start, quiet = None, 0
    if start is not None:
        parts.append(np.concatenate([pad, pcm[start * frame : count * frame], pad]))
    return parts
