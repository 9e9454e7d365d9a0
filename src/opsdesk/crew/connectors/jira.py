"""Jira through the official ``jira`` SDK: project lookup, epics and stories in bulk, epic membership, issue links,
transitions, comments and defects.

Idempotency: every issue opsdesk creates carries the label ``opsdesk-<hash of its key>`` (key = run id + artefact);
before creating, the connector searches ``project = X AND labels in (…)`` and creates only what is missing, so a
retried or resumed write never makes a second issue. A comment ends with ``[opsdesk-<hash>]`` and is looked for in
the issue's comments first; links and epic membership are read back before they are written; a transition to the
status the issue already has is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jira import JIRA, JIRAError

from opsdesk.crew.connectors.base import (
    ConnectorPolicy,
    VendorCredentials,
    VendorGuard,
    VendorRejected,
    idempotency_tag,
)

_VENDOR = "jira"
_ACCEPTANCE = "Acceptance Criteria"
_STORY_POINTS = "Story Points"
_EPIC_NAME = "Epic Name"
_EPIC_LINK = "Epic Link"
_OPTIONAL = (_ACCEPTANCE, _STORY_POINTS, _EPIC_NAME)  # left out when the project's create screen lacks them


@dataclass(frozen=True)
class IssueDraft:
    """An issue to create; ``key`` makes the write idempotent (run id + artefact, e.g. ``run-42/story-3``)."""

    key: str
    issue_type: str  # Epic, Story, Task, Bug
    summary: str
    description: str = ""
    acceptance_criteria: tuple[str, ...] = ()
    story_points: float | None = None
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class JiraIssue:
    """An issue as opsdesk needs it back."""

    key: str
    id: str
    issue_type: str
    summary: str
    status: str
    labels: tuple[str, ...]
    url: str
    created: bool = False  # False: it existed already (an idempotent retry found it)


@dataclass(frozen=True)
class JiraProject:
    key: str
    id: str
    name: str
    issue_types: tuple[str, ...] = field(default=())


def _describe(exc: BaseException) -> tuple[int | None, str]:
    # str(JIRAError) includes the request's headers (the Authorization header among them): use its text only.
    if isinstance(exc, JIRAError):
        return exc.status_code, exc.text or f"HTTP {exc.status_code}"
    return None, str(exc)


class JiraConnector:
    """One workspace's Jira; every method is async and runs the SDK in a worker thread behind the guard."""

    def __init__(self, credentials: VendorCredentials, policy: ConnectorPolicy | None = None) -> None:
        self._credentials = credentials
        self.guard = VendorGuard(_VENDOR, policy or ConnectorPolicy(), _describe)
        self._client: JIRA | None = None
        self._field_ids: dict[str, str] | None = None
        self._refused: set[str] = set()  # optional field ids this Jira refused to set
        # Idempotency tag -> key of issues created here: Jira's search index can lag a write by seconds.
        self._created: dict[str, str] = {}

    async def project(self, key: str) -> JiraProject:
        """The project with this key (VendorRejected when there is none)."""

        def work() -> JiraProject:
            project = self._jira().project(key)
            types = tuple(str(t.name) for t in getattr(project, "issueTypes", []) or [])
            return JiraProject(key=str(project.key), id=str(project.id), name=str(project.name), issue_types=types)

        return await self.guard.call("project", work)

    async def create_issues(self, project_key: str, drafts: Sequence[IssueDraft]) -> list[JiraIssue]:
        """Creates the drafts in one bulk request, skipping those a previous attempt already created; same order."""
        if not drafts:
            return []
        if len({draft.key for draft in drafts}) != len(drafts):
            raise VendorRejected(_VENDOR, "two drafts share one idempotency key")
        return await self.guard.call("create_issues", lambda: self._create_issues(project_key, list(drafts)))

    async def create_issue(self, project_key: str, draft: IssueDraft) -> JiraIssue:
        """One issue, idempotent by ``draft.key``."""
        return (await self.create_issues(project_key, [draft]))[0]

    async def create_defect(
        self, project_key: str, key: str, summary: str, description: str, *, labels: Sequence[str] = ()
    ) -> JiraIssue:
        """A Bug, idempotent by ``key``."""
        draft = IssueDraft(
            key=key, issue_type="Bug", summary=summary, description=description, labels=("defect", *labels)
        )
        return await self.create_issue(project_key, draft)

    async def add_to_epic(self, epic_key: str, issue_keys: Sequence[str]) -> None:
        """Makes the issues children of the epic (Agile API); issues already in it are left alone."""

        def work() -> None:
            jira = self._jira()
            link_field = self._fields(jira).get(_EPIC_LINK)
            missing = []
            for issue_key in issue_keys:
                fields = jira.issue(issue_key).raw["fields"]
                parent = (fields.get("parent") or {}).get("key")
                if epic_key not in (parent, fields.get(link_field) if link_field else None):
                    missing.append(issue_key)
            if missing:
                jira.add_issues_to_epic(epic_key, missing)

        await self.guard.call("add_to_epic", work)

    async def link(self, link_type: str, inward_key: str, outward_key: str) -> None:
        """Links two issues (e.g. "Blocks": inward blocks outward) unless that link exists."""

        def work() -> None:
            jira = self._jira()
            for existing in jira.issue(inward_key).raw["fields"].get("issuelinks") or []:
                same_type = (existing.get("type") or {}).get("name", "").lower() == link_type.lower()
                if same_type and (existing.get("outwardIssue") or {}).get("key") == outward_key:
                    return
            jira.create_issue_link(link_type, inward_key, outward_key)

        await self.guard.call("link", work)

    async def transition(self, issue_key: str, status: str) -> str:
        """Moves the issue to ``status`` through the transition that leads there; returns the status it ends in."""

        def work() -> str:
            jira = self._jira()
            current = str(jira.issue(issue_key).raw["fields"]["status"]["name"])
            if current.lower() == status.lower():
                return current
            choices = jira.transitions(issue_key)
            chosen = next(
                (t for t in choices if str((t.get("to") or {}).get("name", "")).lower() == status.lower()),
                next((t for t in choices if str(t.get("name", "")).lower() == status.lower()), None),
            )
            if chosen is None:
                names = ", ".join(sorted({str((t.get("to") or {}).get("name")) for t in choices})) or "none"
                raise VendorRejected(_VENDOR, f"{issue_key} cannot move from {current} to {status} (possible: {names})")
            jira.transition_issue(issue_key, str(chosen["id"]))
            return str((chosen.get("to") or {}).get("name") or status)

        return await self.guard.call("transition", work)

    async def comment(self, issue_key: str, key: str, body: str) -> str:
        """Adds a comment once per ``key``; returns the comment's id."""
        mark = f"[{idempotency_tag(key)}]"

        def work() -> str:
            jira = self._jira()
            for existing in jira.comments(issue_key):
                if str(existing.body).rstrip().endswith(mark):
                    return str(existing.id)
            return str(jira.add_comment(issue_key, f"{body.rstrip()}\n\n{mark}").id)

        return await self.guard.call("comment", work)

    async def issue(self, issue_key: str) -> dict[str, Any]:
        """The issue's raw JSON (fields included)."""
        return await self.guard.call("issue", lambda: dict(self._jira().issue(issue_key).raw))

    async def aclose(self) -> None:
        """Closes the SDK's HTTP session and the worker threads; the connector is not used after."""
        self.guard.close()
        if self._client is not None:
            self._client.close()  # type: ignore[no-untyped-call]
            self._client = None

    # -- in the worker thread --------------------------------------------------------------------------------------

    def _jira(self) -> JIRA:
        if self._client is None:
            credentials = self._credentials
            token = credentials.token.get_secret_value()
            auth: dict[str, Any] = (
                {"basic_auth": (credentials.username, token)} if credentials.username else {"token_auth": token}
            )
            # max_retries=0: the SDK would otherwise sleep and retry 429/503 itself, outside our policy and breaker.
            client = JIRA(
                credentials.base_url, max_retries=0, timeout=self.guard.policy.timeout_s, logging=False, **auth
            )
            self.guard.watch.install(client._session)
            self._client = client
        return self._client

    def _fields(self, jira: JIRA) -> dict[str, str]:
        if self._field_ids is None:
            self._field_ids = {str(f["name"]): str(f["id"]) for f in jira.fields()}
        return self._field_ids

    def _create_issues(self, project_key: str, drafts: list[IssueDraft]) -> list[JiraIssue]:
        jira = self._jira()
        tags = {draft.key: idempotency_tag(draft.key) for draft in drafts}
        # Issues this connector created are read by key (consistent at once); the others are searched by label.
        found = {tag: (self._read(jira, self._created[tag]), False) for tag in tags.values() if tag in self._created}
        found.update(self._find_tagged(jira, project_key, [tag for tag in tags.values() if tag not in found]))
        missing = [draft for draft in drafts if tags[draft.key] not in found]
        if missing:
            created, refused = self._bulk_create(jira, project_key, missing, tags)
            if refused:
                # Optional fields this project's create screen does not have are left out from now on (acceptance
                # criteria then go into the description); the issues they held back are created without them.
                retry = [draft for draft, errors in refused if self._drop_refused_optional_fields(errors)]
                refused = [item for item in refused if item[0] not in retry]
                if retry:
                    more, refused_again = self._bulk_create(jira, project_key, retry, tags)
                    created, refused = {**created, **more}, refused + refused_again
            found.update({tag: (raw, True) for tag, raw in created.items()})
            if refused:
                # The ones that were created stay (and are found by the next attempt); the rest need a fix first.
                reasons = "; ".join(f"{draft.summary[:60]!r}: {errors}" for draft, errors in refused)
                raise VendorRejected(_VENDOR, "Jira refused some issues: " + reasons)
        return [self._issue(*found[tags[draft.key]]) for draft in drafts]

    def _bulk_create(
        self, jira: JIRA, project_key: str, drafts: list[IssueDraft], tags: dict[str, str]
    ) -> tuple[dict[str, dict[str, Any]], list[tuple[IssueDraft, dict[str, str]]]]:
        """Creates the drafts in one request: the created issues by tag, and those refused with Jira's errors."""
        field_ids = self._usable_fields(jira)
        payload = [self._fields_of(project_key, draft, tags[draft.key], field_ids) for draft in drafts]
        created: dict[str, dict[str, Any]] = {}
        refused: list[tuple[IssueDraft, dict[str, str]]] = []
        for draft, result in zip(drafts, jira.create_issues(payload, prefetch=False), strict=True):
            if result["status"] != "Success":
                refused.append((draft, dict(result["error"] or {})))
                continue
            tag = tags[draft.key]
            self._created[tag] = str(result["issue"].key)
            created[tag] = self._read(jira, self._created[tag])
        return created, refused

    def _read(self, jira: JIRA, key: str) -> dict[str, Any]:
        raw: dict[str, Any] = jira.issue(key, fields="summary,status,issuetype,labels").raw
        return raw

    def _drop_refused_optional_fields(self, errors: dict[str, str]) -> bool:
        """Marks optional fields Jira says it cannot set; True when they were all the errors."""
        optional = {self._fields(self._jira()).get(name) for name in _OPTIONAL} - {None}
        if not errors or not set(errors) <= optional:
            return False
        self._refused.update(errors)
        return True

    def _usable_fields(self, jira: JIRA) -> dict[str, str]:
        return {name: field_id for name, field_id in self._fields(jira).items() if field_id not in self._refused}

    def _find_tagged(self, jira: JIRA, project_key: str, tags: list[str]) -> dict[str, tuple[dict[str, Any], bool]]:
        found: dict[str, tuple[dict[str, Any], bool]] = {}
        for start in range(0, len(tags), 50):
            chunk = tags[start : start + 50]
            quoted = ", ".join(f'"{tag}"' for tag in chunk)
            jql = f'project = "{_jql_text(project_key)}" AND labels in ({quoted})'
            result = jira.search_issues(
                jql, maxResults=100, json_result=True, fields=["summary", "status", "issuetype", "labels"]
            )
            for raw in result.get("issues", []) if isinstance(result, dict) else []:
                for tag in set(raw["fields"].get("labels") or []) & set(chunk):
                    found[tag] = (raw, False)
        return found

    def _fields_of(self, project_key: str, draft: IssueDraft, tag: str, field_ids: dict[str, str]) -> dict[str, Any]:
        description = draft.description
        fields: dict[str, Any] = {
            "project": {"key": project_key},
            "issuetype": {"name": draft.issue_type},
            "summary": draft.summary[:255],
            "labels": [*(label.replace(" ", "-") for label in draft.labels), tag],
        }
        criteria = "\n".join(f"* {line}" for line in draft.acceptance_criteria)
        if criteria and _ACCEPTANCE in field_ids:
            fields[field_ids[_ACCEPTANCE]] = criteria
        elif criteria:  # no such field on this Jira: the criteria go at the end of the description
            description = f"{description.rstrip()}\n\nh3. Acceptance criteria\n{criteria}".strip()
        if description:
            fields["description"] = description
        if draft.story_points is not None and _STORY_POINTS in field_ids:
            fields[field_ids[_STORY_POINTS]] = draft.story_points
        if draft.issue_type.lower() == "epic" and _EPIC_NAME in field_ids:
            fields[field_ids[_EPIC_NAME]] = draft.summary[:255]
        return fields

    def _issue(self, raw: dict[str, Any], created: bool) -> JiraIssue:
        fields = raw["fields"]
        base = self._credentials.base_url.rstrip("/")
        return JiraIssue(
            key=str(raw["key"]),
            id=str(raw["id"]),
            issue_type=str((fields.get("issuetype") or {}).get("name", "")),
            summary=str(fields.get("summary", "")),
            status=str((fields.get("status") or {}).get("name", "")),
            labels=tuple(fields.get("labels") or ()),
            url=f"{base}/browse/{raw['key']}",
            created=created,
        )


def _jql_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
