"""A polite, bounded, SSRF-safe web crawler: breadth-first from a start URL, yielding pages and reasoned skips.

Its scope: the start URL's site (its host and subdomains) plus any ``allowed_hosts``, and, when a ``PathFilter``
is given, only links whose URL path it allows (the start URL itself is always read). Every host, allowed or not,
goes through the same SSRF guard: each request connects only to addresses the guard approved.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx

from opsdesk.knowledge.sources.fetch import Fetcher, FetchRefused, FetchResult, on_site, site_of
from opsdesk.knowledge.sources.links import page_links
from opsdesk.knowledge.sources.robots import RobotsCache
from opsdesk.knowledge.sources.safe_http import safe_client
from opsdesk.knowledge.sources.scope import PathFilter
from opsdesk.knowledge.sources.urls import validate_url_async

# Media types the crawler keeps, with the file extension the extractor expects for each.
KEPT_MEDIA_TYPES: dict[str, str] = {
    "text/html": "html",
    "application/xhtml+xml": "html",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/x-markdown": "md",
    "application/pdf": "pdf",
}


@dataclass(frozen=True, slots=True)
class CrawledPage:
    """A fetched page; ``url`` is where it was found after redirects, ``truncated`` if cut at the byte limit."""

    url: str
    depth: int
    status: int
    content_type: str
    data: bytes
    truncated: bool = False

    @property
    def media_type(self) -> str:
        return self.content_type.split(";", 1)[0].strip().lower()

    @property
    def filename(self) -> str:
        """A file name for the extractor whose extension matches the page's media type."""
        extension = KEPT_MEDIA_TYPES.get(self.media_type, "txt")
        name = PurePosixPath(unquote(urlsplit(self.url).path)).name or "index"
        stem = PurePosixPath(name).stem if PurePosixPath(name).suffix else name
        return f"{stem or 'index'}.{extension}"


@dataclass(frozen=True, slots=True)
class CrawlSkip:
    """A URL the crawl did not keep, and why."""

    url: str
    reason: str
    depth: int


async def crawl(
    start_url: str,
    *,
    max_depth: int = 2,
    max_pages: int = 100,
    max_bytes_per_page: int = 5 * 1024 * 1024,
    max_total_bytes: int = 100 * 1024 * 1024,
    timeout_s: float = 15.0,
    same_site: bool = True,
    allow_private: bool = False,
    user_agent: str = "opsdesk-crawler/0.1",
    client: httpx.AsyncClient | None = None,
    allowed_hosts: Sequence[str] = (),
    paths: PathFilter = PathFilter(),
) -> AsyncIterator[CrawledPage | CrawlSkip]:
    """Crawl breadth-first from ``start_url``; raises UrlError when the start URL itself is refused.

    With ``same_site`` the crawl stays on the start URL's site and the sites of ``allowed_hosts`` (bare host names,
    as ``site_of_host`` gives them); ``paths`` narrows the links it follows by their URL path.

    Without ``client`` the crawl uses ``safe_client`` (addresses pinned at connect time). A caller-supplied
    client must not follow redirects; URLs are still validated before each request, but rebinding protection
    then depends on that client's transport.
    """
    start = await validate_url_async(start_url, allow_private=allow_private)
    http = client or safe_client(allow_private=allow_private, timeout_s=timeout_s, user_agent=user_agent)
    fetcher = Fetcher(http, allow_private=allow_private, timeout_s=timeout_s, user_agent=user_agent)
    run = _Crawl(
        fetcher,
        RobotsCache(fetcher, user_agent),
        sites=(site_of(start), *allowed_hosts) if same_site else None,
        paths=paths,
        max_depth=max_depth,
        max_pages=max_pages,
        max_bytes_per_page=max_bytes_per_page,
        max_total_bytes=max_total_bytes,
    )
    try:
        async for item in run.run(start):
            yield item
    finally:
        if client is None:
            await http.aclose()


class _Crawl:
    def __init__(
        self,
        fetcher: Fetcher,
        robots: RobotsCache,
        *,
        sites: tuple[str, ...] | None,
        paths: PathFilter,
        max_depth: int,
        max_pages: int,
        max_bytes_per_page: int,
        max_total_bytes: int,
    ) -> None:
        self.fetcher = fetcher
        self.robots = robots
        self.sites = sites
        self.paths = paths
        self.max_depth = max_depth
        self.max_pages = max_pages
        self.max_bytes_per_page = max_bytes_per_page
        self.max_total_bytes = max_total_bytes
        self.pages = 0
        self.total_bytes = 0
        self.fetched: set[str] = set()
        self.last_request: dict[str, float] = {}

    async def run(self, start: str) -> AsyncIterator[CrawledPage | CrawlSkip]:
        queue: deque[tuple[str, int]] = deque([(start, 0)])
        seen = {start}
        while queue:
            url, depth = queue.popleft()
            item, links = await self._visit(url, depth)
            if isinstance(item, CrawledPage):
                self.pages += 1
            yield item
            for link in links:
                if link in seen:
                    continue
                seen.add(link)
                if not self._on_sites(link):
                    yield CrawlSkip(link, "off-site link", depth + 1)
                elif not self._on_paths(link):
                    yield CrawlSkip(link, "outside the crawl's paths", depth + 1)
                else:
                    queue.append((link, depth + 1))

    def _on_sites(self, url: str) -> bool:
        return self.sites is None or any(on_site(url, site) for site in self.sites)

    def _on_paths(self, url: str) -> bool:
        return self.paths.allows(unquote(urlsplit(url).path))

    async def _visit(self, url: str, depth: int) -> tuple[CrawledPage | CrawlSkip, list[str]]:
        """Fetch one URL: the page (or why not) and the links to follow from it."""
        reason = await self._precheck(url)
        if reason is not None:
            return CrawlSkip(url, reason, depth), []
        limit = min(self.max_bytes_per_page, self.max_total_bytes - self.total_bytes)
        await self._pause_for(url)
        try:
            hops = partial(self._hop_check, check_paths=depth > 0)  # the start URL may redirect off the paths
            result = await self.fetcher.get(url, max_bytes=limit, accept=_kept, hop_check=hops)
        except FetchRefused as refused:
            return CrawlSkip(url, refused.reason, depth), []
        if result.url in self.fetched:
            return CrawlSkip(url, f"redirects to {result.url}, already crawled", depth), []
        self.fetched.update((url, result.url))
        self.total_bytes += len(result.data)
        media = result.content_type.split(";", 1)[0].strip().lower()
        if result.truncated and (KEPT_MEDIA_TYPES[media] == "pdf" or not result.data):
            return CrawlSkip(url, f"larger than the {limit:,}-byte limit", depth), []
        return self._page(result, depth, media)

    async def _precheck(self, url: str) -> str | None:
        if self.pages >= self.max_pages:
            return f"page limit of {self.max_pages} reached"
        if self.total_bytes >= self.max_total_bytes:
            return f"total byte limit of {self.max_total_bytes:,} reached"
        if url in self.fetched:
            return "already crawled"
        if not await self.robots.allowed(url):
            return "robots.txt disallows"
        return None

    def _page(self, result: FetchResult, depth: int, media: str) -> tuple[CrawledPage | CrawlSkip, list[str]]:
        page = CrawledPage(result.url, depth, result.status, result.content_type, result.data, result.truncated)
        if KEPT_MEDIA_TYPES[media] != "html":
            return page, []
        charset = _charset(result.content_type)
        links, directives = page_links(result.data, result.url, charset=charset)
        if "nofollow" in directives or "none" in directives or depth >= self.max_depth:
            links = []
        if "noindex" in directives or "none" in directives:
            return CrawlSkip(result.url, "the page asks not to be indexed (meta robots noindex)", depth), links
        return page, links

    async def _hop_check(self, target: str, *, check_paths: bool) -> str | None:
        if not self._on_sites(target):
            return "it leaves the site"
        if check_paths and not self._on_paths(target):
            return "it leaves the crawl's paths"
        if target in self.fetched:
            return "already crawled"
        if not await self.robots.allowed(target):
            return "robots.txt disallows"
        return None

    async def _pause_for(self, url: str) -> None:
        """Wait out the origin's robots.txt Crawl-delay since our last request to it."""
        delay = await self.robots.crawl_delay(url)
        origin = urlsplit(url).netloc
        if delay and origin in self.last_request:
            wait = self.last_request[origin] + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self.last_request[origin] = time.monotonic()


def _kept(media: str) -> bool:
    return media in KEPT_MEDIA_TYPES


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None
