"""URL validation and the SSRF guard: only http(s), no credentials, and no private addresses unless allowed.

``normalize_url`` checks the syntax only. ``validate_url`` also resolves the host (every A/AAAA record) and
refuses loopback, private, link-local (cloud metadata at 169.254.169.254 included), multicast, unspecified and
reserved addresses unless ``allow_private`` is set. A check before connecting is not enough on its own: DNS can
answer differently a moment later (rebinding), so fetches go through ``safe_http.PinnedTransport``, which
connects to the very addresses this module validated.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit, urlunsplit

from opsdesk.core.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class UrlError(InvalidInput):
    """Base of URL refusals."""

    error_type = "invalid_url"


class InvalidUrl(UrlError):
    """The URL is malformed or uses something we never fetch (another scheme, embedded credentials)."""


class BlockedAddress(UrlError):
    """The host resolves to an address that must not be reached from the server (SSRF protection)."""

    error_type = "blocked_address"


def normalize_url(url: str) -> str:
    """Check a URL's syntax and return it normalised (lower-case scheme and host, no fragment, no default port)."""
    return urlunsplit(_parse(url))


def site_host(url: str) -> str:
    """The host name of a normalised URL (without brackets for IPv6)."""
    return _parse(url).hostname or ""


def validate_url(url: str, *, allow_private: bool) -> str:
    """Normalise ``url`` and, unless ``allow_private``, refuse it when any address of its host is not public."""
    parts = _parse(url)
    host = parts.hostname or ""
    resolve_host(host, parts.port or _SCHEMES[parts.scheme], allow_private=allow_private)
    return urlunsplit(parts)


async def validate_url_async(url: str, *, allow_private: bool) -> str:
    """``validate_url`` with the DNS lookup run in a worker thread."""
    return await asyncio.to_thread(validate_url, url, allow_private=allow_private)


def resolve_host(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """Every address ``host`` resolves to, refusing the lot when one of them is blocked (unless allowed)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise InvalidUrl(f"The host '{host}' cannot be resolved.") from exc
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise InvalidUrl(f"The host '{host}' has no addresses.")
    if not allow_private:
        for address in addresses:
            reason = blocked_reason(address)
            if reason is not None:
                shown = host if str(address) == host else f"{host} ({address})"
                raise BlockedAddress(f"Refusing to fetch {shown}: it is a {reason} address.")
    return addresses


def blocked_reason(address: IPAddress) -> str | None:
    """Why an address must not be reached from the server, or None when it is public."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return blocked_reason(embedded)
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (address.is_unspecified, "unspecified"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (address in _SHARED if address.version == 4 else False, "shared (carrier-grade NAT)"),
        (not address.is_global, "non-public"),
    )
    return next((label for failed, label in checks if failed), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, NAT64, 6to4 or Teredo IPv6 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def _parse(url: str) -> SplitResult:
    if not isinstance(url, str) or not url.strip():
        raise InvalidUrl("The URL is empty.")
    url = url.strip()
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise InvalidUrl("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidUrl(f"The URL is malformed: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        if not scheme:
            raise InvalidUrl("The URL must start with http:// or https://.")
        raise InvalidUrl(f"The URL scheme '{scheme}:' is not allowed; use http:// or https://.")
    if "@" in parts.netloc:
        raise InvalidUrl("URLs with credentials (user:password@host) are not accepted.")
    try:
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidUrl(f"The URL is malformed: {exc}.") from exc
    if not hostname:
        raise InvalidUrl("The URL has no host.")
    host = _normalize_host(hostname)
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _SCHEMES[scheme]:
        netloc = f"{netloc}:{port}"
    return SplitResult(scheme, netloc, parts.path or "/", parts.query, "")


def _normalize_host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or any(char in host for char in "/\\?#[]%"):
        raise InvalidUrl(f"The host '{hostname}' is not a valid host name.")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidUrl(f"The host '{hostname}' is not a valid host name.") from exc
    labels = ascii_host.split(".")
    if any(not label or len(label) > 63 for label in labels) or len(ascii_host) > 253:
        raise InvalidUrl(f"The host '{hostname}' is not a valid host name.")
    if not all(char.isalnum() or char in "-_" for label in labels for char in label):
        raise InvalidUrl(f"The host '{hostname}' is not a valid host name.")
    return ascii_host
