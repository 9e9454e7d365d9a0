"""SDP offer/answer for one audio stream (RFC 4566, RFC 3264): G.711 at 8 kHz and RFC 4733 telephone-event."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from opsdesk.voice.audio import PCMA, PCMU

_STATIC = {PCMU: "PCMU", PCMA: "PCMA"}
_SENDS = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
_VERSIONS = itertools.count(1)


class SdpError(ValueError):
    """The body is not an SDP we can read."""


@dataclass(slots=True)
class AudioOffer:
    """The audio stream the peer offers: where to send RTP and what it can take."""

    address: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, str] = field(default_factory=dict)  # payload type -> "PCMU/8000"
    direction: str = "sendrecv"


@dataclass(frozen=True, slots=True)
class MediaAnswer:
    """What we agreed: the codec, the DTMF payload type (or None) and the direction from our side."""

    address: str
    port: int
    codec: int
    dtmf_payload_type: int | None
    direction: str  # ours: sendrecv, sendonly (peer put us on hold), recvonly or inactive

    @property
    def we_send(self) -> bool:
        return self.direction in ("sendrecv", "sendonly")


def parse_offer(body: bytes) -> AudioOffer:
    """The first audio stream of an SDP body; raises `SdpError`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SdpError("SDP is not UTF-8") from exc
    session_address = ""
    session_direction = "sendrecv"
    offer: AudioOffer | None = None
    in_audio = False
    for raw in text.splitlines():
        kind, _, value = raw.strip().partition("=")
        if kind == "m":
            if offer is not None:
                break  # only the first audio stream is used
            parts = value.split()
            in_audio = len(parts) >= 4 and parts[0] == "audio" and parts[2].startswith("RTP/")
            if in_audio:
                offer = AudioOffer(session_address, _port(parts[1]), _payload_types(parts[3:]), {}, session_direction)
        elif kind == "c":
            address = _connection(value)
            if offer is not None and in_audio:
                offer.address = address
            elif offer is None:
                session_address = address
        elif kind == "a":
            name, _, rest = value.partition(":")
            if name in _SENDS:
                if offer is not None and in_audio:
                    offer.direction = name
                elif offer is None:
                    session_direction = name
            elif name == "rtpmap" and offer is not None and in_audio:
                payload, _, encoding = rest.partition(" ")
                if payload.isdigit():
                    offer.rtpmap[int(payload)] = encoding.strip()
    if offer is None:
        raise SdpError("No audio stream")
    if not offer.address:
        raise SdpError("No connection address")
    if offer.address in ("0.0.0.0", "::"):  # RFC 2543 hold
        offer.direction = "sendonly" if offer.direction == "sendrecv" else offer.direction
    return offer


def negotiate(offer: AudioOffer, codecs: tuple[int, ...] = (PCMU, PCMA)) -> MediaAnswer | None:
    """Our answer to an offer: the first offered codec we can do, telephone-event if offered; None when none fits."""
    codec = next((pt for pt in offer.payload_types if _codec_of(pt, offer.rtpmap) in codecs), None)
    if codec is None:
        return None
    dtmf = next(
        (pt for pt in offer.payload_types if offer.rtpmap.get(pt, "").lower().startswith("telephone-event/8000")),
        None,
    )
    return MediaAnswer(offer.address, offer.port, codec, dtmf, _SENDS.get(offer.direction, "sendrecv"))


def agree(sdp: bytes, codecs: tuple[int, ...] = (PCMU, PCMA)) -> tuple[AudioOffer, MediaAnswer] | None:
    """The offer read from `sdp` and our answer to it; None when it cannot be read or no codec fits (a 488)."""
    try:
        offer = parse_offer(sdp)
    except SdpError:
        return None
    answer = negotiate(offer, codecs)
    return None if answer is None else (offer, answer)


def codec_of(answer: MediaAnswer, offer: AudioOffer) -> int:
    """The static G.711 payload type (0 or 8) behind the offered payload type we chose."""
    return _codec_of(answer.codec, offer.rtpmap) or PCMU


def answer_body(answer: MediaAnswer, offer: AudioOffer, *, local_address: str, local_port: int, session: int) -> bytes:
    """The SDP answer: our address and RTP port, the chosen codec (same payload type as offered) and DTMF."""
    payload_types = [answer.codec] + ([answer.dtmf_payload_type] if answer.dtmf_payload_type is not None else [])
    name = _STATIC[codec_of(answer, offer)]
    lines = [
        "v=0",
        f"o=opsdesk {session} {next(_VERSIONS)} IN IP4 {local_address}",
        "s=opsdesk",
        f"c=IN IP4 {local_address}",
        "t=0 0",
        f"m=audio {local_port} RTP/AVP {' '.join(str(pt) for pt in payload_types)}",
        f"a=rtpmap:{answer.codec} {name}/8000",
    ]
    if answer.dtmf_payload_type is not None:
        dtmf = answer.dtmf_payload_type
        lines += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-16"]
    lines += ["a=ptime:20", f"a={answer.direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


def new_session_id() -> int:
    return int(time.time() * 1000) & 0x7FFFFFFF


def _codec_of(payload_type: int, rtpmap: dict[int, str]) -> int | None:
    encoding = rtpmap.get(payload_type)
    if encoding is None:
        return payload_type if payload_type in _STATIC else None
    name, _, rate = encoding.partition("/")
    if rate.split("/")[0] != "8000":
        return None
    return {"PCMU": PCMU, "PCMA": PCMA}.get(name.upper())


def _port(value: str) -> int:
    port = value.split("/")[0]
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SdpError("Bad media port")
    return int(port)


def _payload_types(values: list[str]) -> list[int]:
    if not all(value.isdigit() and int(value) < 128 for value in values):
        raise SdpError("Bad payload type")
    return [int(value) for value in values]


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) < 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError("Bad connection line")
    return parts[2].split("/")[0]
