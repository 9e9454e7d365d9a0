"""Links and robots directives of an HTML page, for the crawler."""

from __future__ import annotations

import importlib.util
from urllib.parse import urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from opsdesk.knowledge.sources.urls import UrlError, normalize_url

_PARSER = "lxml" if importlib.util.find_spec("lxml") is not None else "html.parser"


def page_links(data: bytes, page_url: str, *, charset: str | None = None) -> tuple[list[str], set[str]]:
    """The page's distinct http(s) links, normalised and without fragments, and its meta robots directives."""
    soup = BeautifulSoup(data, _PARSER, from_encoding=charset)
    directives: set[str] = set()
    for meta in soup.find_all("meta"):
        if isinstance(meta, Tag) and str(meta.get("name", "")).strip().lower() == "robots":
            directives.update(part.strip().lower() for part in str(meta.get("content", "")).split(","))
    base = page_url
    base_tag = soup.find("base", href=True)
    if isinstance(base_tag, Tag):
        base = urljoin(page_url, str(base_tag["href"]).strip())
    links: list[str] = []
    known: set[str] = set()
    for anchor in soup.find_all(["a", "area"], href=True):
        if not isinstance(anchor, Tag):
            continue
        absolute = urldefrag(urljoin(base, str(anchor["href"]).strip())).url
        if urlsplit(absolute).scheme.lower() not in ("http", "https"):
            continue
        try:
            link = normalize_url(absolute)
        except UrlError:
            continue
        if link not in known:
            known.add(link)
            links.append(link)
    return links, directives
