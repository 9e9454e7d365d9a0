"""The flow's side effects — Jira issues, defects, the GitLab branch, commit and merge request, Confluence pages —
each idempotent by run id + artefact key through the connectors' idempotent writes, so a resumed or retried step
finds what it wrote before instead of writing it twice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from opsdesk.crew.agents.schemas import Backlog, Defect, Docs, Implementation, QAReport
from opsdesk.crew.agents.writer import storage_xhtml
from opsdesk.crew.connectors import ConfluenceConnector, FileChange, GitLabConnector, IssueDraft, JiraConnector

LABEL = "opsdesk-crew"


@dataclass(frozen=True)
class Vendors:
    """The workspace's connected vendors with their scopes (None where no connection is stored)."""

    jira: tuple[JiraConnector, str] | None = None
    confluence: tuple[ConfluenceConnector, str] | None = None
    gitlab: tuple[GitLabConnector, str] | None = None


def short(run_id: str) -> str:
    return run_id.replace("-", "")[:8]


async def write_stories(jira: JiraConnector, project: str, run_id: str, backlog: Backlog) -> dict[str, Any]:
    """Epics and stories in one bulk create, stories put into their epics, dependencies as Blocks links."""
    drafts = [
        IssueDraft(
            key=f"{run_id}/epic/{epic.key}",
            issue_type="Epic",
            summary=epic.title,
            description=epic.description,
            labels=(LABEL,),
        )
        for epic in backlog.epics
    ]
    drafts += [
        IssueDraft(
            key=f"{run_id}/story/{story.key}",
            issue_type="Story",
            summary=story.title,
            description=story.narrative + (f"\n\nFrom the requirement: {story.source}" if story.source else ""),
            acceptance_criteria=tuple(criterion.text() for criterion in story.criteria),
            story_points=float(story.estimate),
            labels=(LABEL,),
        )
        for story in backlog.stories
    ]
    issues = await jira.create_issues(project, drafts)
    keys = {draft.key.rsplit("/", 1)[1]: issue.key for draft, issue in zip(drafts, issues, strict=True)}
    for epic in backlog.epics:
        members = [keys[story.key] for story in backlog.stories if story.epic == epic.key]
        if members:
            await jira.add_to_epic(keys[epic.key], members)
    for story in backlog.stories:
        for needed in story.depends_on:
            if needed in keys:
                await jira.link("Blocks", keys[needed], keys[story.key])
    return keys


async def file_defects(
    jira: JiraConnector, project: str, run_id: str, report: QAReport, stories: dict[str, str]
) -> list[str]:
    """One Bug per defect (idempotent by run and defect key), mentioning the stories it belongs to."""
    filed = []
    for defect in report.defects:
        issue = await jira.create_defect(
            project, f"{run_id}/defect/{defect.key}", defect.title[:250], _defect_body(defect, stories), labels=(LABEL,)
        )
        filed.append(issue.key)
    return filed


def _defect_body(defect: Defect, stories: dict[str, str]) -> str:
    related = ", ".join(sorted(stories.values())[:20])
    return f"{defect.description[:20000]}\n\nFound by the crew's QA run. Stories of this run: {related}"


async def publish_code(
    gitlab: GitLabConnector,
    project: str,
    run_id: str,
    title: str,
    files: list[FileChange],
    description: str,
    checklist: list[str],
) -> dict[str, Any]:
    """A branch of its own, one commit with every file, and a merge request into the default branch."""
    remote = await gitlab.project(project)
    branch = f"crew/{short(run_id)}-{_slug(title)}"
    await gitlab.ensure_branch(project, branch, remote.default_branch)
    commit = await gitlab.commit(project, branch, f"{run_id}/code", f"{title} (opsdesk delivery crew)", files)
    mr = await gitlab.merge_request(
        project,
        f"{run_id}/merge-request",
        source=branch,
        target=remote.default_branch,
        title=f"{title} (opsdesk delivery crew)",
        description=description,
        checklist=checklist,
        labels=[LABEL],
    )
    return {"branch": branch, "commit": commit.sha, "merge_request": mr.web_url, "merge_request_iid": mr.iid}


async def publish_pages(
    confluence: ConfluenceConnector, space: str, run_id: str, title: str, docs: Docs
) -> dict[str, Any]:
    """A parent page for the run and one child page per document (titles are unique per space, so they carry the
    run's short id)."""
    tag = short(run_id)
    parent = await confluence.put_page(space, f"{title} — crew run {tag}", storage_xhtml(docs.pages[0].body))
    pages = {"parent": parent.id}
    for page in docs.pages:
        written = await confluence.put_page(
            space, f"{title} — {page.title} ({tag})", storage_xhtml(page.body), parent_id=parent.id
        )
        pages[page.title] = written.id
    return pages


def commit_files(implementation: Implementation, extra: list[tuple[str, str]]) -> list[FileChange]:
    """The project's files, then CI and docs files, as upserts (later paths win)."""
    by_path = {file.path: file.content for file in implementation.files}
    by_path.update(dict(extra))
    return [FileChange(action="upsert", path=path, content=content) for path, content in sorted(by_path.items())]


def merge_request_text(
    backlog: Backlog, report: QAReport | None, jira: dict[str, Any], scaffold: bool
) -> tuple[str, list[str]]:
    lines = [backlog.requirement.summary, ""]
    if scaffold:
        lines += ["**Scaffold** generated offline: see SCAFFOLD.md for what is not implemented yet.", ""]
    lines.append("Stories: " + ", ".join(str(jira.get(story.key, story.key)) for story in backlog.stories))
    if report is not None:
        run = report.run
        lines.append(f"Tests in the sandbox: {run.passed} passed, {run.failed} failed, {run.skipped} skipped.")
    checklist = [f"{jira.get(story.key, story.key)} {story.title}" for story in backlog.stories]
    return "\n".join(lines), checklist


def _slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))[:40].strip("-") or "change"
