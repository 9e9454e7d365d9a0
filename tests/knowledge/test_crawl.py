"""The URL guard and the crawler. All traffic stays on a test server at 127.0.0.1 (hence allow_private=True)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from opsdesk.knowledge.sources.crawl import CrawledPage, CrawlSkip, crawl
from opsdesk.knowledge.sources.fetch import validate_redirect
from opsdesk.knowledge.sources.safe_http import PinnedTransport, safe_client
from opsdesk.knowledge.sources.scope import PathFilter
from opsdesk.knowledge.sources.urls import BlockedAddress, InvalidUrl, UrlError, normalize_url, validate_url
from tests.knowledge.local_site import LocalSite, Route
from tests.knowledge.sample_documents import make_pdf


def html(body: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


def links(*hrefs: str) -> str:
    return "".join(f'<a href="{href}">{href}</a> ' for href in hrefs)


# --- URL guard -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost:8080/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://172.16.0.5/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
    ],
)
def test_private_loopback_and_link_local_targets_are_blocked(url: str) -> None:
    with pytest.raises(BlockedAddress, match="Refusing to fetch"):
        validate_url(url, allow_private=False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "scheme 'file:'"),
        ("javascript:alert(1)", "scheme 'javascript:'"),
        ("ftp://example.com/", "scheme 'ftp:'"),
        ("http://", "no host"),
        ("ht!tp://x", "must start with http"),
        ("example.com/page", "must start with http"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://admin@example.com/", "credentials"),
        ("http://exa mple.com/", "spaces"),
        ("http://example.com:99999/", "malformed"),
        ("http://exa_mple..com/", "not a valid host"),
        ("", "empty"),
    ],
)
def test_malformed_and_forbidden_urls_are_invalid_with_a_clear_message(url: str, message: str) -> None:
    with pytest.raises(InvalidUrl, match=message) as caught:
        validate_url(url, allow_private=False)
    assert caught.value.status_code == 400


def test_urls_are_normalised() -> None:
    assert normalize_url("HTTP://Docs.Example.COM:80/a/b?x=1#part") == "http://docs.example.com/a/b?x=1"
    assert normalize_url("https://example.com:8443") == "https://example.com:8443/"
    assert normalize_url("https://bücher.example/") == "https://xn--bcher-kva.example/"
    assert validate_url("http://[::1]:9000/x", allow_private=True) == "http://[::1]:9000/x"


def test_allow_private_permits_private_targets() -> None:
    assert validate_url("http://127.0.0.1:8000/", allow_private=True) == "http://127.0.0.1:8000/"
    assert validate_url("http://169.254.169.254/", allow_private=True) == "http://169.254.169.254/"


def test_redirects_are_validated_like_any_other_url() -> None:
    page = "https://93.184.216.34/docs/start"
    assert validate_redirect(page, "../faq#top", allow_private=False) == "https://93.184.216.34/faq"
    with pytest.raises(BlockedAddress, match=r"169\.254\.169\.254"):
        validate_redirect(page, "http://169.254.169.254/latest/meta-data/", allow_private=False)
    with pytest.raises(BlockedAddress):
        validate_redirect(page, "http://10.0.0.1/", allow_private=False)
    with pytest.raises(InvalidUrl, match="scheme 'file:'"):
        validate_redirect(page, "file:///etc/passwd", allow_private=True)


# --- the pinned client ------------------------------------------------------------------------------------------


@pytest.fixture
def site() -> Iterator[LocalSite]:
    server = LocalSite({})
    yield server
    server.close()


async def test_safe_client_refuses_blocked_addresses_before_connecting(site: LocalSite) -> None:
    site.routes["/"] = Route(html("hello"))
    async with safe_client(allow_private=False) as client:
        with pytest.raises(BlockedAddress):
            await client.get(site.url + "/")
    assert site.requests == []


async def test_safe_client_connects_to_the_checked_address_and_keeps_the_host_name(site: LocalSite) -> None:
    site.routes["/who"] = Route(b"ok", "text/plain")
    async with safe_client(allow_private=True) as client:
        response = await client.get(f"http://localhost:{site.port}/who")
    assert response.text == "ok"
    assert site.requests == [(f"localhost:{site.port}", "/who")]


# --- the crawler ----------------------------------------------------------------------------------------------


async def collect(start: str, **options: object) -> tuple[list[CrawledPage], list[CrawlSkip]]:
    pages: list[CrawledPage] = []
    skips: list[CrawlSkip] = []
    settings: dict[str, object] = {"allow_private": True, "max_depth": 3, "max_pages": 50, "timeout_s": 5.0}
    settings.update(options)
    async for item in crawl(start, **settings):
        if isinstance(item, CrawledPage):
            pages.append(item)
        else:
            skips.append(item)
    return pages, skips


def build_site(site: LocalSite) -> None:
    base = site.url
    site.routes.update(
        {
            "/robots.txt": Route(b"User-agent: *\nDisallow: /private\n", "text/plain"),
            "/": Route(
                html(
                    links(
                        "/a",
                        "/a#section",
                        "b.txt",
                        "/private/secret",
                        f"http://localhost:{site.port}/elsewhere",
                        "http://example.invalid/page",
                        "/guide.pdf",
                        "/logo.png",
                        "mailto:team@example.com",
                        "javascript:void(0)",
                    ),
                    head="<title>Home</title>",
                )
            ),
            "/a": Route(html("<h1>A</h1>" + links("/a/deeper", base + "/"))),
            "/a/deeper": Route(html(links("/a/deeper/deepest"))),
            "/a/deeper/deepest": Route(html("<p>bottom</p>")),
            "/b.txt": Route(b"plain text page", "text/plain"),
            "/private/secret": Route(html("secret")),
            "/guide.pdf": Route(make_pdf([[("p", "A guide.")]]), "application/pdf"),
            "/logo.png": Route(b"\x89PNG\r\n\x1a\n", "image/png"),
        }
    )


async def test_crawl_follows_links_breadth_first_to_the_depth_limit(site: LocalSite) -> None:
    build_site(site)
    pages, _ = await collect(site.url + "/", max_depth=2)
    urls = [page.url.removeprefix(site.url) for page in pages]
    assert urls == ["/", "/a", "/b.txt", "/guide.pdf", "/a/deeper"]
    assert [page.depth for page in pages] == [0, 1, 1, 1, 2]
    assert "/a/deeper/deepest" not in site.paths()
    assert site.paths().count("/a") == 1  # "/a#section" is the same page
    assert pages[3].media_type == "application/pdf" and pages[3].filename == "guide.pdf"
    assert pages[0].filename == "index.html"


async def test_crawl_honours_robots_txt(site: LocalSite) -> None:
    build_site(site)
    _, skips = await collect(site.url + "/")
    assert CrawlSkip(site.url + "/private/secret", "robots.txt disallows", 1) in skips
    assert "/private/secret" not in site.paths()
    assert site.paths().count("/robots.txt") == 1


async def test_crawl_stays_on_site(site: LocalSite) -> None:
    build_site(site)
    _, skips = await collect(site.url + "/")
    off_site = {skip.url for skip in skips if skip.reason == "off-site link"}
    assert off_site == {f"http://localhost:{site.port}/elsewhere", "http://example.invalid/page"}
    assert all(host == f"127.0.0.1:{site.port}" for host, _ in site.requests)


async def test_crawl_skips_unsupported_content_with_a_reason(site: LocalSite) -> None:
    build_site(site)
    _, skips = await collect(site.url + "/")
    reasons = {skip.url.removeprefix(site.url): skip.reason for skip in skips}
    assert reasons["/logo.png"] == "content type 'image/png' is not collected"


async def test_crawl_stops_at_the_page_limit(site: LocalSite) -> None:
    build_site(site)
    pages, skips = await collect(site.url + "/", max_pages=2)
    assert len(pages) == 2
    assert any(skip.reason == "page limit of 2 reached" for skip in skips)


async def test_crawl_cuts_pages_at_the_byte_limit_and_stops_at_the_total(site: LocalSite) -> None:
    build_site(site)
    big = html("<p>" + "lorem ipsum " * 10_000 + "</p>" + links("/a"))
    site.routes["/big"] = Route(big)
    site.routes["/big.pdf"] = Route(make_pdf([[("p", "x " * 3000)]] * 3), "application/pdf")
    site.routes["/start"] = Route(html(links("/big", "/big.pdf", "/b.txt")))
    pages, skips = await collect(site.url + "/start", max_bytes_per_page=2_000)
    by_url = {page.url.removeprefix(site.url): page for page in pages}
    assert by_url["/big"].truncated and len(by_url["/big"].data) == 2_000
    assert {skip.url.removeprefix(site.url): skip.reason for skip in skips}["/big.pdf"] == (
        "larger than the 2,000-byte limit"
    )

    pages, skips = await collect(site.url + "/start", max_total_bytes=2_500)
    assert sum(len(page.data) for page in pages) <= 2_500
    assert any(skip.reason == "total byte limit of 2,500 reached" for skip in skips)


async def test_crawl_follows_redirects_on_site_and_refuses_those_leaving_it(site: LocalSite) -> None:
    site.routes.update(
        {
            "/": Route(html(links("/moved", "/away", "/loop"))),
            "/moved": Route(status=301, headers={"Location": "/new-home"}),
            "/new-home": Route(html("<p>new</p>")),
            "/away": Route(status=302, headers={"Location": f"http://localhost:{site.port}/"}),
            "/loop": Route(status=302, headers={"Location": "/loop"}),
        }
    )
    pages, skips = await collect(site.url + "/")
    assert [page.url.removeprefix(site.url) for page in pages] == ["/", "/new-home"]
    reasons = {skip.url.removeprefix(site.url): skip.reason for skip in skips}
    assert reasons["/away"] == f"redirect to http://localhost:{site.port}/ refused: it leaves the site"
    assert reasons["/loop"] == "more than 5 redirects"
    assert all(host.startswith("127.0.0.1") for host, _ in site.requests)


async def test_crawl_gives_up_on_slow_pages(site: LocalSite) -> None:
    site.routes["/"] = Route(html(links("/slow")))
    site.routes["/slow"] = Route(html("late"), delay_s=2.0)
    _, skips = await collect(site.url + "/", timeout_s=0.5)
    assert CrawlSkip(site.url + "/slow", "timed out after 0.5s", 1) in skips


async def test_crawl_respects_meta_robots_noindex(site: LocalSite) -> None:
    site.routes["/"] = Route(html(links("/hidden")))
    site.routes["/hidden"] = Route(html(links("/visible"), head='<meta name="robots" content="noindex">'))
    site.routes["/visible"] = Route(html("<p>shown</p>"))
    pages, skips = await collect(site.url + "/")
    assert [page.url.removeprefix(site.url) for page in pages] == ["/", "/visible"]
    assert any(skip.reason.endswith("(meta robots noindex)") for skip in skips)


async def test_robots_txt_server_error_keeps_the_crawler_out(site: LocalSite) -> None:
    site.routes["/robots.txt"] = Route(b"oops", "text/plain", 503)
    site.routes["/"] = Route(html("<p>home</p>"))
    pages, skips = await collect(site.url + "/")
    assert pages == []
    assert skips == [CrawlSkip(site.url + "/", "robots.txt disallows", 0)]


async def test_crawl_refuses_a_private_start_url_unless_allowed(site: LocalSite) -> None:
    site.routes["/"] = Route(html("<p>home</p>"))
    with pytest.raises(BlockedAddress):
        await collect(site.url + "/", allow_private=False)
    with pytest.raises(UrlError):
        await collect("file:///etc/passwd")
    assert site.requests == []


async def test_crawl_works_with_a_caller_supplied_client(site: LocalSite) -> None:
    build_site(site)
    async with httpx.AsyncClient(follow_redirects=False) as client:
        pages, _ = await collect(site.url + "/", max_depth=1, client=client)
    assert [page.url.removeprefix(site.url) for page in pages] == ["/", "/a", "/b.txt", "/guide.pdf"]


# --- the crawl's scope: other hosts and URL paths --------------------------------------------------------------


@pytest.fixture
def other_host() -> Iterator[LocalSite]:
    """A second site on another loopback address (127.0.0.2), as a docs site on another host would be."""
    server = LocalSite({"/": Route(html("<p>other home</p>" + links("/manual"))), "/manual": Route(html("manual"))},
                       host="127.0.0.2")  # fmt: skip
    yield server
    server.close()


def _linking_to(site: LocalSite, other: LocalSite) -> None:
    site.routes.update(
        {
            "/": Route(html(links("/help/returns", "/blog/news", other.url + "/", "/help/drafts/new"))),
            "/help/returns": Route(html("returns" + links("/help/shipping"))),
            "/help/shipping": Route(html("shipping")),
            "/help/drafts/new": Route(html("draft")),
            "/blog/news": Route(html("news")),
        }
    )


async def test_a_crawl_stays_on_its_host_unless_another_is_allowed(site: LocalSite, other_host: LocalSite) -> None:
    _linking_to(site, other_host)
    pages, skips = await collect(site.url + "/")
    assert all(page.url.startswith(site.url) for page in pages)
    assert CrawlSkip(other_host.url + "/", "off-site link", 1) in skips
    assert other_host.requests == []

    pages, _ = await collect(site.url + "/", allowed_hosts=["127.0.0.2"])
    assert {other_host.url + "/", other_host.url + "/manual"} <= {page.url for page in pages}
    assert other_host.paths() == ["/robots.txt", "/", "/manual"]  # its own robots.txt is asked first


class _StartSitePublic(httpx.AsyncBaseTransport):
    """The guard's pinned transport, told that 127.0.0.1 (the start site) is public and nothing else is."""

    def __init__(self) -> None:
        self.public = PinnedTransport(allow_private=True)
        self.checked = PinnedTransport(allow_private=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self.public if request.url.host == "127.0.0.1" else self.checked
        return await transport.handle_async_request(request)


async def test_an_allowed_host_still_goes_through_the_address_guard(site: LocalSite, other_host: LocalSite) -> None:
    site.routes["/"] = Route(html(links(other_host.url + "/")))
    async with httpx.AsyncClient(transport=_StartSitePublic(), follow_redirects=False) as client:
        pages, skips = await collect(site.url + "/", allowed_hosts=["127.0.0.2"], client=client)
    assert [page.url for page in pages] == [site.url + "/"]
    # even its robots.txt is refused by the guard, which keeps the crawler out of the host
    assert [skip for skip in skips if skip.url.startswith(other_host.url)] == [
        CrawlSkip(other_host.url + "/", "robots.txt disallows", 1)
    ]
    assert other_host.requests == []


async def test_path_patterns_narrow_the_links_a_crawl_follows(site: LocalSite, other_host: LocalSite) -> None:
    _linking_to(site, other_host)
    pages, skips = await collect(site.url + "/", paths=PathFilter(("help/**",), ("help/drafts/",)))
    assert [page.url.removeprefix(site.url) for page in pages] == ["/", "/help/returns", "/help/shipping"]
    reasons = {skip.url.removeprefix(site.url): skip.reason for skip in skips}
    assert reasons["/blog/news"] == "outside the crawl's paths"
    assert reasons["/help/drafts/new"] == "outside the crawl's paths"
    assert "/blog/news" not in site.paths() and "/help/drafts/new" not in site.paths()


async def test_a_redirect_off_the_paths_is_refused_except_from_the_start_url(site: LocalSite) -> None:
    site.routes.update(
        {
            "/": Route(status=302, headers={"Location": "/home"}),  # the start URL may land outside the paths
            "/home": Route(html(links("/help/moved"))),
            "/help/moved": Route(status=301, headers={"Location": "/blog/elsewhere"}),
            "/blog/elsewhere": Route(html("elsewhere")),
        }
    )
    pages, skips = await collect(site.url + "/", paths=PathFilter(("help/**",)))
    assert [page.url.removeprefix(site.url) for page in pages] == ["/home"]
    reasons = {skip.url.removeprefix(site.url): skip.reason for skip in skips}
    assert reasons["/help/moved"] == f"redirect to {site.url}/blog/elsewhere refused: it leaves the crawl's paths"
    assert "/blog/elsewhere" not in site.paths()
