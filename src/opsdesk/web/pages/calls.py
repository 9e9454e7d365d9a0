"""Calls: the calls going on now with their last turns, and the voice desk's call records (caller as stored, intents,
identity check, transfer, end reason) with filters, and one call's masked transcript turn by turn with its per-stage
latencies; operators and admins also listen to its recording (signed in by the session cookie; each download
audited). Live parts refresh themselves with htmx polling. Read only: nothing here writes.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import Query
from starlette.responses import Response

from opsdesk.voice.calls import recordings
from opsdesk.voice.calls import service as calls
from opsdesk.voice.calls.models import VoiceCall
from opsdesk.voice.calls.routes import recording_response
from opsdesk.web.console import Console, PageConsole, page_router
from opsdesk.web.templating import render, render_fragment

router = page_router()
PAGE_SIZE = 50
# Where a caller reaches the desk when opsdesk runs it (`opsdesk up --voice-port 5060`; docs/voice.md).
DESK_URI = "sip:desk@127.0.0.1:5060"
POLL_SECONDS = 2  # how often the live parts fetch themselves again
LIVE_SHOWN = 20  # calls in "Live now"
LAST_TURNS = 4  # turns of each live call shown in the list
Transferred = Literal["", "yes", "no"]
_TRANSFERRED: dict[Transferred, bool | None] = {"": None, "yes": True, "no": False}


def call_row(row: VoiceCall) -> dict[str, Any]:
    """A call as the list shows it (the caller as stored: the From URI's user part)."""
    duration = (row.ended_at - row.started_at).total_seconds() if row.ended_at else None
    return {
        "call_id": row.call_id,
        "caller": row.caller,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "duration_s": round(duration, 1) if duration is not None else None,
        "intents": list(row.intents or []),
        "auth_outcome": row.auth_outcome,
        "transfers": row.transfers,
        "end_reason": row.end_reason,
        "recorded": row.recorded,  # never the file's path: this dict is also the page's JSON
        "live": row.live,
    }


def _turns(row: VoiceCall) -> list[dict[str, str]]:
    return [
        {"who": str(turn.get("who", "")), "text": str(turn.get("text", ""))}
        for turn in (row.transcript or [])
        if isinstance(turn, dict)
    ]


def live_row(row: VoiceCall, now: datetime) -> dict[str, Any]:
    """A call going on as "Live now" shows it: how long so far, and its last turns."""
    return {
        "call_id": row.call_id,
        "caller": row.caller,
        "started_at": row.started_at,
        "duration_s": max(0, round((now - row.started_at).total_seconds())),
        "turns": _turns(row)[-LAST_TURNS:],
    }


async def _live_calls(c: Console) -> dict[str, Any]:
    async with c.ctx.db.session() as db:
        rows, total = await calls.list_calls(db, c.signed_in_principal.workspace_id, live=True, limit=LIVE_SHOWN)
    now = datetime.now(UTC)
    return {"live": [live_row(row, now) for row in rows], "live_total": total, "poll": POLL_SECONDS}


@router.get("/calls")
async def calls_page(
    end_reason: str = Query("", max_length=64),
    transferred: Transferred = Query(""),
    page: int = Query(1, ge=1, le=100_000),
    part: Literal["", "live"] = Query(""),
    c: Console = PageConsole,
) -> Response:
    """The calls going on now; ended calls newest first, filtered by end reason and transfer, a page at a time; how
    to call the desk. `part=live` is the "Live now" part alone, which the page fetches every few seconds."""
    live = await _live_calls(c)
    if part == "live":
        return render_fragment(c, "calls_live.html", live)
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        rows, total = await calls.list_calls(
            db,
            principal.workspace_id,
            end_reason=end_reason or None,
            transferred=_TRANSFERRED[transferred],
            live=False,
            limit=PAGE_SIZE,
            offset=(page - 1) * PAGE_SIZE,
        )
        reasons = await calls.end_reasons(db, principal.workspace_id)
    filters = {"end_reason": end_reason, "transferred": transferred}
    query = urllib.parse.urlencode({k: v for k, v in filters.items() if v})
    return render(
        c,
        "calls.html",
        {
            "calls": [call_row(row) for row in rows],
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "query": query,
            "filters": filters,
            "end_reasons": reasons,
            "any_call": bool(reasons),
            "desk_uri": DESK_URI,
            **live,
        },
    )


def latency_rows(stage_latencies: dict[str, Any]) -> list[dict[str, Any]]:
    """The call's stage latencies as table rows (stages are named by their processors), by stage name."""
    rows = []
    for stage, numbers in sorted(stage_latencies.items()):
        values = numbers if isinstance(numbers, dict) else {}
        rows.append(
            {
                "stage": stage,
                "count": int(values.get("count", 0) or 0),
                **{key: values.get(key) for key in ("p50_ms", "p95_ms", "max_ms")},
            }
        )
    return rows


# Before the call's page: its `{call_id:path}` would take ".../recording" as part of the Call-ID.
@router.get("/calls/{call_id:path}/recording")
async def call_recording(call_id: str, c: Console = PageConsole) -> Response:
    """The call's recording for the page's player (the API's route wants a bearer token the page does not hold)."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        call, path = await recordings.recording_for_download(
            db, c.ctx.settings.voice_recordings_dir, principal, call_id, route="GET /calls/{call_id:path}/recording"
        )
    return recording_response(call, path)


@router.get("/calls/{call_id:path}")
async def call_page(call_id: str, part: Literal["", "transcript"] = Query(""), c: Console = PageConsole) -> Response:
    """One call: its summary, the masked transcript turn by turn and how long each pipeline stage took. While the
    call goes on, the page fetches its transcript part (`part=transcript`) every few seconds."""
    principal = c.signed_in_principal
    async with c.ctx.db.session() as db:
        row = await calls.get_call(db, principal.workspace_id, call_id)
    data = {"call": call_row(row), "transcript": _turns(row), "poll": POLL_SECONDS}
    if part == "transcript":
        return render_fragment(c, "call_transcript.html", data)
    data |= {"transfer_summary": row.transfer_summary, "latencies": latency_rows(row.stage_latencies or {})}
    return render(c, "call.html", data)
