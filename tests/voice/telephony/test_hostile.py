"""Hostile and unlucky peers: malformed SIP, an RTP flood from a wrong source, retransmissions, limits, strangers.
The gateway answers or drops, never falls over, and the call in progress carries on."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from opsdesk.voice.sip.message import SipResponse, parse_message
from tests.voice.telephony.conftest import StartDesk
from tests.voice.telephony.peers import SIPP, MediaPeer, dominant_frequencies, free_port, run_sipp, silence, tone

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")

_HEADERS = (
    "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{branch}\r\n"
    "From: <sip:+15550199@127.0.0.1>;tag=t{branch}\r\n"
    "To: <sip:desk@127.0.0.1>\r\n"
    "Call-ID: {call_id}\r\n"
)


class SipPeer(asyncio.DatagramProtocol):
    """A bare SIP endpoint on our own socket: sends what it is told and keeps every response."""

    def __init__(self) -> None:
        self.responses: list[SipResponse] = []
        self.raw: list[bytes] = []
        self.arrived = asyncio.Event()
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def open(self) -> SipPeer:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    def send(self, data: bytes, port: int) -> None:
        assert self._transport is not None
        self._transport.sendto(data, ("127.0.0.1", port))

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.raw.append(data)
        message = parse_message(data)
        assert isinstance(message, SipResponse)
        self.responses.append(message)
        self.arrived.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[SipResponse]:
        async def enough() -> None:
            while len(self.responses) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.responses

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


def _invite(peer: SipPeer, call_id: str, branch: str, media_port: int = 40000) -> bytes:
    sdp = f"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {media_port} RTP/AVP 0\r\n"
    return (
        "INVITE sip:desk@127.0.0.1 SIP/2.0\r\n"
        + _HEADERS.format(port=peer.port, branch=branch, call_id=call_id)
        + f"CSeq: 1 INVITE\r\nContact: <sip:caller@127.0.0.1:{peer.port}>\r\nContent-Type: application/sdp\r\n"
        + f"Content-Length: {len(sdp)}\r\n\r\n{sdp}"
    ).encode()


def _in_dialog(peer: SipPeer, method: str, call_id: str, branch: str, to_tag: str, cseq: int) -> bytes:
    headers = _HEADERS.format(port=peer.port, branch=branch, call_id=call_id).replace(
        "To: <sip:desk@127.0.0.1>", f"To: <sip:desk@127.0.0.1>;tag={to_tag}"
    )
    start = f"{method} sip:opsdesk@127.0.0.1 SIP/2.0\r\n"
    return f"{start}{headers}CSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n".encode()


async def test_malformed_sip_is_answered_400_or_dropped_while_a_call_goes_on(
    start_desk: StartDesk, tmp_path: Path
) -> None:
    desk = await start_desk()
    media = await MediaPeer().open()
    call = asyncio.create_task(
        run_sipp("call", desk.port, tmp_path, pause_ms=3500, variables={"mport": str(media.port)})
    )
    await media.wait_for_media()
    peer = await SipPeer().open()
    good = _invite(peer, "hostile-1", "h1").decode()
    answerable = [
        good.replace("CSeq: 1 INVITE", "CSeq: one INVITE"),
        good.replace("Content-Length: ", "Content-Length: 9"),
        good.replace("Content-Type: application/sdp", "Content-Type application/sdp"),
        good.replace("CSeq: 1 INVITE", "CSeq: 1 BYE"),
        good.replace("From: <sip", "From: <sip\x00"),
        "FOO sip:desk@127.0.0.1 SIP/2.0\r\n" + good.split("\r\n", 1)[1].replace("1 INVITE", "1 FOO"),
    ]
    dropped = [
        b"\x00\xff" * 300,
        b"\r\n\r\n",
        good.replace("Call-ID: hostile-1\r\n", "").replace("CSeq: 1 INVITE", "CSeq: x").encode(),
        b"SIP/2.0 200 OK\r\nVia: nonsense\r\n\r\n",
        b"INVITE sip:desk@127.0.0.1 SIP/2.0\r\n" + b"X-Pad: " + b"A" * 60_000 + b"\r\n\r\n",
    ]
    for data in [text.encode() for text in answerable] + dropped:
        peer.send(data, desk.port)
    responses = await peer.wait_for(len(answerable))
    await asyncio.sleep(0.3)  # time for any answer the dropped ones should not get
    result = await call
    peer.close()
    media.close()

    statuses = sorted(response.status for response in responses)
    assert statuses == [400, 400, 400, 400, 400, 405]
    assert result.returncode == 0, result.explain()
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "caller hung up"
    assert desk.gateway.ua.policy.active() == 0


async def test_an_rtp_flood_from_a_wrong_source_is_ignored_and_the_call_still_hears_its_caller(
    start_desk: StartDesk, tmp_path: Path
) -> None:
    desk = await start_desk()
    media = await MediaPeer().open()
    call = asyncio.create_task(
        run_sipp("call", desk.port, tmp_path, pause_ms=4000, variables={"mport": str(media.port)})
    )
    gateway_rtp = await media.wait_for_media()
    attacker = await MediaPeer().open()
    attacker.gateway = gateway_rtp
    loud = np.clip(np.random.default_rng(1).normal(0, 12000, 8000 * 4), -32768, 32767).astype(np.int16)
    await attacker.send_audio(loud, paced=False)  # 200 packets at once
    await media.send_audio(np.concatenate([tone(1000, 0.6), silence(1.0)]))
    result = await call
    attacker.close()
    media.close()

    assert result.returncode == 0, result.explain()
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert record.foreign_packets >= 200
    assert desk.dialogues[0].echoed == 1  # only the real caller's words came back
    heard = dominant_frequencies(media.audio())
    assert heard.count(1000) >= 25


async def test_a_retransmitted_invite_is_one_call_and_the_200_is_resent_until_the_ack(start_desk: StartDesk) -> None:
    desk = await start_desk()
    peer = await SipPeer().open()
    media = await MediaPeer().open()
    invite = _invite(peer, "retrans-1", "r1", media.port)
    peer.send(invite, desk.port)
    await peer.wait_for(3)  # 100, 180, 200
    peer.send(invite, desk.port)  # a retransmission: same branch
    responses = await peer.wait_for(5)  # the 200 again (absorbed), and again after T1 (no ACK yet)
    assert [r.status for r in responses[:3]] == [100, 180, 200]
    assert {r.status for r in responses[3:]} == {200}
    assert desk.gateway.ua.policy.active() == 1
    to_tag = (responses[2].header("To") or "").split("tag=")[1]
    peer.send(_in_dialog(peer, "ACK", "retrans-1", "r1ack", to_tag, 1), desk.port)
    await media.wait_for_media()
    count = len(peer.responses)
    peer.send(_in_dialog(peer, "BYE", "retrans-1", "r1bye", to_tag, 2), desk.port)
    await peer.wait_for(count + 1)
    await asyncio.sleep(1.2)  # longer than T1: a 200 still being resent would show now
    assert [r.status for r in peer.responses[count:]] == [200]
    assert peer.responses[-1].cseq == (2, "BYE")
    peer.close()
    media.close()
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "caller hung up"


async def test_calls_over_the_per_source_limit_get_503(start_desk: StartDesk) -> None:
    desk = await start_desk(calls_per_source=1)
    peer = await SipPeer().open()
    peer.send(_invite(peer, "limit-1", "l1"), desk.port)
    await peer.wait_for(3)
    peer.send(_invite(peer, "limit-2", "l2"), desk.port)
    responses = await peer.wait_for(5)
    assert [(r.status, r.call_id) for r in responses[3:5]] == [(100, "limit-2"), (503, "limit-2")]
    assert responses[4].header("Retry-After") == "5"
    assert desk.gateway.ua.policy.active() == 1
    peer.close()


async def test_sources_outside_the_allowlist_get_no_answer(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk(allow=("10.0.0.0/8",))
    peer = await SipPeer().open()
    options = _in_dialog(peer, "OPTIONS", "stranger-1", "s1", "x", 1).replace(b";tag=x", b"")
    peer.send(options, desk.port)
    peer.send(_invite(peer, "stranger-2", "s2"), desk.port)
    with pytest.raises(TimeoutError):
        await peer.wait_for(1, timeout=1.0)
    assert desk.gateway.ua.policy.active() == 0
    peer.close()


async def test_opsdesk_voice_serve_answers_then_hangs_up_its_calls_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    low = free_port()
    command = [sys.executable, "-m", "opsdesk.cli", "voice", "serve", "--port", str(port)]
    command += ["--rtp-ports", f"{low}-{low + 100}"]
    server = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"}
    )
    assert server.stdout is not None
    banner = await asyncio.wait_for(server.stdout.readline(), 60)
    assert b"Voice gateway on sip:127.0.0.1:" in banner
    printed = asyncio.create_task(server.stdout.read())  # drained: a full pipe would stall the server's logging
    options = await run_sipp("options", port, tmp_path)
    assert options.returncode == 0, options.explain()
    media = await MediaPeer().open()
    call = asyncio.create_task(run_sipp("bye_from_gateway", port, tmp_path, variables={"mport": str(media.port)}))
    await media.wait_for_media()
    server.send_signal(signal.SIGTERM)
    result = await call
    code = await asyncio.wait_for(server.wait(), 30)
    output = (await printed).decode(errors="replace")
    media.close()
    assert result.returncode == 0, f"{result.explain()}\n--- the server printed\n{output}"
    assert code == 0, output


async def test_a_tcp_stream_of_junk_is_cut_off_and_a_broken_message_on_tcp_gets_its_400(
    start_desk: StartDesk, tmp_path: Path
) -> None:
    desk = await start_desk()
    reader, writer = await asyncio.open_connection("127.0.0.1", desk.port)
    broken = "OPTIONS sip:desk@127.0.0.1 SIP/2.0\r\n" + _HEADERS.format(port=5, branch="tcp1", call_id="tcp-1")
    writer.write((broken + "CSeq: x OPTIONS\r\nContent-Length: 0\r\n\r\n").encode())
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert answer.startswith(b"SIP/2.0 400 Bad CSeq")
    writer.write(b"\x00" * 70_000)  # no end of headers in sight: the stream is dropped
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    result = await run_sipp("options", desk.port, tmp_path, tcp=True)
    assert result.returncode == 0, result.explain()


async def test_with_no_rtp_port_left_a_new_call_gets_503_and_the_others_go_on(start_desk: StartDesk) -> None:
    low = free_port() & ~1
    desk = await start_desk(rtp_ports=(low, low + 2))  # room for one call
    peer = await SipPeer().open()
    peer.send(_invite(peer, "ports-1", "p1"), desk.port)
    first = await peer.wait_for(3)
    peer.send(_invite(peer, "ports-2", "p2"), desk.port)
    responses = await peer.wait_for(5)
    peer.close()

    assert [r.status for r in first[:3]] == [100, 180, 200]
    assert [(r.status, r.call_id) for r in responses[3:5]] == [(100, "ports-2"), (503, "ports-2")]
    assert desk.gateway.ua.policy.active() == 1
    assert list(desk.gateway.calls) == ["ports-1"]


async def test_with_credentials_set_a_call_needs_digest_auth(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk(credentials={"trunk": "s3cret"})
    peer = await SipPeer().open()
    peer.send(_invite(peer, "auth-1", "a1"), desk.port)
    forged = _invite(peer, "auth-2", "a2").replace(
        b"CSeq: 1 INVITE",
        b'Authorization: Digest username="trunk", realm="opsdesk", nonce="1.x", '
        b'uri="sip:desk@127.0.0.1", response="00000000000000000000000000000000"\r\nCSeq: 1 INVITE',
    )
    peer.send(forged, desk.port)
    responses = await peer.wait_for(4)
    peer.close()
    finals = [r for r in responses if r.status >= 200]
    assert [r.status for r in finals] == [401, 401]
    assert all('realm="opsdesk"' in (r.header("WWW-Authenticate") or "") for r in finals)
    assert desk.gateway.ua.policy.active() == 0

    media = await MediaPeer().open()
    result = await run_sipp(
        "call_auth", desk.port, tmp_path, pause_ms=500, variables={"mport": str(media.port)},
        extra=("-au", "trunk", "-ap", "s3cret"),
    )  # fmt: skip
    media.close()
    assert result.returncode == 0, result.explain()
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "caller hung up"


async def test_keys_signalled_in_sip_info_reach_the_pipeline_like_rfc4733_ones(start_desk: StartDesk) -> None:
    desk = await start_desk()
    peer = await SipPeer().open()
    media = await MediaPeer().open()
    peer.send(_invite(peer, "info-1", "i1", media.port), desk.port)
    responses = await peer.wait_for(3)
    to_tag = (responses[2].header("To") or "").split("tag=")[1]
    peer.send(_in_dialog(peer, "ACK", "info-1", "i1ack", to_tag, 1), desk.port)
    await media.wait_for_media()
    bodies = [
        ("application/dtmf-relay", "Signal=4\r\nDuration=160\r\n"),
        ("application/dtmf", "#"),
        ("application/dtmf-relay", "Signal=nonsense\r\n"),
    ]
    for index, (kind, body) in enumerate(bodies):
        info = _in_dialog(peer, "INFO", "info-1", f"i1info{index}", to_tag, 2 + index).replace(
            b"Content-Length: 0\r\n\r\n", f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
        )
        peer.send(info, desk.port)
    await peer.wait_for(6)
    peer.send(_in_dialog(peer, "BYE", "info-1", "i1bye", to_tag, 9), desk.port)
    await peer.wait_for(7)
    peer.close()
    media.close()

    assert [r.status for r in peer.responses[3:7]] == [200, 200, 200, 200]
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert desk.dialogues[0].digits == ["4", "#"]
    assert record.keys_pressed == 2
