"""One guarded GET: every redirect hop validated, a content-type gate before the body, a byte cap and a deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from opsdesk.knowledge.sources.urls import InvalidUrl, UrlError, normalize_url, validate_url

_REDIRECTS = frozenset({301, 302, 303, 307, 308})

# Called for each redirect target; returns a refusal reason or None to follow it.
HopCheck = Callable[[str], Awaitable[str | None]]


class FetchRefused(Exception):
    """A URL was not fetched, or its response not kept; ``reason`` says why in words."""

    def __init__(self, url: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: int
    content_type: str
    data: bytes
    truncated: bool


def validate_redirect(current_url: str, location: str, *, allow_private: bool) -> str:
    """The absolute, normalised target of a redirect, refused (UrlError) like any other URL would be."""
    target = urljoin(current_url, location.strip())
    return validate_url(target.split("#", 1)[0], allow_private=allow_private)


class Fetcher:
    """GETs URLs through ``client`` under the crawl's safety rules (the client should not follow redirects)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        allow_private: bool,
        timeout_s: float,
        user_agent: str,
        max_redirects: int = 5,
    ) -> None:
        self.client = client
        self.allow_private = allow_private
        self.timeout_s = timeout_s
        self.user_agent = user_agent
        self.max_redirects = max_redirects

    async def get(
        self,
        url: str,
        *,
        max_bytes: int,
        accept: Callable[[str], bool] = lambda _media: True,
        hop_check: HopCheck | None = None,
    ) -> FetchResult:
        """Fetch ``url``; raises FetchRefused with the reason for anything not kept."""
        current = url
        for _ in range(self.max_redirects + 1):
            try:
                async with asyncio.timeout(self.timeout_s):
                    outcome = await self._hop(current, max_bytes=max_bytes, accept=accept)
            except TimeoutError as exc:
                raise FetchRefused(current, f"timed out after {self.timeout_s:g}s") from exc
            except UrlError as exc:
                raise FetchRefused(current, exc.message) from exc
            except httpx.HTTPError as exc:
                raise FetchRefused(current, f"fetch failed: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
            if isinstance(outcome, FetchResult):
                return outcome
            try:
                target = await asyncio.to_thread(validate_redirect, current, outcome, allow_private=self.allow_private)
            except UrlError as exc:
                raise FetchRefused(current, f"redirect refused: {exc.message}") from exc
            if hop_check is not None:
                reason = await hop_check(target)
                if reason is not None:
                    raise FetchRefused(current, f"redirect to {target} refused: {reason}")
            current = target
        raise FetchRefused(url, f"more than {self.max_redirects} redirects")

    async def _hop(self, url: str, *, max_bytes: int, accept: Callable[[str], bool]) -> str | FetchResult:
        """One request: the redirect location, or the kept response."""
        headers = {"User-Agent": self.user_agent, "Accept": "text/html, text/markdown, text/plain, application/pdf"}
        request = self.client.build_request("GET", url, headers=headers, timeout=self.timeout_s)
        response = await self.client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code in _REDIRECTS and response.headers.get("location"):
                return response.headers["location"]
            content_type = response.headers.get("content-type", "")
            media = content_type.split(";", 1)[0].strip().lower()
            if response.status_code != 200:
                raise FetchRefused(url, f"HTTP {response.status_code}", status=response.status_code)
            if not accept(media):
                raise FetchRefused(url, f"content type '{media or 'unknown'}' is not collected")
            data, truncated = await _read_capped(response, max_bytes)
            return FetchResult(url, response.status_code, content_type, data, truncated)
        finally:
            await response.aclose()


async def _read_capped(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """Stream the (decoded) body and stop at ``max_bytes``; compressed bombs stop there too."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes * 64:
        return b"", True  # far too large to be worth even a truncated read
    buffer = bytearray()
    async for piece in response.aiter_bytes():
        room = max_bytes - len(buffer)
        if len(piece) >= room:
            buffer.extend(piece[:room])
            return bytes(buffer), len(piece) > room or await _has_more(response)
        buffer.extend(piece)
    return bytes(buffer), False


async def _has_more(response: httpx.Response) -> bool:
    async for piece in response.aiter_bytes():
        if piece:
            return True
    return False


def on_site(url: str, site: str) -> bool:
    """True when the URL's host is ``site`` or one of its subdomains (``site`` is a host without ``www.``)."""
    host = (urlsplit(url).hostname or "").lower()
    return host == site or host.endswith("." + site) or host == "www." + site


def site_of(url: str) -> str:
    """The site a crawl stays on: the start URL's host without a leading ``www.``."""
    host = urlsplit(normalize_url(url)).hostname or ""
    return host.removeprefix("www.")


def site_of_host(value: str) -> str:
    """A bare host name (``docs.example.com``) as the site a crawl may also visit, like ``site_of`` gives it;
    InvalidUrl when it is not a bare host (a scheme, a port, a path, credentials)."""
    text = value.strip()
    if not text:
        raise InvalidUrl("A host name cannot be empty.")
    parts = urlsplit(normalize_url(f"http://{text}/"))
    if parts.port is not None or parts.path != "/" or parts.query or "/" in text:
        raise InvalidUrl(f"'{text[:100]}' is not a host name; give it without scheme, port or path (docs.example.com).")
    return (parts.hostname or "").removeprefix("www.")
