"""Crew: the delivery crew's runs; start one on a requirement, follow it live (the run's server-sent events tell the
page when to fetch its progress part again), read its artefacts as text, and answer its approvals (approve, edit,
reject with a comment) — the crew runs API's services."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from fastapi import Form, Query
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.responses import RedirectResponse, Response

from opsdesk.core.errors import InvalidInput
from opsdesk.crew.connections import service as connections
from opsdesk.crew.runs import service as runs
from opsdesk.crew.runs.schemas import Answer, ResumeIn, RunIn
from opsdesk.db.idempotency import run_idempotent
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.pages.crew_artefacts import artefact_views, gate_forms, item_links, run_summary, step_rows
from opsdesk.web.templating import render, render_fragment

router = page_router()
PAGE_SIZE = 25
POLL_SECONDS = 2  # how often the page asks for its progress part where it cannot follow the run's events
# What the run page may say was just done (never free text from the URL).
DONE = {
    "started": "Run started. The page follows it; it stops at each approval.",
    "approved": "Approved: the run goes on.",
    "edited": "Your edit was saved and the run goes on with it.",
    "rejected": "Rejected: the step runs again with your comment.",
    "resumed": "The run goes on from its last checkpoint.",
}


def _invalid(exc: ValidationError) -> InvalidInput:
    errors = exc.errors()
    if not errors:
        return InvalidInput("Some fields of the form are invalid.", code="invalid_value")
    where = ".".join(str(part) for part in errors[0]["loc"])
    return InvalidInput(f"{where + ': ' if where else ''}{errors[0]['msg']}", code="invalid_value")


@router.get("/crew")
async def crew_page(page: int = Query(1, ge=1, le=100_000), c: Console = PageConsole) -> Response:
    """Newest runs first, a page at a time, and the form that starts one."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        rows, total = await runs.list_runs(db, principal.workspace_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(
        c,
        "crew.html",
        {
            "runs": [run_summary(row) for row in rows],
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "models": ["local", *c.ctx.providers.names],
            "form_key": str(uuid.uuid4()),  # a second submit of the same form opens the same run
        },
    )


@router.post("/crew/runs")
async def start_run(
    requirement: str = Form(..., max_length=50_000),
    model: str = Form("local", max_length=200),
    form_key: str = Form("", max_length=200),
    c: Console = PageConsole,
) -> Response:
    """Starts a run on the requirement (as POST …/crew/runs, the form's key as its Idempotency-Key: a double submit
    opens the run the first one started); a worker takes it to its first approval."""
    principal = c.signed_in_principal
    try:
        body = RunIn(requirement=requirement, model=model)
    except ValidationError as exc:
        raise _invalid(exc) from None
    runs.check_model(body.model, c.ctx.providers.names)
    async with c.ctx.db.session() as db:

        async def create() -> dict[str, str]:
            run = await runs.create_run(db, principal.workspace_id, body, created_by=principal.rate_key)
            return {"id": str(run.id)}

        created = await run_idempotent(
            db,
            workspace_id=principal.workspace_id,
            route="console.crew.runs",
            key=form_key or None,
            request=body.model_dump(mode="json"),
            create=create,
            status_code=303,
        )
    run_id = uuid.UUID(str(created["id"]))
    return RedirectResponse(f"/crew/runs/{run_id}?done=started", status_code=303)


@router.get("/crew/runs/{run_id}")
async def run_page(
    run_id: uuid.UUID,
    part: Literal["", "live"] = Query(""),
    shown: str = Query("", max_length=200),
    done: str = Query("", max_length=20),
    c: Console = PageConsole,
) -> Response:
    """A run: status, usage and steps (live while it works), its artefacts, links, and the approval forms."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        run = await runs.get_run(db, principal.workspace_id, run_id)
        summary, steps = run_summary(run), step_rows(run.steps or [])
        if part == "live":
            response = render_fragment(c, "crew_run_live.html", {"run": summary, "steps": steps, "poll": POLL_SECONDS})
            if summary["shown"] != shown:  # a gate opened or closed, or the run ended: new forms and artefacts
                response.headers["HX-Refresh"] = "true"
            return response
        bases = {row.vendor: row.base_url for row in await connections.list_connections(db, principal.workspace_id)}
        data: dict[str, Any] = {
            "run": summary,
            "steps": steps,
            "requirement": run.requirement,
            "artefacts": artefact_views(run.artefacts or {}),
            "links": item_links(run.links or {}, bases),
            "gates": gate_forms(run),
            "flash": DONE.get(done),
            "poll": POLL_SECONDS,
        }
    return render(c, "crew_run.html", data)


@router.get("/crew/runs/{run_id}/events")
async def run_events(run_id: uuid.UUID, c: Console = PageConsole) -> EventSourceResponse:
    """The run's server-sent events for the page's EventSource, signed in by the session cookie (the API's stream
    wants a bearer token the page does not hold): `progress` on each change, then `completed`, `failed` or `stopped`
    — the API's own generator. The page fetches its progress part again on each."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:  # a short session: the stream must not hold a connection
        await runs.get_run(db, principal.workspace_id, run_id)
    return EventSourceResponse(runs.run_events(c.ctx, principal.workspace_id, run_id), ping=15)


@router.post("/crew/runs/{run_id}/answer")
async def answer(
    run_id: uuid.UUID,
    decision: Literal["approve", "edit", "reject"] = Form(...),
    gate: str = Form("", max_length=40),
    artefact: str = Form("", max_length=2_000_000),
    comment: str = Form("", max_length=4000),
    c: Console = PageConsole,
) -> Response:
    """Answers a gate the run waits at (as POST …/runs/{id}/approve, naming the gate: a run can wait at two): 409 when
    it does not wait there, 422 when an edited artefact does not fit its type."""
    principal = c.signed_in_principal
    edited: dict[str, Any] | None = None
    if decision == "edit":
        try:
            edited = json.loads(artefact)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"The edited artefact is not JSON: {exc.msg} (line {exc.lineno}).") from None
        if not isinstance(edited, dict):
            raise InvalidInput("The edited artefact must be a JSON object.", code="invalid_value")
    try:
        given = Answer.model_validate(
            {"decision": decision, "gate": gate or None, "artefact": edited, "comment": comment.strip() or None}
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    async with c.ctx.db.session() as db:
        await runs.submit_answer(db, principal.workspace_id, run_id, given)
    said = {"approve": "approved", "edit": "edited", "reject": "rejected"}[decision]
    return RedirectResponse(f"/crew/runs/{run_id}?done={said}", status_code=303)


@router.post("/crew/runs/{run_id}/resume")
async def resume(run_id: uuid.UUID, c: Console = PageConsole) -> Response:
    """A paused, stopped or failed run goes on from its checkpoint (as POST …/runs/{id}/resume)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        await runs.request_resume(db, principal.workspace_id, run_id, ResumeIn())
    return RedirectResponse(f"/crew/runs/{run_id}?done=resumed", status_code=303)
