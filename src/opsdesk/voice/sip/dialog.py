"""A call's dialog (RFC 3261 §12) seen from the answering side, and the requests we send inside it (BYE, REFER)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from opsdesk.voice.sip.message import SipRequest, SipResponse, address_uri, params, uri_user
from opsdesk.voice.sip.transactions import new_branch, new_tag

EARLY, ANSWERED, CONFIRMED, ENDED = "early", "answered", "confirmed", "ended"
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, NOTIFY, REFER, INFO"


@dataclass(slots=True)
class SipCall:
    """One inbound call: the dialog identifiers, the peer, and its state (early → answered → confirmed → ended)."""

    call_id: str
    peer: tuple[str, int]
    invite: SipRequest
    local_tag: str = field(default_factory=new_tag)
    state: str = EARLY
    local_cseq: int = 0
    remote_cseq: int = 0
    end_reason: str = ""

    @property
    def caller(self) -> str:
        """The caller's number or user name (the From URI's user part)."""
        return uri_user(address_uri(self.invite.header("From") or ""))

    @property
    def remote_tag(self) -> str:
        return params(self.invite.header("From") or "").get("tag", "")

    @property
    def remote_target(self) -> str:
        contact = self.invite.header("Contact")
        return address_uri(contact) if contact else address_uri(self.invite.header("From") or "")

    @property
    def local_uri_header(self) -> str:
        """Our To header as sent in responses (the INVITE's To plus our tag)."""
        to = self.invite.header("To") or ""
        return to if "tag" in params(to) else f"{to};tag={self.local_tag}"

    def response(self, request: SipRequest, status: int, reason: str, *, tagged: bool = True) -> SipResponse:
        """A response to `request` in this call, with our To tag from the first provisional response on."""
        response = make_response(request, status, reason)
        if tagged and request.method in ("INVITE", "BYE", "CANCEL", "REFER", "NOTIFY", "INFO"):
            to = request.header("To") or ""
            response.set_header("To", to if "tag" in params(to) else f"{to};tag={self.local_tag}")
        return response

    def request(self, method: str, *, via_host: str, via_port: int, transport: str = "UDP") -> SipRequest:
        """A new request inside the dialog (§12.2.1.1), addressed to the caller's contact, through its route set."""
        self.local_cseq += 1
        request = SipRequest(method=method, uri=self.remote_target)
        request.add_header("Via", f"SIP/2.0/{transport} {via_host}:{via_port};branch={new_branch()};rport")
        request.add_header("Max-Forwards", "70")
        request.add_header("From", self.local_uri_header)
        request.add_header("To", self.invite.header("From") or "")
        request.add_header("Call-ID", self.call_id)
        request.add_header("CSeq", f"{self.local_cseq} {method}")
        for route in self.invite.header_values("Record-Route"):  # the UAS keeps the Record-Route order
            request.add_header("Route", route)
        return request


def make_response(request: SipRequest, status: int, reason: str) -> SipResponse:
    """A response with the headers copied from the request as §8.2.6.2 asks."""
    response = SipResponse(status=status, reason=reason)
    for name in ("Via", "Record-Route"):
        for key, value in request.headers:
            if key == name and (name == "Via" or 200 <= status < 300 or status in (101, 180, 183)):
                response.add_header(key, value)
    for name in ("From", "To", "Call-ID", "CSeq"):
        response.add_header(name, request.header(name) or "")
    return response


class CallHandler(Protocol):
    """What the gateway does with calls; the user agent does the signalling around it."""

    async def offer(self, call: SipCall, sdp: bytes) -> bytes | None:
        """The SDP answer to a new call's offer, or None when no offered codec fits (the call gets a 488)."""
        ...

    async def confirmed(self, call: SipCall) -> None:
        """The caller acknowledged our 200 OK: media may flow."""
        ...

    async def reoffer(self, call: SipCall, sdp: bytes) -> bytes | None:
        """The SDP answer to a re-INVITE (hold, resume, new address), or None for a 488."""
        ...

    async def ended(self, call: SipCall, reason: str) -> None:
        """The call is over (BYE either way, CANCEL, no ACK, shutdown)."""
        ...

    def key_pressed(self, call: SipCall, digit: str) -> None:
        """A keypad digit signalled in SIP INFO (application/dtmf-relay) rather than in the RTP."""
        ...
