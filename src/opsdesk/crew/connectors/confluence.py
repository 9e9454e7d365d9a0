"""Confluence through ``atlassian-python-api``'s Confluence (REST ``/rest/api``): space lookup, pages created or
updated with their version, the page tree under a parent, and attachments.

Idempotency: a page's title is unique in its space (Confluence enforces it), so "put" first looks the title up and
updates instead of creating; an update whose body is already there writes nothing. An attachment is found by its
file name on the page; its comment holds ``sha256:<hex>`` of the content, so the same file is not uploaded twice and
a changed one becomes the attachment's next version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import requests
from atlassian import Confluence

from opsdesk.crew.connectors.base import ConnectorPolicy, VendorCredentials, VendorGuard, VendorRejected

_VENDOR = "confluence"
_MAX_TREE_PAGES = 500


@dataclass(frozen=True)
class ConfluencePage:
    id: str
    title: str
    version: int
    url: str
    created: bool = False
    changed: bool = True


@dataclass(frozen=True)
class PageNode:
    id: str
    title: str
    children: tuple[PageNode, ...] = field(default=())


@dataclass(frozen=True)
class ConfluenceAttachment:
    id: str
    name: str
    version: int
    created: bool = False
    changed: bool = True


@dataclass(frozen=True)
class ConfluenceSpace:
    key: str
    id: str
    name: str


def _describe(exc: BaseException) -> tuple[int | None, str]:
    # The SDK raises requests' HTTPError with the vendor's message, or its own ApiError with the HTTPError as reason.
    for holder in (exc, getattr(exc, "reason", None)):
        response = getattr(holder, "response", None)
        if isinstance(response, requests.Response):
            return response.status_code, str(holder)
    return None, str(exc)


class ConfluenceConnector:
    """One workspace's Confluence; async methods, SDK calls in a worker thread behind the guard."""

    def __init__(self, credentials: VendorCredentials, policy: ConnectorPolicy | None = None) -> None:
        self._credentials = credentials
        self.guard = VendorGuard(_VENDOR, policy or ConnectorPolicy(), _describe)
        self._client: Confluence | None = None

    async def space(self, key: str) -> ConfluenceSpace:
        """The space with this key."""

        def work() -> ConfluenceSpace:
            space = self._api().get_space(key)
            return ConfluenceSpace(key=str(space["key"]), id=str(space["id"]), name=str(space["name"]))

        return await self.guard.call("space", work)

    async def find_page(self, space: str, title: str) -> ConfluencePage | None:
        """The page with this title in the space, if any."""
        return await self.guard.call("find_page", lambda: self._find(space, title))

    async def put_page(self, space: str, title: str, body: str, *, parent_id: str | None = None) -> ConfluencePage:
        """Creates the page, or updates the one with this title (to the next version) when its body differs."""

        def work() -> ConfluencePage:
            existing = self._find(space, title)
            api = self._api()
            if existing is None:
                created = api.create_page(space, title, body, parent_id=parent_id, representation="storage")
                return self._page(created, created=True)
            page = api.update_page(existing.id, title, body, parent_id=parent_id, representation="storage")
            return self._page(page, changed=int(page["version"]["number"]) != existing.version)

        return await self.guard.call("put_page", work)

    async def update_page(self, page_id: str, title: str, body: str, *, base_version: int) -> ConfluencePage:
        """Writes version ``base_version + 1``; VendorConflict when someone saved a newer version meanwhile."""

        def work() -> ConfluencePage:
            data = {
                "id": page_id,
                "type": "page",
                "title": title,
                "version": {"number": base_version + 1, "minorEdit": False},
                "body": {"storage": {"value": body, "representation": "storage"}},
            }
            return self._page(_answer(self._api().put(f"rest/api/content/{page_id}", data=data), page_id))

        return await self.guard.call("update_page", work)

    async def page_tree(self, page_id: str) -> PageNode:
        """The page and every page below it (at most 500)."""

        def work() -> PageNode:
            api = self._api()
            root = api.get_page_by_id(page_id)
            budget = [_MAX_TREE_PAGES]

            def below(parent: str) -> tuple[PageNode, ...]:
                nodes = []
                for child in api.get_page_child_by_type(parent, type="page"):
                    budget[0] -= 1
                    if budget[0] < 0:
                        break
                    nodes.append(PageNode(str(child["id"]), str(child["title"]), below(str(child["id"]))))
                return tuple(nodes)

            return PageNode(str(root["id"]), str(root["title"]), below(str(root["id"])))

        return await self.guard.call("page_tree", work)

    async def ancestors(self, page_id: str) -> list[str]:
        """Titles from the space's top page down to the page's parent."""
        return await self.guard.call(
            "ancestors", lambda: [str(a["title"]) for a in self._api().get_page_ancestors(page_id)]
        )

    async def attach(
        self, page_id: str, name: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> ConfluenceAttachment:
        """Uploads ``data`` as attachment ``name`` unless the page already holds exactly this content."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()

        def work() -> ConfluenceAttachment:
            api = self._api()
            listed = api.get_attachments_from_content(page_id, filename=name, expand="version,metadata") or {}
            existing = next((a for a in listed.get("results", []) if a.get("title") == name), None)
            comment = f"Uploaded by opsdesk ({digest})"
            if existing is not None:
                if digest in str(
                    (existing.get("metadata") or {}).get("comment")
                    or (existing.get("extensions") or {}).get("comment")
                    or ""
                ):
                    return self._attachment(existing, created=False, changed=False)
                path = f"rest/api/content/{page_id}/child/attachment/{existing['id']}/data"
                headers = {"X-Atlassian-Token": "no-check", "Accept": "application/json"}
                updated = api.post(
                    path,
                    data={"comment": comment, "minorEdit": "true"},
                    headers=headers,
                    files={"file": (name, data, content_type)},
                )
                return self._attachment(_answer(updated, name), created=False)
            uploaded = api.attach_content(data, name, content_type, page_id=page_id, comment=comment)
            results = uploaded.get("results") if isinstance(uploaded, dict) else None
            if not results:
                raise VendorRejected(_VENDOR, f"Confluence did not return the attachment {name}")
            return self._attachment(results[0], created=True)

        return await self.guard.call("attach", work)

    async def aclose(self) -> None:
        """Closes the SDK's HTTP session and the worker threads; the connector is not used after."""
        self.guard.close()
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- in the worker thread --------------------------------------------------------------------------------------

    def _api(self) -> Confluence:
        if self._client is None:
            credentials = self._credentials
            token = credentials.token.get_secret_value()
            auth: dict[str, Any] = (
                {"username": credentials.username, "password": token} if credentials.username else {"token": token}
            )
            # cloud=False: the REST API /rest/api (Confluence Cloud serves it under https://<site>.atlassian.net/wiki).
            client = Confluence(  # type: ignore[no-untyped-call]
                credentials.base_url,
                timeout=self.guard.policy.timeout_s,
                cloud=False,
                backoff_and_retry=False,
                retry_with_header=False,
                **auth,
            )
            self.guard.watch.install(client.session)
            self._client = client
        return self._client

    def _find(self, space: str, title: str) -> ConfluencePage | None:
        found = self._api().get_page_by_title(space, title, expand="version")
        results = found.get("results", []) if isinstance(found, dict) else ([found] if found else [])
        match = next((page for page in results if page.get("title") == title), None)
        return None if match is None else self._page(match, changed=False)

    def _page(self, raw: dict[str, Any], *, created: bool = False, changed: bool = True) -> ConfluencePage:
        base = self._credentials.base_url.rstrip("/")
        webui = (raw.get("_links") or {}).get("webui") or f"/pages/viewpage.action?pageId={raw['id']}"
        version = int((raw.get("version") or {}).get("number") or 1)
        return ConfluencePage(
            id=str(raw["id"]),
            title=str(raw["title"]),
            version=version,
            url=base + webui,
            created=created,
            changed=changed,
        )

    def _attachment(self, raw: dict[str, Any], *, created: bool, changed: bool = True) -> ConfluenceAttachment:
        version = int((raw.get("version") or {}).get("number") or 1)
        return ConfluenceAttachment(
            id=str(raw["id"]), name=str(raw["title"]), version=version, created=created, changed=changed
        )


def _answer(raw: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if not raw:
        raise VendorRejected(_VENDOR, f"Confluence returned nothing for {what}")
    return raw
