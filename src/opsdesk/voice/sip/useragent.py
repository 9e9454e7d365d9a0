"""The SIP user agent (answering side) over UDP: calls in, media negotiated by a `CallHandler`, BYE both ways.

Every datagram is handled inside a guard: a message we cannot parse is answered 400 when it carries what a
response needs and dropped otherwise; an error while handling one call never reaches the socket or other calls.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from opsdesk.voice import metrics
from opsdesk.voice.sip.access import AccessPolicy
from opsdesk.voice.sip.auth import DigestAuth
from opsdesk.voice.sip.config import UserAgentConfig
from opsdesk.voice.sip.dialog import ALLOW, ANSWERED, CONFIRMED, EARLY, ENDED, CallHandler, SipCall, make_response
from opsdesk.voice.sip.message import SipParseError, SipRequest, SipResponse, params, parse_message, salvage_request
from opsdesk.voice.sip.tcp import TcpTransport
from opsdesk.voice.sip.transactions import (
    ClientTransactions,
    ResponseCache,
    Retransmission,
    transaction_key,
)

log = logging.getLogger(__name__)
_REFER_WAIT = 30.0
_SHUTDOWN_GRACE = 2.0


@dataclass(slots=True)
class _Transfer:
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class SipUserAgent(asyncio.DatagramProtocol):
    def __init__(self, handler: CallHandler, config: UserAgentConfig | None = None) -> None:
        self.config = config or UserAgentConfig()
        self.policy = AccessPolicy(
            self.config.allow, per_source=self.config.calls_per_source, total=self.config.max_calls
        )
        self.calls: dict[str, SipCall] = {}
        self.port = self.config.port
        self._handler = handler
        self._transport: asyncio.DatagramTransport | None = None
        self._responses = ResponseCache(self._send)
        self._client = ClientTransactions(self._send)
        self._invites: dict[tuple[str, ...], SipCall] = {}
        self._awaiting_ack: dict[tuple[str, ...], Retransmission] = {}  # non-2xx finals, by INVITE transaction
        self._awaiting_2xx_ack: dict[tuple[str, int], Retransmission] = {}  # by (Call-ID, CSeq number)
        self._transfers: dict[str, _Transfer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._tcp: TcpTransport | None = None
        self._auth = DigestAuth(self.config.credentials, realm=self.config.realm) if self.config.credentials else None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listens on UDP and, with `tcp`, on TCP at the same port (port 0: one free for both)."""
        loop = asyncio.get_running_loop()
        for _ in range(20):
            self._transport, _ = await loop.create_datagram_endpoint(
                lambda: self, local_addr=(self.config.host, self.config.port)
            )
            self.port = self._transport.get_extra_info("sockname")[1]
            if not self.config.tcp:
                return
            self._tcp = TcpTransport(self.datagram_received, allowed=self.policy.allowed)
            try:
                await self._tcp.start(self.config.host, self.port)
                return
            except OSError:
                self._tcp = None
                self._transport.close()
                if self.config.port:  # the port asked for is taken on TCP: say so
                    raise
        raise OSError("no port free for both UDP and TCP")

    async def stop(self) -> None:
        """Ends every call (BYE to answered ones, 503 to ringing ones), then closes the socket."""
        # A peer that never answers our BYE must not hold the shutdown for 32 s; each call's teardown (its record)
        # is still awaited, however long a loaded machine takes over it.
        reason = "gateway shutting down"
        hangups = [self.hangup(call, reason, answer_within=_SHUTDOWN_GRACE) for call in self.calls.values()]
        await asyncio.gather(*hangups, return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for resend in [*self._awaiting_ack.values(), *self._awaiting_2xx_ack.values()]:
            resend.stop()
        if self._tcp is not None:
            await self._tcp.stop()
            self._tcp = None
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    # --- our side of a call ------------------------------------------------------------------------------------

    async def hangup(self, call: SipCall, reason: str, *, answer_within: float | None = None) -> None:
        """Ends a call from our side: BYE when answered, 480 while still ringing. The BYE is sent before the call's
        teardown runs (on a loaded machine that can take seconds), and its answer awaited `answer_within` seconds
        at most (by default, the transaction's own 32 s)."""
        if call.state == ENDED:
            return
        if call.state == EARLY:
            self._final(call, call.invite, 480, "Temporarily Unavailable")
            await self._finish(call, reason)
            return
        self._stop_2xx_retransmission(call)
        transport = self._over(call)
        bye = call.request("BYE", via_host=self.config.contact_host, via_port=self.port, transport=transport)
        answered = asyncio.ensure_future(self._client.request(bye, call.peer, reliable=transport == "TCP"))
        await asyncio.sleep(0)  # the BYE's first send
        try:
            await self._finish(call, reason)
        finally:
            try:
                await asyncio.wait_for(answered, answer_within)
            except TimeoutError:
                log.info("no answer to the BYE of call %s within %.0f s", call.call_id, answer_within)

    async def transfer(self, call: SipCall, target: str) -> bool:
        """Asks the caller's side to call `target` (REFER, RFC 3515); True once it reports success, then we hang up."""
        if call.state != CONFIRMED:
            return False
        refer = call.request("REFER", via_host=self.config.contact_host, via_port=self.port, transport=self._over(call))
        refer.add_header("Refer-To", f"<{target}>")
        refer.add_header("Referred-By", f"<sip:{self.config.user_agent}@{self.config.contact_host}>")
        refer.add_header("Contact", self._contact(call))
        pending = self._transfers[call.call_id] = _Transfer()
        try:
            response = await self._client.request(refer, call.peer, reliable=self._over(call) == "TCP")
            if response is None or not 200 <= response.status < 300:
                return False
            try:
                accepted = await asyncio.wait_for(asyncio.shield(pending.done), _REFER_WAIT)
            except TimeoutError:
                return False
        finally:
            self._transfers.pop(call.call_id, None)
        if accepted:
            await self.hangup(call, "transferred")
        return accepted

    # --- datagrams ---------------------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        source = (str(addr[0]), int(addr[1]))
        if not data.strip():
            return  # CRLF keep-alive (RFC 5626)
        if not self.policy.allowed(source[0]):
            metrics.SIP_REJECTED.labels("source not allowed").inc()
            return
        try:
            message = parse_message(data)
        except SipParseError as exc:
            self._malformed(data, source, exc.reason)
            return
        try:
            if isinstance(message, SipResponse):
                metrics.SIP_MESSAGES.labels(str(message.status)).inc()
                self._client.response(message)
            else:
                metrics.SIP_MESSAGES.labels(message.method).inc()
                self._request(message, source)
        except Exception:  # one bad message must not take the gateway down
            log.exception("sip message failed")
            metrics.SIP_REJECTED.labels("handler error").inc()

    def _malformed(self, data: bytes, source: tuple[str, int], reason: str) -> None:
        metrics.SIP_REJECTED.labels("malformed").inc()
        request = salvage_request(data)
        if request is None or request.method == "ACK":
            return
        self._send(make_response(request, 400, reason).to_bytes(), source)

    def _request(self, request: SipRequest, source: tuple[str, int]) -> None:
        key = transaction_key(request)
        if request.method != "ACK" and self._responses.replay(key, source):
            return  # a retransmission: it got our last response again
        handlers = {
            "INVITE": self._invite,
            "ACK": self._ack,
            "CANCEL": self._cancel,
            "BYE": self._bye,
            "OPTIONS": self._options,
            "NOTIFY": self._notify,
            "INFO": self._info,
        }
        handler = handlers.get(request.method)
        if handler is None:
            response = make_response(request, 405, "Method Not Allowed")
            response.add_header("Allow", ALLOW)
            self._respond(key, response, source)
            return
        handler(request, source, key)

    # --- methods -----------------------------------------------------------------------------------------------

    def _invite(self, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]) -> None:
        if "tag" in params(request.header("To") or ""):
            self._reinvite(request, source, key)
            return
        call = SipCall(call_id=request.call_id, peer=source, invite=request)
        call.remote_cseq = request.cseq[0]
        self._respond(key, make_response(request, 100, "Trying"), source)
        if request.call_id in self.calls:
            self._final(call, request, 482, "Loop Detected")
            return
        if self._auth is not None and self._auth.verify(request) is None:
            metrics.SIP_REJECTED.labels("unauthenticated").inc()
            challenge = call.response(request, 401, "Unauthorized")
            challenge.add_header("WWW-Authenticate", self._auth.challenge())
            self._final(call, request, 401, "Unauthorized", response=challenge)
            return
        refusal = self.policy.admit(source[0])
        if refusal is not None:
            metrics.SIP_REJECTED.labels("limit").inc()
            response = make_response(request, 503, "Service Unavailable")
            response.add_header("Retry-After", "5")
            self._final(call, request, 503, "Service Unavailable", response=response)
            return
        self.calls[call.call_id] = call
        self._invites[key] = call
        self._spawn(self._answer(call, key))

    async def _answer(self, call: SipCall, key: tuple[str, ...]) -> None:
        request = call.invite
        if "application/sdp" not in (request.header("Content-Type") or "").lower() or not request.body:
            self._final(call, request, 488, "Not Acceptable Here")  # offerless INVITE: not supported
            await self._finish(call, "no SDP offer")
            return
        try:
            answer = await self._handler.offer(call, request.body)
        except Exception:  # no RTP port left, an engine that failed to start …: refuse this call, keep the rest
            log.exception("could not take call %s", call.call_id)
            if call.state == EARLY:
                self._final(call, request, 503, "Service Unavailable")
                await self._finish(call, "gateway error")
            return
        if call.state == ENDED:
            return
        if answer is None:
            self._final(call, request, 488, "Not Acceptable Here")
            await self._finish(call, "no common codec")
            return
        self._respond(key, call.response(request, 180, "Ringing"), call.peer)
        if self.config.answer_delay > 0:
            await asyncio.sleep(self.config.answer_delay)
            if call.state == ENDED:
                return
        ok = self._ok_with_sdp(call, request, answer)
        self._responses.remember(key, ok.to_bytes(), call.peer)
        call.state = ANSWERED
        self._awaiting_2xx_ack[(call.call_id, request.cseq[0])] = Retransmission(
            self._send, ok.to_bytes(), call.peer, lambda: self._no_ack(call)
        )

    def _reinvite(self, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]) -> None:
        call = self.calls.get(request.call_id)
        if call is None or call.state == ENDED:
            self._respond(key, make_response(request, 481, "Call/Transaction Does Not Exist"), source)
            return
        if call.state != CONFIRMED or any(pending[0] == call.call_id for pending in self._awaiting_2xx_ack):
            self._respond(key, call.response(request, 491, "Request Pending"), source)
            return
        self._spawn(self._answer_reinvite(call, request, source, key))

    async def _answer_reinvite(
        self, call: SipCall, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]
    ) -> None:
        answer = await self._handler.reoffer(call, request.body) if request.body else None
        if answer is None:
            self._respond(key, call.response(request, 488, "Not Acceptable Here"), source)
            return
        ok = self._ok_with_sdp(call, request, answer)
        self._responses.remember(key, ok.to_bytes(), source)
        self._awaiting_2xx_ack[(call.call_id, request.cseq[0])] = Retransmission(
            self._send, ok.to_bytes(), source, None
        )

    def _ack(self, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]) -> None:
        non_2xx = self._awaiting_ack.pop(transaction_key(request, "INVITE"), None)
        if non_2xx is not None:
            non_2xx.stop()
            return
        resend = self._awaiting_2xx_ack.pop((request.call_id, request.cseq[0]), None)
        if resend is None:
            return
        resend.stop()
        call = self.calls.get(request.call_id)
        if call is not None and call.state == ANSWERED:
            call.state = CONFIRMED
            self._spawn(self._confirmed(call))

    async def _confirmed(self, call: SipCall) -> None:
        try:
            await self._handler.confirmed(call)
        except Exception:
            log.exception("could not start the media of call %s", call.call_id)
            await self.hangup(call, "gateway error")

    def _cancel(self, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]) -> None:
        call = self._invites.get(transaction_key(request, "INVITE"))
        if call is None:
            self._respond(key, make_response(request, 481, "Call/Transaction Does Not Exist"), source)
            return
        self._respond(key, make_response(request, 200, "OK"), source)
        if call.state == EARLY:
            self._final(call, call.invite, 487, "Request Terminated")
            self._spawn(self._finish(call, "cancelled"))

    def _bye(self, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]) -> None:
        call = self.calls.get(request.call_id)
        if call is None or call.state in (EARLY, ENDED):
            self._respond(key, make_response(request, 481, "Call/Transaction Does Not Exist"), source)
            return
        self._respond(key, call.response(request, 200, "OK"), source)
        self._stop_2xx_retransmission(call)
        self._spawn(self._finish(call, "caller hung up"))

    def _options(self, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]) -> None:
        response = make_response(request, 200, "OK")
        response.add_header("Allow", ALLOW)
        response.add_header("Accept", "application/sdp")
        response.add_header("Supported", "replaces")
        self._respond(key, response, source)

    def _notify(self, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]) -> None:
        call = self.calls.get(request.call_id)
        if call is None:
            self._respond(key, make_response(request, 481, "Call/Transaction Does Not Exist"), source)
            return
        self._respond(key, call.response(request, 200, "OK"), source)
        pending = self._transfers.get(call.call_id)
        fragment = request.body.decode("utf-8", errors="replace").strip().split(" ")
        if pending is None or len(fragment) < 2 or not fragment[1].isdigit() or pending.done.done():
            return
        status = int(fragment[1])
        if status >= 200:  # the final outcome of the transferred call
            pending.done.set_result(status < 300)

    def _info(self, request: SipRequest, source: tuple[str, int], key: tuple[str, ...]) -> None:
        call = self.calls.get(request.call_id)
        status, reason = (200, "OK") if call is not None else (481, "Call/Transaction Does Not Exist")
        self._respond(key, make_response(request, status, reason), source)
        kind = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if call is not None and call.state == CONFIRMED and kind in ("application/dtmf-relay", "application/dtmf"):
            digit = _info_digit(request.body.decode("utf-8", errors="replace"))
            if digit:
                self._handler.key_pressed(call, digit)

    # --- helpers -----------------------------------------------------------------------------------------------

    def _ok_with_sdp(self, call: SipCall, request: SipRequest, answer: bytes) -> SipResponse:
        ok = call.response(request, 200, "OK")
        ok.add_header("Contact", self._contact(call))
        ok.add_header("Allow", ALLOW)
        ok.add_header("Server", self.config.user_agent)
        ok.add_header("Content-Type", "application/sdp")
        ok.body = answer
        return ok

    def _contact(self, call: SipCall) -> str:
        """Where the caller's side sends requests in this dialog (over TCP when the call came over TCP)."""
        transport = ";transport=tcp" if self._over(call) == "TCP" else ""
        return f"<sip:opsdesk@{self.config.contact_host}:{self.port}{transport}>"

    def _final(
        self, call: SipCall, request: SipRequest, status: int, reason: str, *, response: SipResponse | None = None
    ) -> None:
        """A non-2xx final response to an INVITE: resent until the caller's ACK."""
        key = transaction_key(request, "INVITE")
        response = response or call.response(request, status, reason)
        data = response.to_bytes()
        self._responses.remember(key, data, call.peer)
        self._awaiting_ack[key] = Retransmission(self._send, data, call.peer, None, resend=self._over(call) == "UDP")
        self._spawn(self._forget_ack(key))

    async def _forget_ack(self, key: tuple[str, ...]) -> None:
        resend = self._awaiting_ack.get(key)
        if resend is not None:
            await resend.wait_stopped()
            self._awaiting_ack.pop(key, None)

    async def _no_ack(self, call: SipCall) -> None:
        self._awaiting_2xx_ack.pop((call.call_id, call.invite.cseq[0]), None)
        await self.hangup(call, "no ACK")

    def _stop_2xx_retransmission(self, call: SipCall) -> None:
        for pending in [pending for pending in self._awaiting_2xx_ack if pending[0] == call.call_id]:
            self._awaiting_2xx_ack.pop(pending).stop()

    async def _finish(self, call: SipCall, reason: str) -> None:
        if call.state == ENDED:
            return
        call.state, call.end_reason = ENDED, reason
        self.calls.pop(call.call_id, None)
        self._invites = {key: known for key, known in self._invites.items() if known is not call}
        self.policy.release(call.peer[0])
        pending = self._transfers.get(call.call_id)
        if pending is not None and not pending.done.done():
            pending.done.set_result(False)
        await self._handler.ended(call, reason)

    def _respond(self, key: tuple[str, ...], response: SipResponse, address: tuple[str, int]) -> None:
        data = response.to_bytes()
        self._responses.remember(key, data, address)
        self._send(data, address)

    def _over(self, call: SipCall) -> str:
        """The transport the call's signalling came over."""
        return "TCP" if self._tcp is not None and self._tcp.connected(call.peer) else "UDP"

    def _send(self, data: bytes, address: tuple[str, int]) -> None:
        if self._tcp is not None and self._tcp.send(data, address):
            return
        if self._transport is not None:
            self._transport.sendto(data, address)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sip call task failed", exc_info=task.exception())


def _info_digit(body: str) -> str:
    """The key in an INFO body: `Signal=5` (dtmf-relay) or just `5` (application/dtmf); empty when none."""
    for line in body.splitlines() or [""]:
        name, equals, value = line.partition("=")
        candidate = (value if equals and name.strip().lower() == "signal" else line if not equals else "").strip()
        if len(candidate) == 1 and candidate.upper() in "0123456789*#ABCD":
            return candidate.upper()
    return ""
