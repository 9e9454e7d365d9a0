"""SIP messages and SDP: what is read, what is refused, and that hostile bytes only ever raise SipParseError."""

from __future__ import annotations

import random

import pytest

from opsdesk.voice.sip.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    address_uri,
    params,
    parse_message,
    salvage_request,
    uri_user,
)
from opsdesk.voice.sip.sdp import agree, answer_body, parse_offer

INVITE = (
    b"INVITE sip:desk@127.0.0.1:5060 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'f: "Smith, Ann" <sip:+441234@pbx.example>;tag=1928301774\r\n'
    b"t: <sip:desk@127.0.0.1>\r\n"
    b"i: a84b4c76e66710@pbx.example\r\n"
    b"CSeq: 314159 INVITE\r\n"
    b"Subject: folded\r\n  header\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n\r\nv=0\r\nextra"
)
OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 18 8 0 101\r\na=rtpmap:18 G729/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
)


def test_a_request_with_compact_and_folded_headers_is_read() -> None:
    message = parse_message(INVITE)
    assert isinstance(message, SipRequest)
    assert message.method == "INVITE"
    assert message.call_id == "a84b4c76e66710@pbx.example"
    assert message.cseq == (314159, "INVITE")
    assert message.header("subject") == "folded header"
    assert message.body == b"v=0\r"  # Content-Length wins over what follows
    assert params(message.header("From") or "") == {"tag": "1928301774"}
    assert uri_user(address_uri(message.header("From") or "")) == "+441234"
    assert params(message.header_values("Via")[0])["branch"] == "z9hG4bK776asdhds"


def test_a_message_survives_writing_and_reading_again() -> None:
    message = parse_message(INVITE)
    again = parse_message(message.to_bytes())
    assert again.headers == message.headers
    assert again.body == message.body


def test_a_response_is_read() -> None:
    response = parse_message(b"SIP/2.0 486 Busy Here\r\nCall-ID: x\r\nCSeq: 2 BYE\r\n\r\n")
    assert isinstance(response, SipResponse)
    assert (response.status, response.reason) == (486, "Busy Here")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (INVITE.replace(b"i: a84b4c76e66710@pbx.example\r\n", b""), "Missing Call-ID"),
        (INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: pi INVITE"), "Bad CSeq"),
        (INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: 314159 BYE"), "CSeq method does not match the request"),
        (INVITE.replace(b"l: 4", b"l: 400"), "Body shorter than Content-Length"),
        (INVITE.replace(b"l: 4", b"l: -1"), "Bad Content-Length"),
        (INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards 70"), "Bad header line"),
        (INVITE.replace(b"Max-Forwards: 70", b"Max-Forwards: 7\x000"), "NUL in header"),
        (INVITE.replace(b"INVITE sip:desk@127.0.0.1:5060 SIP/2.0", b"INVITE  SIP/2.0"), "Bad request line"),
        (INVITE.replace(b"SIP/2.0\r\nv:", b"SIP/3.0\r\nv:", 1), "Bad request line"),
        (INVITE[:200], "Missing header terminator"),
        (b"INVITE sip:a@b SIP/2.0\r\n" + b"X-A: b\r\n" * 200 + b"\r\n", "Too many headers"),
        (b"X" * 70_000, "Message Too Large"),
        (b"\xff\xfe\r\n\r\n", "Headers are not UTF-8"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as refused:
        parse_message(data)
    assert refused.value.reason == reason


def test_mutated_messages_never_raise_anything_but_a_parse_error() -> None:
    chance = random.Random(13)
    for _ in range(3000):
        data = bytearray(INVITE)
        for _ in range(chance.randint(1, 12)):
            action = chance.random()
            position = chance.randrange(len(data))
            if action < 0.4:
                data[position] = chance.randrange(256)
            elif action < 0.7:
                del data[position : position + chance.randint(1, 20)]
            else:
                data[position:position] = bytes(chance.randrange(256) for _ in range(chance.randint(1, 8)))
        try:
            parse_message(bytes(data))
        except SipParseError:
            pass
        salvage_request(bytes(data))


def test_a_broken_request_keeps_enough_headers_for_a_400_or_none() -> None:
    broken = INVITE.replace(b"CSeq: 314159 INVITE", b"CSeq: pi INVITE")
    salvaged = salvage_request(broken)
    assert salvaged is not None
    assert salvaged.header("Call-ID") == "a84b4c76e66710@pbx.example"
    assert salvage_request(b"SIP/2.0 200 OK\r\n\r\n") is None  # responses are never answered
    assert salvage_request(b"\x16\x03\x01 garbage") is None


def test_the_first_g711_codec_offered_is_chosen_with_dtmf() -> None:
    agreed = agree(OFFER)
    assert agreed is not None
    offer, answer = agreed
    assert (answer.codec, answer.dtmf_payload_type, answer.direction) == (8, 101, "sendrecv")
    body = answer_body(answer, offer, local_address="127.0.0.1", local_port=40000, session=7).decode()
    assert "m=audio 40000 RTP/AVP 8 101" in body
    assert "a=rtpmap:8 PCMA/8000" in body
    assert "a=fmtp:101 0-16" in body


def test_an_offer_without_g711_has_no_answer() -> None:
    assert agree(OFFER.replace(b"RTP/AVP 18 8 0 101", b"RTP/AVP 18 101")) is None
    assert agree(b"v=0\r\nnot sdp at all") is None
    assert agree(b"\xff\xfe") is None


@pytest.mark.parametrize(
    ("line", "ours"),
    [(b"a=sendonly", "recvonly"), (b"a=inactive", "inactive"), (b"a=recvonly", "sendonly"), (b"", "sendrecv")],
)
def test_hold_directions_are_mirrored(line: bytes, ours: str) -> None:
    agreed = agree(OFFER + line + b"\r\n")
    assert agreed is not None
    assert agreed[1].direction == ours


def test_an_rfc2543_hold_address_means_the_caller_will_not_listen() -> None:
    offer = parse_offer(OFFER.replace(b"c=IN IP4 10.0.0.1", b"c=IN IP4 0.0.0.0"))
    assert offer.direction == "sendonly"
