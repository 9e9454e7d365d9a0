"""A test call from the command line: dial a SIP URI, speak a WAV file over RTP, record what comes back, hang up.

Just the calling side that `opsdesk voice call` needs (UDP, one INVITE with a PCMU/PCMA offer, ACK, BYE either way,
DTMF by RFC 4733); the media is the gateway's own `RtpSession`, so the call sounds exactly like the desk's.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass, field

from opsdesk.voice.rtp.session import PortPool, RtpSession
from opsdesk.voice.sip.message import SipParseError, SipRequest, SipResponse, address_uri, parse_message
from opsdesk.voice.sip.sdp import agree, codec_of, new_session_id
from opsdesk.voice.sip.transactions import T1, TIMEOUT, new_branch, new_tag

_OFFER = "v=0\r\no=opsdesk {session} 1 IN IP4 {host}\r\ns=opsdesk test call\r\nc=IN IP4 {host}\r\nt=0 0\r\n"
_MEDIA = "m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"


class CallFailed(Exception):
    """The call could not be set up; the message says why (a SIP status, or no answer)."""


@dataclass
class CallOutcome:
    heard: bytearray = field(default_factory=bytearray)  # PCM16 at 8 kHz
    status: int = 0
    hung_up_by: str = ""


class _Signalling(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.messages: asyncio.Queue[SipRequest | SipResponse] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        with contextlib.suppress(SipParseError):
            self.messages.put_nowait(parse_message(data))


async def place_call(
    host: str,
    port: int,
    speech: bytes,
    *,
    user: str = "desk",
    caller: str = "opsdesk-test",
    digits: str = "",
    listen_seconds: float = 5.0,
    local_host: str = "127.0.0.1",
) -> CallOutcome:
    """Calls sip:`user`@`host`:`port`, plays `speech` (PCM16, 8 kHz), presses `digits`, listens, then hangs up."""
    loop = asyncio.get_running_loop()
    signalling = _Signalling()
    transport, _ = await loop.create_datagram_endpoint(lambda: signalling, local_addr=(local_host, 0))
    sip_port = transport.get_extra_info("sockname")[1]
    result = CallOutcome()
    media = RtpSession(
        remote=(host, 0), codec=0, dtmf_payload_type=None, on_audio=result.heard.extend, on_dtmf=lambda _: None
    )
    rtp_port = await media.open(local_host, PortPool(20000, 30000))
    call_id, tag, target = f"{secrets.token_hex(8)}@{local_host}", new_tag(), f"sip:{user}@{host}:{port}"
    sdp = (_OFFER.format(session=new_session_id(), host=local_host) + _MEDIA.format(port=rtp_port)).encode()
    invite = _request("INVITE", target, call_id, tag, 1, local_host, sip_port, caller, to=f"<{target}>")
    invite.add_header("Content-Type", "application/sdp")
    invite.body = sdp
    try:
        answer = await _invite(signalling, transport, invite, (host, port))
        result.status = answer.status
        if answer.status != 200:
            raise CallFailed(f"{answer.status} {answer.reason}")
        to = answer.header("To") or f"<{target}>"
        remote = address_uri(answer.header("Contact") or target)
        ack = _request("ACK", remote, call_id, tag, 1, local_host, sip_port, caller, to=to)
        transport.sendto(ack.to_bytes(), (host, port))
        agreed = agree(answer.body)
        if agreed is None:
            raise CallFailed("the answer's SDP has no codec we offered")
        offer, chosen = agreed
        media.update(
            remote=(offer.address, offer.port), codec=codec_of(chosen, offer), dtmf_payload_type=None, sending=True
        )
        media.start()
        media.enqueue(speech)
        for digit in digits:
            await media.send_digit(digit, chosen.dtmf_payload_type or 101)
        ended = await _wait_for_bye(signalling, transport, len(speech) / 16000 + listen_seconds, (host, port))
        if ended:
            result.hung_up_by = "desk"
        else:
            result.hung_up_by = "caller"
            bye = _request("BYE", remote, call_id, tag, 2, local_host, sip_port, caller, to=to)
            transport.sendto(bye.to_bytes(), (host, port))
            await _final(signalling, "BYE", T1 * 4)
    finally:
        await media.close()
        transport.close()
    return result


def _request(
    method: str, uri: str, call_id: str, tag: str, cseq: int, host: str, port: int, caller: str, *, to: str
) -> SipRequest:
    request = SipRequest(method=method, uri=uri)
    request.add_header("Via", f"SIP/2.0/UDP {host}:{port};branch={new_branch()};rport")
    request.add_header("Max-Forwards", "70")
    request.add_header("From", f"<sip:{caller}@{host}:{port}>;tag={tag}")
    request.add_header("To", to)
    request.add_header("Call-ID", call_id)
    request.add_header("CSeq", f"{cseq} {method}")
    request.add_header("Contact", f"<sip:{caller}@{host}:{port}>")
    return request


async def _invite(
    signalling: _Signalling, transport: asyncio.DatagramTransport, invite: SipRequest, address: tuple[str, int]
) -> SipResponse:
    data, interval, waited, provisional = invite.to_bytes(), T1, 0.0, False
    transport.sendto(data, address)
    while waited < TIMEOUT:
        try:
            message = await asyncio.wait_for(signalling.messages.get(), interval)
        except TimeoutError:
            waited += interval
            if not provisional:
                transport.sendto(data, address)
                interval = min(interval * 2, 4.0)
            continue
        if isinstance(message, SipResponse) and message.cseq[1] == "INVITE":
            if message.status >= 200:
                return message
            provisional = True
    raise CallFailed("no answer to the INVITE")


async def _wait_for_bye(
    signalling: _Signalling, transport: asyncio.DatagramTransport, seconds: float, address: tuple[str, int]
) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            message = await asyncio.wait_for(signalling.messages.get(), left)
        except TimeoutError:
            return False
        if isinstance(message, SipRequest) and message.method in ("BYE", "NOTIFY", "REFER"):
            refused = message.method == "REFER"  # a test call does not follow transfers
            ok = SipResponse(status=603 if refused else 200, reason="Decline" if refused else "OK")
            for name in ("Via", "From", "To", "Call-ID", "CSeq"):
                ok.add_header(name, message.header(name) or "")
            transport.sendto(ok.to_bytes(), address)
            if message.method == "BYE":
                return True
    return False


async def _final(signalling: _Signalling, method: str, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                message = await signalling.messages.get()
                if isinstance(message, SipResponse) and message.cseq[1] == method and message.status >= 200:
                    return
