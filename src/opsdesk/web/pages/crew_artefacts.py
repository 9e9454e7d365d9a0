"""How the crew page shows a run: its artefacts checked against the agents' types (shown as text, never as markup),
its steps, its current step and gate, and links to the Jira, GitLab and Confluence items it wrote."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from pydantic import BaseModel, ValidationError

from opsdesk.crew.agents.schemas import Backlog, Design, DevOpsFiles, Docs, Implementation, QAReport
from opsdesk.crew.flow.record import pending_gates
from opsdesk.crew.flow.state import GATES
from opsdesk.crew.runs.models import CrewRun
from opsdesk.web.pages.crew_diff import artefact_changes

ARTEFACT_TYPES: dict[str, type[BaseModel]] = {
    "backlog": Backlog,
    "design": Design,
    "implementation": Implementation,
    "qa": QAReport,
    "devops": DevOpsFiles,
    "docs": Docs,
}
GATE_LABELS = {
    "approve_stories": "stories",
    "approve_design": "design",
    "approve_tests": "tests",
    "approve_pipeline": "pipeline",
    "approve_merge": "merge request",
}
ACTIVE = ("running", "paused")  # the page polls while the run can change without anyone answering
WORKING = ("running", "queued")  # a step at work, or a gate whose answer a worker is about to apply


def artefact_views(artefacts: dict[str, Any]) -> dict[str, Any]:
    """Each known artefact as its agent's type dumped to plain values; one that does not fit is kept as JSON text."""
    views: dict[str, Any] = {}
    for key, raw in artefacts.items():
        kind = ARTEFACT_TYPES.get(key)
        try:
            if kind is None:
                raise ValueError(key)
            views[key] = {"ok": True, "value": kind.model_validate(raw).model_dump(mode="json")}
        except (ValidationError, ValueError):
            views[key] = {"ok": False, "value": json.dumps(raw, indent=2, ensure_ascii=False, default=str)}
    return views


def current_step(steps: list[dict[str, Any]]) -> str | None:
    """The steps running now (QA and DevOps run side by side), else the last one recorded."""
    running = [str(step.get("step")) for step in steps if step.get("status") == "running"]
    if running:
        return ", ".join(running)
    return str(steps[-1].get("step")) if steps else None


def waiting_gates(run: CrewRun) -> list[str]:
    """The gates the run waits at without an answer (two at once on the parallel QA and DevOps branches)."""
    if run.status != "waiting":
        return []
    pending = [gate for gate in pending_gates(run.steps or []) if gate in GATES]
    return pending or ([run.waiting_for] if run.waiting_for in GATES else [])


def run_summary(run: CrewRun) -> dict[str, Any]:
    """What the runs list and the live part of a run's page show."""
    gates = waiting_gates(run)
    working = any(step.get("status") in WORKING for step in run.steps or [])
    return {
        "id": str(run.id),
        "title": run.title,
        "status": run.status,
        "waiting_for": gates,
        "gate_labels": [GATE_LABELS.get(gate, gate) for gate in gates],
        "detail": run.detail,
        "current_step": current_step(run.steps or []),
        "model": run.model,
        "tokens": run.tokens,
        "cost_usd": round(run.cost_usd, 6),
        "work_s": round(run.work_s, 1),
        "created_at": run.created_at,
        "finished_at": run.finished_at,
        "updated_at": run.updated_at,  # the live part skips the run's events that say what it already shows
        "active": run.status in ACTIVE or working,
        # what the page was drawn for: when it changes, the page reloads to show the new forms and artefacts
        "shown": f"{run.status}:{','.join(gates)}",
    }


def step_rows(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "step": str(step.get("step", "")),
            "status": str(step.get("status", "")),
            "started_at": str(step.get("started_at") or "")[:19].replace("T", " "),
            "seconds": step.get("seconds"),
            "tokens": step.get("tokens"),
            "detail": str(step.get("detail") or ""),
        }
        for step in steps
    ]


def gate_forms(run: CrewRun) -> list[dict[str, Any]]:
    """What each approval form needs while the run waits: the gate, its artefact's name, the JSON to edit and what
    changed since the artefact's previous version (None for a first version)."""
    forms = []
    for gate in waiting_gates(run):
        key = GATES[gate][0]
        artefact = (run.artefacts or {}).get(key)
        forms.append(
            {
                "gate": gate,
                "label": GATE_LABELS.get(gate, gate),
                "artefact_key": key,
                "artefact_json": json.dumps(artefact, indent=2, ensure_ascii=False, default=str) if artefact else "",
                "changes": artefact_changes(key, (run.previous_artefacts or {}).get(key), artefact),
            }
        )
    return forms


def _web(url: str) -> str | None:
    """The URL when it is http(s), else None (nothing from a vendor becomes a javascript: link)."""
    return url if urllib.parse.urlsplit(url).scheme in ("http", "https") else None


def item_links(links: dict[str, Any], bases: dict[str, str]) -> list[dict[str, Any]]:
    """Jira issues, defects, the merge request and Confluence pages the run wrote, with a URL where one is known."""
    found: list[dict[str, Any]] = []
    jira, confluence = bases.get("jira", "").rstrip("/"), bases.get("confluence", "").rstrip("/")

    def jira_url(issue: str) -> str | None:
        return _web(f"{jira}/browse/{urllib.parse.quote(issue)}") if jira else None

    for artefact_key, issue in sorted((links.get("jira") or {}).items()):
        found.append({"system": "Jira", "what": f"{artefact_key}", "label": str(issue), "url": jira_url(str(issue))})
    for issue in links.get("defects") or []:
        found.append({"system": "Jira", "what": "defect", "label": str(issue), "url": jira_url(str(issue))})
    gitlab = links.get("gitlab") or {}
    if gitlab.get("merge_request"):
        mr = str(gitlab["merge_request"])
        found.append({"system": "GitLab", "what": "merge request", "label": mr, "url": _web(mr)})
    if gitlab.get("branch"):
        found.append({"system": "GitLab", "what": "branch", "label": str(gitlab["branch"]), "url": None})
    for title, page_id in (links.get("confluence") or {}).items():
        url = (
            _web(f"{confluence}/pages/viewpage.action?pageId={urllib.parse.quote(str(page_id))}")
            if confluence
            else None
        )
        found.append({"system": "Confluence", "what": str(title), "label": f"page {page_id}", "url": url})
    return found
