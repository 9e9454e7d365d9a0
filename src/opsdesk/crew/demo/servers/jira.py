"""A local Jira that speaks the REST API v2 (and the Agile epic endpoints) the ``jira`` SDK uses.

Served: ``serverInfo``, ``myself``, ``project`` (list, by key or id), ``issuetype``, ``field``, ``issueLinkType``,
``issue`` (create, get), ``issue/bulk``, ``issueLink``, ``issue/{key}/transitions`` (list, do),
``issue/{key}/comment`` (add, list), ``search`` (Server) and ``search/jql`` (Cloud) with a JQL subset
(``field = value``, ``field in (…)``, ``field != value`` joined by AND; project, key, issuetype, status, labels,
"Epic Link"/parent; ORDER BY ignored), and Agile ``epic/{key}`` and ``epic/{key}/issue`` (add, list).
A company-managed project: an Epic needs an "Epic Name"; stories carry "Acceptance Criteria" and "Story Points".
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsdesk.crew.demo.servers.base import ASGIApp, VendorServer

API = "/rest/api/2"
AGILE = "/rest/agile/1.0"
EPIC_NAME, EPIC_LINK, ACCEPTANCE, STORY_POINTS = (
    "customfield_10011",
    "customfield_10014",
    "customfield_10100",
    "customfield_10016",
)
_ISSUE_TYPES = [("10000", "Epic"), ("10001", "Story"), ("10002", "Task"), ("10003", "Bug")]
_STATUSES = {
    "10000": ("To Do", "new", "To Do"),
    "3": ("In Progress", "indeterminate", "In Progress"),
    "10001": ("Done", "done", "Done"),
}
_TRANSITIONS = {"11": "10000", "21": "3", "31": "10001"}  # transition id -> target status id
_LINK_TYPES = [("10000", "Blocks", "is blocked by", "blocks"), ("10003", "Relates", "relates to", "relates to")]
_CUSTOM = {
    EPIC_NAME: ("Epic Name", "string"),
    EPIC_LINK: ("Epic Link", "any"),
    ACCEPTANCE: ("Acceptance Criteria", "string"),
    STORY_POINTS: ("Story Points", "number"),
}
_SYSTEM = {
    "summary": "string",
    "description": "string",
    "labels": "array",
    "issuetype": "issuetype",
    "project": "project",
    "status": "status",
    "parent": "issuelink",
    "issuelinks": "array",
    "comment": "comments-page",
    "created": "datetime",
    "updated": "datetime",
}
_SETTABLE = {"summary", "description", "labels", "issuetype", "project", "parent", *_CUSTOM}
_CLAUSE = re.compile(r'^\s*("[^"]+"|[A-Za-z][\w ]*?)\s*(!=|=|\bin\b)\s*(.+?)\s*$', re.IGNORECASE)
_NOT_FOUND = "Issue does not exist or you do not have permission to see it."


class JiraServer(VendorServer):
    """Projects, issues, links, transitions and comments in memory; ``issues`` is keyed by issue key."""

    name = "jira"

    def __init__(
        self,
        *,
        username: str = "opsdesk",
        token: str = "local-token",
        projects: tuple[str, ...] = ("DEMO",),
        cloud: bool = False,
        off_screen: tuple[str, ...] = (),
        state_file: Path | None = None,
    ) -> None:
        super().__init__(username=username, token=token, state_file=state_file)
        self.cloud = cloud
        self.off_screen = set(off_screen)  # custom field ids the create screen lacks (as in many team setups)
        # Jira's search index trails writes: with index_lag, new issues stay out of search until ``unindexed`` is
        # emptied (reading them by key works at once, as in Jira).
        self.index_lag = False
        self.unindexed: set[str] = set()
        self.projects = {
            key: {"id": str(10000 + n), "key": key, "name": f"{key.title()} project"} for n, key in enumerate(projects)
        }
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.links: list[dict[str, str]] = []

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"errorMessages": [message], "errors": {}}

    def state(self) -> dict[str, Any]:
        return {"projects": self.projects, "issues": self.issues, "comments": self.comments, "links": self.links}

    def restore(self, state: dict[str, Any]) -> None:
        self.projects = state["projects"]
        self.issues = state["issues"]
        self.comments = state["comments"]
        self.links = state["links"]

    def app(self) -> ASGIApp:
        return Starlette(
            routes=[
                Route(f"{API}/serverInfo", self._server_info),
                Route(f"{API}/myself", self._myself),
                Route(f"{API}/project", self._projects),
                Route(f"{API}/project/{{key}}", self._project),
                Route(f"{API}/issuetype", self._issue_types),
                Route(f"{API}/field", self._fields),
                Route(f"{API}/issueLinkType", self._link_types),
                Route(f"{API}/issue", self._create, methods=["POST"]),
                Route(f"{API}/issue/bulk", self._bulk, methods=["POST"]),
                Route(f"{API}/issueLink", self._link, methods=["POST"]),
                Route(f"{API}/issue/{{key}}", self._issue),
                Route(f"{API}/issue/{{key}}/transitions", self._transitions, methods=["GET", "POST"]),
                Route(f"{API}/issue/{{key}}/comment", self._comments, methods=["GET", "POST"]),
                Route(f"{API}/search", self._search, methods=["GET", "POST"]),
                Route(f"{API}/search/jql", self._search, methods=["GET", "POST"]),
                Route(f"{AGILE}/epic/{{key}}", self._epic),
                Route(f"{AGILE}/epic/{{key}}/issue", self._epic_issues, methods=["GET", "POST"]),
            ]
        )

    # -- reference data --------------------------------------------------------------------------------------------

    async def _server_info(self, request: Request) -> Response:
        return JSONResponse(
            {
                "baseUrl": _base(request),
                "version": "9.12.0",
                "versionNumbers": [9, 12, 0],
                "deploymentType": "Cloud" if self.cloud else "Server",
                "buildNumber": 9120000,
                "serverTitle": "opsdesk local Jira",
            }
        )

    async def _myself(self, request: Request) -> Response:
        return JSONResponse(
            {
                "self": f"{_base(request)}{API}/user?username={self.username}",
                "key": self.username,
                "name": self.username,
                "accountId": "local-" + self.username,
                "emailAddress": f"{self.username}@opsdesk.local",
                "displayName": self.username.title(),
                "active": True,
                "timeZone": "UTC",
            }
        )

    async def _projects(self, request: Request) -> Response:
        return JSONResponse([self._project_json(request, project) for project in self.projects.values()])

    async def _project(self, request: Request) -> Response:
        project = self._find_project(request.path_params["key"])
        if project is None:
            return _error(404, f"No project could be found with key '{request.path_params['key']}'.")
        return JSONResponse(self._project_json(request, project))

    async def _issue_types(self, request: Request) -> Response:
        return JSONResponse([_issue_type(request, type_id) for type_id, _ in _ISSUE_TYPES])

    async def _fields(self, request: Request) -> Response:
        fields = [
            {
                "id": key,
                "key": key,
                "name": key.title(),
                "custom": False,
                "clauseNames": [key],
                "schema": {"type": kind},
            }
            for key, kind in _SYSTEM.items()
        ]
        fields += [
            {
                "id": key,
                "key": key,
                "name": name,
                "custom": True,
                "clauseNames": [f"cf[{key.removeprefix('customfield_')}]", name],
                "schema": {"type": kind, "customId": int(key.removeprefix("customfield_"))},
            }
            for key, (name, kind) in _CUSTOM.items()
        ]
        return JSONResponse(fields)

    async def _link_types(self, request: Request) -> Response:
        types = [
            {
                "id": type_id,
                "name": name,
                "inward": inward,
                "outward": outward,
                "self": f"{_base(request)}{API}/issueLinkType/{type_id}",
            }
            for type_id, name, inward, outward in _LINK_TYPES
        ]
        return JSONResponse({"issueLinkTypes": types})

    # -- issues ----------------------------------------------------------------------------------------------------

    async def _create(self, request: Request) -> Response:
        body = await _json(request)
        with self.lock:
            issue, errors = self._new_issue(body.get("fields") if isinstance(body, dict) else None)
        if issue is None:
            return JSONResponse({"errorMessages": [], "errors": errors}, status_code=400)
        return JSONResponse(self._ref(request, issue), status_code=201)

    async def _bulk(self, request: Request) -> Response:
        body = await _json(request)
        updates = body.get("issueUpdates") if isinstance(body, dict) else None
        if not isinstance(updates, list) or not updates:
            return _error(400, "issueUpdates must be a non-empty list.")
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        with self.lock:
            for number, update in enumerate(updates):
                issue, errors = self._new_issue(update.get("fields") if isinstance(update, dict) else None)
                if issue is None:
                    failed.append(
                        {
                            "status": 400,
                            "elementErrors": {"errorMessages": [], "errors": errors},
                            "failedElementNumber": number,
                        }
                    )
                else:
                    created.append(self._ref(request, issue))
        return JSONResponse({"issues": created, "errors": failed}, status_code=201 if created else 400)

    async def _issue(self, request: Request) -> Response:
        issue = self._find_issue(request.path_params["key"])
        if issue is None:
            return _error(404, _NOT_FOUND)
        return JSONResponse(self._issue_json(request, issue))

    async def _transitions(self, request: Request) -> Response:
        issue = self._find_issue(request.path_params["key"])
        if issue is None:
            return _error(404, _NOT_FOUND)
        if request.method == "GET":
            available = [
                {
                    "id": transition_id,
                    "name": _STATUSES[status_id][0],
                    "to": _status(request, status_id),
                    "hasScreen": False,
                    "isGlobal": True,
                    "isInitial": False,
                    "isConditional": False,
                    "fields": {},
                }
                for transition_id, status_id in _TRANSITIONS.items()
                if status_id != issue["status"]
            ]
            return JSONResponse({"expand": "transitions", "transitions": available})
        body = await _json(request)
        transition_id = str(((body or {}).get("transition") or {}).get("id", ""))
        target = _TRANSITIONS.get(transition_id)
        if target is None or target == issue["status"]:
            return _error(400, f"Transition id '{transition_id}' is not valid for this issue.")
        with self.lock:
            issue["status"] = target
            issue["updated"] = _now()
            for comment in ((body.get("update") or {}).get("comment") or []) if isinstance(body, dict) else []:
                text = ((comment or {}).get("add") or {}).get("body")
                if isinstance(text, str) and text.strip():
                    self._add_comment(request, issue["key"], text)
        return Response(status_code=204)

    async def _comments(self, request: Request) -> Response:
        issue = self._find_issue(request.path_params["key"])
        if issue is None:
            return _error(404, _NOT_FOUND)
        if request.method == "GET":
            comments = self.comments.get(issue["key"], [])
            return JSONResponse(
                {"startAt": 0, "maxResults": len(comments), "total": len(comments), "comments": comments}
            )
        body = await _json(request)
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            return JSONResponse(
                {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}}, status_code=400
            )
        with self.lock:
            comment = self._add_comment(request, issue["key"], text)
        return JSONResponse(comment, status_code=201)

    async def _link(self, request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body, dict):
            return _error(400, "A JSON object is required.")
        type_name = str((body.get("type") or {}).get("name", ""))
        link_type = next((t for t in _LINK_TYPES if t[1].lower() == type_name.lower()), None)
        if link_type is None:
            return _error(404, f"No issue link type with name '{type_name}' found.")
        inward = self._find_issue(str((body.get("inwardIssue") or {}).get("key", "")))
        outward = self._find_issue(str((body.get("outwardIssue") or {}).get("key", "")))
        if inward is None or outward is None:
            return _error(404, _NOT_FOUND)
        with self.lock:
            link = {"type": link_type[0], "inward": inward["key"], "outward": outward["key"]}
            if link not in [{k: v for k, v in known.items() if k != "id"} for known in self.links]:
                self.links.append({"id": str(self.next_number("id", 10001)), **link})
        return Response(status_code=201)

    async def _search(self, request: Request) -> Response:
        if request.method == "POST":
            body = await _json(request)
            params = body if isinstance(body, dict) else {}
        else:
            params = dict(request.query_params)
        try:
            matches = self._query(str(params.get("jql") or ""))
        except ValueError as exc:
            return _error(400, f"Error in the JQL Query: {exc}")
        start = int(params.get("startAt") or 0)
        size = int(params.get("maxResults") or 50)
        page = [self._issue_json(request, issue) for issue in matches[start : start + size]]
        if request.url.path.endswith("/jql"):
            return JSONResponse({"issues": page, "isLast": start + size >= len(matches)})
        return JSONResponse(
            {"expand": "names,schema", "startAt": start, "maxResults": size, "total": len(matches), "issues": page}
        )

    # -- agile -----------------------------------------------------------------------------------------------------

    async def _epic(self, request: Request) -> Response:
        epic = self._find_epic(request.path_params["key"])
        if epic is None:
            return _error(404, f"Issue {request.path_params['key']} is not an epic.")
        return JSONResponse(
            {
                "id": int(epic["id"]),
                "key": epic["key"],
                "self": f"{_base(request)}{AGILE}/epic/{epic['id']}",
                "name": epic["fields"].get(EPIC_NAME) or epic["fields"]["summary"],
                "summary": epic["fields"]["summary"],
                "done": epic["status"] == "10001",
            }
        )

    async def _epic_issues(self, request: Request) -> Response:
        epic = self._find_epic(request.path_params["key"])
        if epic is None:
            return _error(404, f"Issue {request.path_params['key']} is not an epic.")
        if request.method == "GET":
            members = [issue for issue in self.issues.values() if issue["fields"].get(EPIC_LINK) == epic["key"]]
            page = [self._issue_json(request, issue) for issue in members]
            return JSONResponse({"startAt": 0, "maxResults": 50, "total": len(page), "issues": page})
        body = await _json(request)
        keys = body.get("issues") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not keys:
            return _error(400, "issues must be a non-empty list of issue keys.")
        found = [self._find_issue(str(key)) for key in keys]
        if any(issue is None for issue in found):
            return _error(400, "Some of the issues could not be found.")
        members = [issue for issue in found if issue is not None]
        if any(issue["fields"]["issuetype"] == "10000" for issue in members):
            return _error(400, "An epic cannot be added to an epic.")
        with self.lock:
            for issue in members:
                issue["fields"][EPIC_LINK] = epic["key"]
                issue["fields"]["parent"] = epic["key"]
                issue["updated"] = _now()
        return Response(status_code=204)

    # -- state -----------------------------------------------------------------------------------------------------

    def _new_issue(self, fields: Any) -> tuple[dict[str, Any] | None, dict[str, str]]:
        if not isinstance(fields, dict):
            return None, {"fields": "fields is required."}
        errors: dict[str, str] = {}
        project = self._find_project(
            str((fields.get("project") or {}).get("key") or (fields.get("project") or {}).get("id") or "")
        )
        if project is None:
            errors["project"] = "project is required"
        wanted = fields.get("issuetype") or {}
        type_id = next(
            (
                i
                for i, n in _ISSUE_TYPES
                if str(wanted.get("id")) == i or str(wanted.get("name", "")).lower() == n.lower()
            ),
            None,
        )
        if type_id is None:
            errors["issuetype"] = "The issue type selected is invalid."
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) > 255:
            errors["summary"] = "Summary must be less than 255 characters."
        for name in fields:
            if name not in _SETTABLE or name in self.off_screen:
                errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        labels = fields.get("labels") or []
        if not isinstance(labels, list) or any(
            not isinstance(label, str) or " " in label or not label for label in labels
        ):
            errors["labels"] = "Labels must be a list of words without spaces."
        if type_id == "10000" and not fields.get(EPIC_NAME) and EPIC_NAME not in self.off_screen:
            errors[EPIC_NAME] = "Epic Name is required."
        if errors or project is None or type_id is None:
            return None, errors
        number = self.next_number(f"issue:{project['key']}", 1)
        issue_id = str(self.next_number("id", 10001))
        key = f"{project['key']}-{number}"
        stored = {
            name: value for name, value in fields.items() if name in _SETTABLE and name not in ("project", "issuetype")
        }
        stored["issuetype"] = type_id
        stored["project"] = project["key"]
        stored["labels"] = list(labels)
        if isinstance(stored.get("parent"), dict):
            stored["parent"] = stored["parent"].get("key")
        now = _now()
        issue = {"id": issue_id, "key": key, "status": "10000", "created": now, "updated": now, "fields": stored}
        self.issues[key] = issue
        if self.index_lag:
            self.unindexed.add(key)
        return issue, {}

    def _add_comment(self, request: Request, key: str, text: str) -> dict[str, Any]:
        comment_id = str(self.next_number("id", 10001))
        now = _now()
        author = {"name": self.username, "displayName": self.username.title(), "active": True}
        comment = {
            "self": f"{_base(request)}{API}/issue/{self.issues[key]['id']}/comment/{comment_id}",
            "id": comment_id,
            "author": author,
            "updateAuthor": author,
            "body": text,
            "created": now,
            "updated": now,
        }
        self.comments.setdefault(key, []).append(comment)
        return comment

    def _find_project(self, key_or_id: str) -> dict[str, Any] | None:
        return next((p for p in self.projects.values() if key_or_id in (p["key"], p["id"])), None)

    def _find_issue(self, key_or_id: str) -> dict[str, Any] | None:
        return self.issues.get(key_or_id) or next((i for i in self.issues.values() if i["id"] == key_or_id), None)

    def _find_epic(self, key_or_id: str) -> dict[str, Any] | None:
        issue = self._find_issue(key_or_id)
        return issue if issue is not None and issue["fields"]["issuetype"] == "10000" else None

    def _query(self, jql: str) -> list[dict[str, Any]]:
        where = re.split(r"\border\s+by\b", jql, maxsplit=1, flags=re.IGNORECASE)[0].strip()
        clauses = [part for part in re.split(r"\s+AND\s+", where, flags=re.IGNORECASE) if part.strip()] if where else []
        tests = [_clause(part) for part in clauses]
        matches = [
            issue
            for issue in self.issues.values()
            if issue["key"] not in self.unindexed and all(test(self._values(issue, field)) for field, test in tests)
        ]
        return sorted(matches, key=lambda issue: int(issue["id"]))

    def _values(self, issue: dict[str, Any], field: str) -> set[str]:
        fields = issue["fields"]
        if field == "project":
            project = self.projects[fields["project"]]
            return {project["key"].lower(), project["id"]}
        if field in ("key", "issuekey", "id"):
            return {issue["key"].lower(), issue["id"]}
        if field in ("issuetype", "type"):
            return {fields["issuetype"], dict(_ISSUE_TYPES)[fields["issuetype"]].lower()}
        if field == "status":
            return {issue["status"], _STATUSES[issue["status"]][0].lower()}
        if field in ("labels", "label"):
            return {label.lower() for label in fields.get("labels", [])}
        if field in ("epic link", "parent", f"cf[{EPIC_LINK.removeprefix('customfield_')}]"):
            return {str(fields.get(EPIC_LINK) or fields.get("parent") or "").lower()} - {""}
        raise ValueError(f"the field '{field}' is not supported by this server")

    # -- JSON ------------------------------------------------------------------------------------------------------

    def _ref(self, request: Request, issue: dict[str, Any]) -> dict[str, str]:
        return {"id": issue["id"], "key": issue["key"], "self": f"{_base(request)}{API}/issue/{issue['id']}"}

    def _project_json(self, request: Request, project: dict[str, Any]) -> dict[str, Any]:
        return {
            "self": f"{_base(request)}{API}/project/{project['id']}",
            "id": project["id"],
            "key": project["key"],
            "name": project["name"],
            "projectTypeKey": "software",
            "style": "classic",
            "lead": {"name": self.username, "displayName": self.username.title()},
            "issueTypes": [_issue_type(request, type_id) for type_id, _ in _ISSUE_TYPES],
        }

    def _issue_json(self, request: Request, issue: dict[str, Any]) -> dict[str, Any]:
        stored = issue["fields"]
        fields: dict[str, Any] = {name: value for name, value in stored.items() if name in _CUSTOM}
        fields.update(
            {
                "summary": stored["summary"],
                "description": stored.get("description"),
                "labels": stored.get("labels", []),
                "issuetype": _issue_type(request, stored["issuetype"]),
                "project": {
                    "id": self.projects[stored["project"]]["id"],
                    "key": stored["project"],
                    "name": self.projects[stored["project"]]["name"],
                },
                "status": _status(request, issue["status"]),
                "created": issue["created"],
                "updated": issue["updated"],
                "issuelinks": self._links_of(request, issue["key"]),
                "comment": {
                    "comments": self.comments.get(issue["key"], []),
                    "total": len(self.comments.get(issue["key"], [])),
                },
            }
        )
        parent = self.issues.get(str(stored.get("parent") or ""))
        if parent is not None:
            fields["parent"] = self._ref(request, parent) | {"fields": {"summary": parent["fields"]["summary"]}}
        return {"expand": "renderedFields,names,schema,transitions", **self._ref(request, issue), "fields": fields}

    def _links_of(self, request: Request, key: str) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        for link in self.links:
            type_id, name, inward, outward = next(t for t in _LINK_TYPES if t[0] == link["type"])
            link_type = {"id": type_id, "name": name, "inward": inward, "outward": outward}
            if link["inward"] == key:
                links.append(
                    {
                        "id": link["id"],
                        "type": link_type,
                        "outwardIssue": self._ref(request, self.issues[link["outward"]]),
                    }
                )
            if link["outward"] == key:
                links.append(
                    {
                        "id": link["id"],
                        "type": link_type,
                        "inwardIssue": self._ref(request, self.issues[link["inward"]]),
                    }
                )
        return links


def _clause(text: str) -> tuple[str, Any]:
    match = _CLAUSE.match(text)
    if match is None:
        raise ValueError(f"cannot read the clause '{text.strip()}'")
    field = match.group(1).strip('"').strip().lower()
    operator = match.group(2).lower()
    raw = match.group(3).strip()
    if operator == "in":
        if not (raw.startswith("(") and raw.endswith(")")):
            raise ValueError("'in' needs a list in parentheses")
        values = {_unquote(part) for part in _split_list(raw[1:-1])}
        return field, lambda have: bool(have & values)
    value = _unquote(raw)
    if operator == "!=":
        return field, lambda have: value not in have
    return field, lambda have: value in have


def _split_list(text: str) -> list[str]:
    return [part for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^,\s][^,]*', text) if part.strip()]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return value.lower()


def _issue_type(request: Request, type_id: str) -> dict[str, Any]:
    name = dict(_ISSUE_TYPES)[type_id]
    return {
        "self": f"{_base(request)}{API}/issuetype/{type_id}",
        "id": type_id,
        "name": name,
        "subtask": False,
        "description": f"A {name.lower()}.",
    }


def _status(request: Request, status_id: str) -> dict[str, Any]:
    name, category, _ = _STATUSES[status_id]
    return {
        "self": f"{_base(request)}{API}/status/{status_id}",
        "id": status_id,
        "name": name,
        "statusCategory": {"key": category, "name": name},
    }


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _error(status: int, message: str) -> Response:
    return JSONResponse({"errorMessages": [message], "errors": {}}, status_code=status)
