"""How the SIP user agent listens and whom it lets call."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class UserAgentConfig:
    host: str = "127.0.0.1"
    port: int = 5060
    advertised_host: str = ""  # what goes into Contact, Via and SDP (defaults to host)
    answer_delay: float = 0.0  # seconds of ringing before the 200 OK
    user_agent: str = "opsdesk-voice"
    allow: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    calls_per_source: int = 20
    max_calls: int = 50
    tcp: bool = True  # also listen on TCP, same port
    credentials: dict[str, str] = field(default_factory=dict)  # user -> password: INVITEs need digest auth
    realm: str = "opsdesk"

    @property
    def contact_host(self) -> str:
        return self.advertised_host or self.host
