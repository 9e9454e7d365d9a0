"""SIP transaction rules over UDP (RFC 3261 §17): absorb retransmitted requests, retransmit what must be.

- A server transaction remembers its last response, so a retransmitted request gets that response again instead of
  being handled twice (an INVITE repeated while ringing gets the 180 again, a repeated BYE its 200).
- A final response to an INVITE is resent at T1, 2·T1 … (capped at T2) until the ACK comes, and given up after
  64·T1 — a 2xx by the user agent core (§13.3.1.4), a non-2xx by the transaction (timer G), the same schedule.
- A client transaction (our BYE, REFER) resends its request on the same schedule until a final response arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opsdesk.voice.sip.message import SipRequest, SipResponse, params

T1 = 0.5
T2 = 4.0
TIMEOUT = 64 * T1
MAGIC_COOKIE = "z9hG4bK"

Send = Callable[[bytes, tuple[str, int]], None]


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


def transaction_key(request: SipRequest, method: str | None = None) -> tuple[str, ...]:
    """Which server transaction a request belongs to (§17.2.3); pass `method="INVITE"` to find the INVITE an ACK
    (to a non-2xx response) or a CANCEL refers to."""
    via = request.header_values("Via")
    top = via[0] if via else ""
    branch = params(top).get("branch", "")
    method = method or request.method
    if branch.startswith(MAGIC_COOKIE):
        return (branch, top.split(";", 1)[0].strip(), method)
    # RFC 2543 peers: no usable branch, fall back on the dialog-ish identifiers
    from_tag = params(request.header("From") or "").get("tag", "")
    number, _ = request.cseq
    return ("2543", request.call_id, from_tag, str(number), method)


@dataclass(slots=True)
class _Remembered:
    response: bytes
    address: tuple[str, int]
    expires: float


class ResponseCache:
    """The last response of each recent server transaction, for retransmitted requests (kept 32 s)."""

    def __init__(self, send: Send, *, keep: float = TIMEOUT, limit: int = 20_000) -> None:
        self._send = send
        self._keep = keep
        self._limit = limit
        self._items: dict[tuple[str, ...], _Remembered] = {}

    def remember(self, key: tuple[str, ...], response: bytes, address: tuple[str, int]) -> None:
        now = time.monotonic()
        if len(self._items) >= self._limit:
            self._items = {k: item for k, item in self._items.items() if item.expires > now}
            if len(self._items) >= self._limit:  # a flood of distinct transactions: forget the oldest half
                for stale in list(self._items)[: self._limit // 2]:
                    del self._items[stale]
        self._items[key] = _Remembered(response, address, now + self._keep)

    def replay(self, key: tuple[str, ...], address: tuple[str, int]) -> bool:
        """Resends the remembered response to a retransmitted request; False when the request is new."""
        item = self._items.get(key)
        if item is None or item.expires < time.monotonic():
            return False
        self._send(item.response, address)
        return True

    def has(self, key: tuple[str, ...]) -> bool:
        item = self._items.get(key)
        return item is not None and item.expires >= time.monotonic()


class Retransmission:
    """Sends `data` now and again at T1, 2·T1 … capped at T2 until `stop()`; calls `on_timeout` after 64·T1."""

    def __init__(
        self,
        send: Send,
        data: bytes,
        address: tuple[str, int],
        on_timeout: Callable[[], Awaitable[None]] | None,
        *,
        resend: bool = True,
    ) -> None:
        self.data = data
        self._send = send
        self._address = address
        self._on_timeout = on_timeout
        self._resend = resend  # False on a reliable transport (TCP): sent once, still timed out
        send(data, address)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        interval, waited = T1, 0.0
        while waited < TIMEOUT:
            await asyncio.sleep(interval)
            waited += interval
            if self._resend:
                self._send(self.data, self._address)
            interval = min(interval * 2, T2)
        if self._on_timeout is not None:
            await self._on_timeout()

    def stop(self) -> None:
        self._task.cancel()

    async def wait_stopped(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class ClientTransactions:
    """Our requests (BYE, REFER, NOTIFY answers aside): resend until a final response, match responses by branch."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._pending: dict[str, asyncio.Future[SipResponse]] = {}

    async def request(
        self, request: SipRequest, address: tuple[str, int], *, reliable: bool = False
    ) -> SipResponse | None:
        """Sends `request` (its top Via carries a fresh branch); the final response, or None after 64·T1."""
        branch = params(request.header_values("Via")[0]).get("branch", "")
        future: asyncio.Future[SipResponse] = asyncio.get_running_loop().create_future()
        self._pending[branch] = future
        resend = Retransmission(self._send, request.to_bytes(), address, None, resend=not reliable)
        try:
            return await asyncio.wait_for(future, TIMEOUT)
        except TimeoutError:
            return None
        finally:
            resend.stop()
            self._pending.pop(branch, None)

    def response(self, response: SipResponse) -> bool:
        """Delivers a response; False when it matches none of our requests."""
        via = response.header_values("Via")
        branch = params(via[0]).get("branch", "") if via else ""
        future = self._pending.get(branch)
        if future is None:
            return False
        if response.status >= 200 and not future.done():
            future.set_result(response)
        return True
