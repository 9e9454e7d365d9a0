"""Who may call: a source allowlist (networks) and a limit of concurrent calls per source address and overall."""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AccessPolicy:
    def __init__(self, allow: Iterable[str] = ("127.0.0.0/8", "::1/128"), *, per_source: int = 20, total: int = 50):
        self.networks: list[Network] = [ipaddress.ip_network(network, strict=False) for network in allow]
        self.per_source = per_source
        self.total = total
        self._calls: Counter[str] = Counter()

    def allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def admit(self, host: str) -> str | None:
        """Counts a new call from `host`; the refusal reason when a limit is reached (then nothing is counted)."""
        if sum(self._calls.values()) >= self.total:
            return "gateway full"
        if self._calls[host] >= self.per_source:
            return "too many calls from this source"
        self._calls[host] += 1
        return None

    def release(self, host: str) -> None:
        self._calls[host] -= 1
        if self._calls[host] <= 0:
            del self._calls[host]

    def active(self, host: str | None = None) -> int:
        return sum(self._calls.values()) if host is None else self._calls[host]
