"""An httpx transport that pins each connection to an address the SSRF guard has just approved.

Checking a URL and then letting the HTTP library resolve its host again leaves a gap: a hostile DNS server can
answer with a public address for the check and ``127.0.0.1`` for the connection (DNS rebinding). The transport
closes the gap by doing the resolution itself, refusing the request when any address is blocked, and sending the
request to the approved IP while keeping the original ``Host`` header and, for HTTPS, the original name for SNI
and certificate verification (httpcore's ``sni_hostname`` extension). Each host name gets its own connection pool
so a TLS connection verified for one name is never reused for another that shares the address. Redirects are
not followed here; the caller sees every hop, and every hop goes through this transport again.
"""

from __future__ import annotations

import asyncio

import httpx

from opsdesk.knowledge.sources.urls import InvalidUrl, resolve_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


class PinnedTransport(httpx.AsyncBaseTransport):
    """Resolve, check and pin every request; ``allow_private`` lifts the address check but keeps the pinning."""

    def __init__(self, *, allow_private: bool, verify: bool = True) -> None:
        self._allow_private = allow_private
        self._verify = verify
        self._pools: dict[tuple[str, str, int], httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _DEFAULT_PORTS:
            raise InvalidUrl(f"The URL scheme '{url.scheme}:' is not allowed; use http:// or https://.")
        host = url.raw_host.decode("ascii")
        port = url.port or _DEFAULT_PORTS[url.scheme]
        addresses = await asyncio.to_thread(resolve_host, host, port, allow_private=self._allow_private)
        pool = self._pool(url.scheme, host, port)
        error: httpx.ConnectError | None = None
        for address in addresses:
            extensions = dict(request.extensions)
            if url.scheme == "https":
                extensions["sni_hostname"] = host
            pinned = httpx.Request(
                request.method,
                url.copy_with(host=str(address)),
                headers=request.headers,
                stream=request.stream,
                extensions=extensions,
            )
            try:
                return await pool.handle_async_request(pinned)
            except httpx.ConnectError as exc:  # try the next approved address, as a resolver would
                error = exc
        raise error or httpx.ConnectError(f"No address to connect to for {host}.", request=request)

    def _pool(self, scheme: str, host: str, port: int) -> httpx.AsyncHTTPTransport:
        key = (scheme, host, port)
        if key not in self._pools:
            self._pools[key] = httpx.AsyncHTTPTransport(verify=self._verify, retries=0, trust_env=False)
        return self._pools[key]

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()


def safe_client(*, allow_private: bool, timeout_s: float = 10.0, user_agent: str = "opsdesk/0.1") -> httpx.AsyncClient:
    """An AsyncClient for fetching user-supplied URLs: pinned, checked, no redirects, no proxies from the env."""
    return httpx.AsyncClient(
        transport=PinnedTransport(allow_private=allow_private),
        timeout=timeout_s,
        headers={"User-Agent": user_agent},
        follow_redirects=False,
        trust_env=False,
    )
