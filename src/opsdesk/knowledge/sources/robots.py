"""robots.txt, fetched once per origin under the same safety rules as pages (RFC 9309 error handling)."""

from __future__ import annotations

from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from opsdesk.knowledge.extraction.text import decode_text
from opsdesk.knowledge.sources.fetch import Fetcher, FetchRefused

_MAX_ROBOTS_BYTES = 512 * 1024
_MAX_CRAWL_DELAY_S = 5.0


def parse_robots(text: str) -> RobotFileParser:
    """Rules from the text of a robots.txt file."""
    parser = RobotFileParser()
    parser.parse(text.splitlines())
    return parser


class RobotsCache:
    """The robots.txt rules of each origin a crawl touches, fetched on first use."""

    def __init__(self, fetcher: Fetcher, user_agent: str) -> None:
        self._fetcher = fetcher
        self._user_agent = user_agent
        self._rules: dict[str, RobotFileParser | bool] = {}

    async def allowed(self, url: str) -> bool:
        """Whether robots.txt lets our user agent fetch ``url``."""
        rules = await self._for(url)
        return rules if isinstance(rules, bool) else rules.can_fetch(self._user_agent, url)

    async def crawl_delay(self, url: str) -> float:
        """Seconds to wait between requests to the URL's origin, as robots.txt asks (capped at a few seconds)."""
        rules = await self._for(url)
        delay = None if isinstance(rules, bool) else rules.crawl_delay(self._user_agent)
        return min(float(delay), _MAX_CRAWL_DELAY_S) if delay else 0.0

    async def _for(self, url: str) -> RobotFileParser | bool:
        """The origin's parsed rules, or a blanket True/False when robots.txt is missing or unreachable."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._rules:
            self._rules[origin] = await self._load(origin)
        return self._rules[origin]

    async def _load(self, origin: str) -> RobotFileParser | bool:
        # RFC 9309: a missing file (4xx) allows everything; a server error or no answer means stay away.
        try:
            result = await self._fetcher.get(f"{origin}/robots.txt", max_bytes=_MAX_ROBOTS_BYTES)
        except FetchRefused as refused:
            status = refused.status or 0
            return 400 <= status < 500 and status != 429
        return parse_robots(decode_text(result.data))
