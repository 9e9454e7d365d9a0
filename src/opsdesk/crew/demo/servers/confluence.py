"""A local Confluence that speaks the REST API (``/rest/api``) that ``atlassian-python-api``'s Confluence uses.

Served: ``space`` (list, by key), ``content`` (find by space and title, create, get, update with a version check:
the new version must be the current one plus one, else 409), ``content/{id}/history``, ``content/{id}/child/page``
(the page tree), ``content/{id}/child/attachment`` (list, upload) and ``…/{attachmentId}/data`` (new version of an
attachment), and ``/download/attachments/{pageId}/{name}``. Titles are unique per space, as in Confluence.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsdesk.crew.demo.servers.base import ASGIApp, VendorServer

API = "/rest/api"
_MAX_TITLE = 255


class ConfluenceServer(VendorServer):
    """Spaces, pages and attachments in memory; ``contents`` is keyed by content id."""

    name = "confluence"

    def __init__(
        self,
        *,
        username: str = "opsdesk",
        token: str = "local-token",
        spaces: tuple[str, ...] = ("DEMO",),
        state_file: Path | None = None,
    ) -> None:
        super().__init__(username=username, token=token, state_file=state_file)
        self.spaces = {
            key: {"id": 98000 + n, "key": key, "name": f"{key.title()} space", "type": "global"}
            for n, key in enumerate(spaces)
        }
        self.contents: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}  # attachment id -> its latest data

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        return {
            "statusCode": status,
            "data": {"authorized": status != 401, "valid": True, "errors": [], "successful": False},
            "message": message,
            "reason": reason,
        }

    def state(self) -> dict[str, Any]:
        files = {key: base64.b64encode(data).decode() for key, data in self.files.items()}
        return {"spaces": self.spaces, "contents": self.contents, "files": files}

    def restore(self, state: dict[str, Any]) -> None:
        self.spaces = state["spaces"]
        self.contents = state["contents"]
        self.files = {key: base64.b64decode(data) for key, data in state["files"].items()}

    def app(self) -> ASGIApp:
        return Starlette(
            routes=[
                Route(f"{API}/space", self._space_list),
                Route(f"{API}/space/{{key}}", self._space),
                Route(f"{API}/content", self._content_collection, methods=["GET", "POST"]),
                Route(f"{API}/content/{{id}}", self._content, methods=["GET", "PUT"]),
                Route(f"{API}/content/{{id}}/history", self._history),
                Route(f"{API}/content/{{id}}/child/page", self._children),
                Route(f"{API}/content/{{id}}/child/attachment", self._attachments, methods=["GET", "POST"]),
                Route(
                    f"{API}/content/{{id}}/child/attachment/{{attachment}}/data",
                    self._attachment_data,
                    methods=["POST"],
                ),
                Route("/download/attachments/{id}/{name}", self._download),
            ]
        )

    def page(self, space: str, title: str) -> dict[str, Any] | None:
        """The current page with this title in the space, if any."""
        return next(
            (c for c in self.contents.values() if c["type"] == "page" and c["space"] == space and c["title"] == title),
            None,
        )

    # -- spaces ----------------------------------------------------------------------------------------------------

    async def _space_list(self, request: Request) -> Response:
        results = [self._space_json(request, space) for space in self.spaces.values()]
        return JSONResponse({"results": results, "start": 0, "limit": 25, "size": len(results), "_links": {}})

    async def _space(self, request: Request) -> Response:
        space = self.spaces.get(request.path_params["key"])
        if space is None:
            return self._error(404, f"No space with key : {request.path_params['key']}")
        return JSONResponse(self._space_json(request, space))

    # -- content ---------------------------------------------------------------------------------------------------

    async def _content_collection(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._create(request)
        query = request.query_params
        kind = query.get("type", "page")
        found = [
            c
            for c in self.contents.values()
            if c["type"] == kind
            and (not query.get("spaceKey") or c["space"] == query["spaceKey"])
            and (not query.get("title") or c["title"] == query["title"])
        ]
        return self._page_of(request, found)

    async def _create(self, request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict):
            return self._error(400, "A JSON object is required.")
        kind = body.get("type", "page")
        space_key = str((body.get("space") or {}).get("key", ""))
        title = body.get("title")
        if kind != "page":
            return self._error(400, f"Only pages can be created here, not '{kind}'.")
        if space_key not in self.spaces:
            return self._error(404, f"No space with key : {space_key}")
        if not isinstance(title, str) or not title.strip() or len(title) > _MAX_TITLE:
            return self._error(400, "A page must have a title of 1 to 255 characters.")
        storage = _storage(body)
        if storage is None:
            return self._error(400, "The body must be given in the storage representation.")
        with self.lock:
            parent, problem = self._parent(body, space_key)
            if problem:
                return self._error(400 if "exist" not in problem else 404, problem)
            if self.page(space_key, title) is not None:
                return self._error(
                    400,
                    "A page with this title already exists: "
                    f"A page already exists with the title {title} in the space with key {space_key}",
                )
            content_id = str(self.next_number("id", 65537))
            self.contents[content_id] = {
                "id": content_id,
                "type": "page",
                "title": title,
                "space": space_key,
                "body": storage,
                "parent": parent,
                "versions": [_version(self.username, (body.get("version") or {}).get("message", ""), False)],
            }
            return JSONResponse(self._content_json(request, self.contents[content_id]))

    async def _content(self, request: Request) -> Response:
        content = self.contents.get(request.path_params["id"])
        if content is None:
            return self._error(404, f"No content found with id: ContentId{{id={request.path_params['id']}}}")
        if request.method == "GET":
            return JSONResponse(self._content_json(request, content))
        if content["type"] == "attachment":  # the SDK's way to send an attachment's new version
            return await self._new_attachment_version(request, content)
        body = await _json(request)
        if not isinstance(body, dict):
            return self._error(400, "A JSON object is required.")
        with self.lock:
            current = len(content["versions"])
            wanted = (body.get("version") or {}).get("number")
            if not isinstance(wanted, int) or wanted != current + 1:
                return self._error(409, f"Version must be incremented on update. Current version is: {current}")
            title = body.get("title", content["title"])
            if not isinstance(title, str) or not title.strip() or len(title) > _MAX_TITLE:
                return self._error(400, "A page must have a title of 1 to 255 characters.")
            clash = self.page(content["space"], title)
            if clash is not None and clash["id"] != content["id"]:
                return self._error(400, f"A page with this title already exists: {title}")
            if body.get("ancestors"):
                parent, problem = self._parent(body, content["space"])
                if problem or parent == content["id"]:
                    return self._error(400, problem or "A page cannot be its own parent.")
                content["parent"] = parent
            if body.get("body"):
                storage = _storage(body)
                if storage is None:
                    return self._error(400, "The body must be given in the storage representation.")
                content["body"] = storage
            content["title"] = title
            version = body.get("version") or {}
            content["versions"].append(
                _version(self.username, version.get("message", ""), bool(version.get("minorEdit")))
            )
            return JSONResponse(self._content_json(request, content))

    async def _history(self, request: Request) -> Response:
        content = self.contents.get(request.path_params["id"])
        if content is None:
            return self._error(404, "No content found")
        first, last = content["versions"][0], content["versions"][-1]
        return JSONResponse(
            {
                "latest": True,
                "createdBy": first["by"],
                "createdDate": first["when"],
                "lastUpdated": {**last, "number": len(content["versions"])},
            }
        )

    async def _children(self, request: Request) -> Response:
        parent = request.path_params["id"]
        if parent not in self.contents:
            return self._error(404, "No content found")
        children = [c for c in self.contents.values() if c["type"] == "page" and c["parent"] == parent]
        return self._page_of(request, children)

    # -- attachments -----------------------------------------------------------------------------------------------

    async def _attachments(self, request: Request) -> Response:
        page = self.contents.get(request.path_params["id"])
        if page is None or page["type"] != "page":
            return self._error(404, "No content found")
        if request.method == "GET":
            name = request.query_params.get("filename")
            found = [
                c
                for c in self.contents.values()
                if c["type"] == "attachment" and c["parent"] == page["id"] and (name is None or c["title"] == name)
            ]
            return self._page_of(request, found)
        if request.headers.get("x-atlassian-token") != "no-check":
            return self._error(403, "XSRF check failed")
        upload, form = await _upload(request)
        if upload is None:
            return self._error(400, "A multipart 'file' part is required.")
        name = upload.filename or "file"
        data = await upload.read()
        with self.lock:
            if any(
                c["type"] == "attachment" and c["parent"] == page["id"] and c["title"] == name
                for c in self.contents.values()
            ):
                return self._error(
                    400, f"Cannot add a new attachment with same file name as an existing attachment: {name}"
                )
            attachment_id = f"att{self.next_number('id', 65537)}"
            self.contents[attachment_id] = {
                "id": attachment_id,
                "type": "attachment",
                "title": name,
                "space": page["space"],
                "parent": page["id"],
                "media_type": upload.content_type or "application/octet-stream",
                "size": len(data),
                "comment": str(form.get("comment") or ""),
                "versions": [_version(self.username, str(form.get("comment") or ""), True)],
            }
            self.files[attachment_id] = data
            attachment = self._content_json(request, self.contents[attachment_id])
        return JSONResponse({"results": [attachment], "start": 0, "limit": 1, "size": 1, "_links": {}})

    async def _attachment_data(self, request: Request) -> Response:
        attachment = self.contents.get(request.path_params["attachment"])
        if (
            attachment is None
            or attachment["type"] != "attachment"
            or attachment["parent"] != request.path_params["id"]
        ):
            return self._error(404, "No attachment found")
        if request.headers.get("x-atlassian-token") != "no-check":
            return self._error(403, "XSRF check failed")
        return await self._new_attachment_version(request, attachment)

    async def _new_attachment_version(self, request: Request, attachment: dict[str, Any]) -> Response:
        upload, form = await _upload(request)
        if upload is None:
            return self._error(400, "A multipart 'file' part is required.")
        data = await upload.read()
        with self.lock:
            self.files[attachment["id"]] = data
            attachment["size"] = len(data)
            attachment["comment"] = str(form.get("comment") or attachment["comment"])
            attachment["versions"].append(_version(self.username, attachment["comment"], True))
            return JSONResponse(self._content_json(request, attachment))

    async def _download(self, request: Request) -> Response:
        found = next(
            (
                c
                for c in self.contents.values()
                if c["type"] == "attachment"
                and c["parent"] == request.path_params["id"]
                and c["title"] == request.path_params["name"]
            ),
            None,
        )
        if found is None:
            return self._error(404, "No attachment found")
        return Response(self.files[found["id"]], media_type=found["media_type"])

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _parent(self, body: dict[str, Any], space_key: str) -> tuple[str | None, str | None]:
        ancestors = body.get("ancestors") or []
        if not ancestors:
            return None, None
        parent_id = str((ancestors[-1] or {}).get("id", ""))
        parent = self.contents.get(parent_id)
        if parent is None or parent["type"] != "page":
            return None, f"The parent page {parent_id} does not exist."
        if parent["space"] != space_key:
            return None, "The parent page is in another space."
        return parent_id, None

    def _ancestors(self, content: dict[str, Any]) -> list[dict[str, Any]]:
        chain: list[dict[str, Any]] = []
        parent = content["parent"]
        while parent is not None and len(chain) < 100:
            page = self.contents[parent]
            chain.insert(0, {"id": page["id"], "type": page["type"], "title": page["title"]})
            parent = page["parent"]
        return chain

    def _content_json(self, request: Request, content: dict[str, Any]) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        latest = content["versions"][-1]
        result: dict[str, Any] = {
            "id": content["id"],
            "type": content["type"],
            "status": "current",
            "title": content["title"],
            "space": self._space_json(request, self.spaces[content["space"]]),
            "history": {
                "latest": True,
                "createdBy": content["versions"][0]["by"],
                "createdDate": content["versions"][0]["when"],
            },
            "version": {**latest, "number": len(content["versions"])},
            "ancestors": self._ancestors(content),
            "_links": {"self": f"{base}{API}/content/{content['id']}", "tinyui": f"/x/{content['id']}"},
            "_expandable": {},
        }
        if content["type"] == "page":
            result["body"] = {"storage": {"value": content["body"], "representation": "storage"}}
            result["_links"]["webui"] = f"/spaces/{content['space']}/pages/{content['id']}"
        else:
            result["metadata"] = {"mediaType": content["media_type"], "comment": content["comment"]}
            result["extensions"] = {
                "mediaType": content["media_type"],
                "fileSize": content["size"],
                "comment": content["comment"],
            }
            result["container"] = {"id": content["parent"], "type": "page"}
            result["_links"]["download"] = (
                f"/download/attachments/{content['parent']}/{content['title']}?version={len(content['versions'])}"
            )
        return result

    def _space_json(self, request: Request, space: dict[str, Any]) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            **space,
            "status": "current",
            "_links": {"self": f"{base}{API}/space/{space['key']}", "webui": f"/spaces/{space['key']}"},
        }

    def _page_of(self, request: Request, items: list[dict[str, Any]]) -> Response:
        start = int(request.query_params.get("start") or 0)
        limit = int(request.query_params.get("limit") or 25)
        chosen = items[start : start + limit]
        links: dict[str, str] = {"base": str(request.base_url).rstrip("/")}
        if start + limit < len(items):
            links["next"] = (
                str(request.url.include_query_params(start=start + limit, limit=limit).path)
                + "?"
                + str(request.url.include_query_params(start=start + limit, limit=limit).query)
            )
        results = [self._content_json(request, item) for item in chosen]
        return JSONResponse({"results": results, "start": start, "limit": limit, "size": len(results), "_links": links})

    def _error(self, status: int, message: str) -> Response:
        return JSONResponse(self.error_body(status, message), status_code=status)


def _storage(body: dict[str, Any]) -> str | None:
    """The page's storage-format body; "" when none is given, None when it is given in another shape."""
    if not body.get("body"):
        return ""
    storage = (body.get("body") or {}).get("storage")
    if isinstance(storage, dict) and isinstance(storage.get("value"), str):
        return str(storage["value"])
    return None


def _version(username: str, message: str, minor: bool) -> dict[str, Any]:
    return {
        "by": {"type": "known", "username": username, "displayName": username.title()},
        "when": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "message": message,
        "minorEdit": minor,
    }


async def _upload(request: Request) -> tuple[UploadFile | None, dict[str, Any]]:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return None, {}
    form = await request.form()
    upload = form.get("file")
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    return (upload if isinstance(upload, UploadFile) else None), fields


async def _json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
