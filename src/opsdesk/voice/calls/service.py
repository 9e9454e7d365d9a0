"""Call records: written when a call starts, after each of its turns and once when it ends, read by the API, purged
after the retention period; and the summary of a transferred call, put in the operator inbox through the
conversation runtime's escalations."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import ColumnElement, and_, delete, not_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.conversation import service as conversations
from opsdesk.conversation.escalation import create_escalation
from opsdesk.conversation.handlers import EscalationRequest
from opsdesk.conversation.models import Escalation
from opsdesk.core.errors import NotFound
from opsdesk.core.logging import get_logger
from opsdesk.core.settings import Settings
from opsdesk.db.paging import page
from opsdesk.voice.banking.dialogue.privacy import mask_caller_text
from opsdesk.voice.banking.dialogue.processor import DialogueOutcome
from opsdesk.voice.calls.models import LIVE_SILENCE, LOST, VoiceCall
from opsdesk.voice.gateway import CallRecord
from opsdesk.voice.pipeline.processor import StageTiming

CHANNEL = "voice"
SOLUTION = "voice_desk"
# The gateway's recording names (`VoiceGateway._save_recording`): 20261207-041500-<call id>.wav
RECORDING_NAME = re.compile(r"\d{8}-\d{6}-[\w.-]+\.wav")
K = TypeVar("K")
_log = get_logger(__name__)


def stage_latencies(timings: list[StageTiming]) -> dict[str, dict[str, float]]:
    """Per stage: how many times it worked, and its p50, p95 and slowest latency in milliseconds."""
    by_stage: dict[str, list[float]] = defaultdict(list)
    for timing in timings:
        by_stage[timing.stage].append(timing.seconds * 1000.0)
    summary: dict[str, dict[str, float]] = {}
    for stage, values in by_stage.items():
        array = np.asarray(values)
        summary[stage] = {
            "count": float(array.size),
            "p50_ms": round(float(np.percentile(array, 50)), 2),
            "p95_ms": round(float(np.percentile(array, 95)), 2),
            "max_ms": round(float(array.max()), 2),
        }
    return summary


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


async def save_live_call(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    call_id: str,
    caller: str,
    started: float,
    outcome: DialogueOutcome,
) -> None:
    """Writes a call that is going on: its row with no end yet and the masked transcript so far (a call whose end is
    saved already is left alone)."""
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "workspace_id": workspace_id,
        "call_id": call_id[:200],
        "caller": caller[:200],
        "started_at": _moment(started),
        "ended_at": None,
        "intents": list(outcome.intents),
        "auth_outcome": outcome.auth,
        "transfers": outcome.transfers,
        "end_reason": LOST,  # what the row says if its end is never saved
        "stage_latencies": {},
        "transcript": list(outcome.transcript),
        "updated_at": datetime.now(UTC),
    }
    await _upsert_unended(session, values, ("intents", "auth_outcome", "transfers", "transcript", "updated_at"))


async def save_call(
    session: AsyncSession, workspace_id: uuid.UUID, record: CallRecord, outcome: DialogueOutcome | None
) -> None:
    """Stores the ended call, filling its live row if it has one (a second save of the same call id changes
    nothing)."""
    if outcome is not None:
        transcript = outcome.transcript
    else:  # a dialogue without its own masked transcript: keep what was heard with every digit masked
        transcript = [{"who": "caller", "text": mask_caller_text(text, "pin")} for text in record.transcripts]
    end_reason = outcome.end_reason if outcome is not None and outcome.end_reason else record.outcome
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "workspace_id": workspace_id,
        "call_id": record.call_id[:200],
        "caller": record.caller[:200],
        "started_at": _moment(record.started),
        "ended_at": _moment(record.ended) if record.ended else now,  # saved at its end: never live again
        "intents": outcome.intents if outcome else [],
        "auth_outcome": outcome.auth if outcome else "none",
        "transfers": outcome.transfers if outcome else int(record.transferred),
        "transfer_summary": (outcome.summary or None) if outcome else None,
        "end_reason": (end_reason or "unknown")[:64],
        "stage_latencies": stage_latencies(record.timings),
        "transcript": transcript,
        "recording": str(record.recording) if record.recording is not None else None,
        "updated_at": now,
    }
    await _upsert_unended(session, values, [key for key in values if key not in ("id", "workspace_id", "call_id")])


async def _upsert_unended(session: AsyncSession, values: dict[str, Any], changed: Sequence[str]) -> None:
    """Inserts the call's row, or sets `changed` on the row it has while that row has no end (an ended call's row
    never changes again)."""
    statement = insert(VoiceCall).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["workspace_id", "call_id"],
            set_={key: values[key] for key in changed},
            where=VoiceCall.ended_at.is_(None),
        )
    )


def _live_now() -> ColumnElement[bool]:
    """Rows of calls going on: no end saved, written within LIVE_SILENCE (older ones are lost calls)."""
    cutoff = datetime.now(UTC) - LIVE_SILENCE
    return and_(VoiceCall.ended_at.is_(None), VoiceCall.updated_at.is_not(None), VoiceCall.updated_at >= cutoff)


async def list_calls(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    end_reason: str | None = None,
    transferred: bool | None = None,
    live: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[VoiceCall], int]:
    """The workspace's calls, newest first; only those that ended for `end_reason`, only those transferred (or
    not) when `transferred` is given, and only those going on now (or not) when `live` is given."""
    query = select(VoiceCall).where(VoiceCall.workspace_id == workspace_id)
    if live is not None:
        query = query.where(_live_now() if live else not_(_live_now()))
    if end_reason:
        query = query.where(VoiceCall.end_reason == end_reason)
    if transferred is not None:
        query = query.where(VoiceCall.transfers > 0 if transferred else VoiceCall.transfers == 0)
    return await page(session, query.order_by(VoiceCall.started_at.desc(), VoiceCall.id), limit, offset)


async def end_reasons(session: AsyncSession, workspace_id: uuid.UUID) -> list[str]:
    """The end reasons the workspace's ended calls have, in alphabetical order (what a filter offers)."""
    rows = await session.scalars(
        select(VoiceCall.end_reason)
        .where(VoiceCall.workspace_id == workspace_id, not_(_live_now()))
        .distinct()
        .order_by(VoiceCall.end_reason)
    )
    return list(rows)


async def get_call(session: AsyncSession, workspace_id: uuid.UUID, call_id: str) -> VoiceCall:
    found = await session.scalar(
        select(VoiceCall).where(VoiceCall.workspace_id == workspace_id, VoiceCall.call_id == call_id)
    )
    if found is None:
        raise NotFound(f"No call {call_id}.", code="voice_call_not_found")
    return found


async def purge_old_calls(
    session: AsyncSession, retention_days: int, *, workspace_id: uuid.UUID | None = None, now: datetime | None = None
) -> int:
    """Deletes call records older than the retention period (0 keeps everything), and the recordings they name;
    how many records went."""
    if retention_days <= 0:
        return 0
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    statement = delete(VoiceCall).where(VoiceCall.started_at < cutoff)
    if workspace_id is not None:
        statement = statement.where(VoiceCall.workspace_id == workspace_id)
    rows = (await session.execute(statement.returning(VoiceCall.id, VoiceCall.recording))).all()
    recordings = {row.id: Path(row.recording) for row in rows if row.recording}
    if recordings:  # a file that cannot be deleted now is logged; the recordings directory's purge retries it
        await asyncio.to_thread(_delete_files, recordings)
    return len(rows)


async def purge_old_recordings(
    session: AsyncSession, retention_days: int, *, workspace_id: uuid.UUID | None = None, now: datetime | None = None
) -> int:
    """Deletes the recordings of calls older than the retention period (0 keeps everything) and clears their
    references; the records stay. How many recordings went."""
    if retention_days <= 0:
        return 0
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    query = select(VoiceCall.id, VoiceCall.recording).where(
        VoiceCall.recording.is_not(None), VoiceCall.started_at < cutoff
    )
    if workspace_id is not None:
        query = query.where(VoiceCall.workspace_id == workspace_id)
    rows = (await session.execute(query)).all()
    if not rows:
        return 0
    # Files first: a file that cannot be deleted keeps its reference, so the next purge tries again.
    gone = await asyncio.to_thread(_delete_files, {row.id: Path(row.recording) for row in rows})
    if gone:
        await session.execute(update(VoiceCall).where(VoiceCall.id.in_(gone)).values(recording=None))
    return len(gone)


def purge_recordings_dir(directory: Path, retention_days: int, *, now: datetime | None = None) -> int:
    """Deletes the gateway's WAV files in `directory` last written before the retention period (0 keeps everything),
    whether or not a call record names them (a gateway without a database keeps no records). How many went."""
    if retention_days <= 0 or not directory.is_dir():
        return 0
    cutoff = ((now or datetime.now(UTC)) - timedelta(days=retention_days)).timestamp()
    old: dict[str, Path] = {}
    for path in directory.iterdir():
        if RECORDING_NAME.fullmatch(path.name) and path.is_file() and path.stat().st_mtime < cutoff:
            old[path.name] = path
    return len(_delete_files(old))


def _delete_files(paths: Mapping[K, Path]) -> list[K]:
    """The keys of the files now gone (deleted, or missing already)."""
    gone: list[K] = []
    for key, path in paths.items():
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            _log.warning("voice.recording_not_deleted", path=str(path), error=f"{type(exc).__name__}: {exc}")
            continue
        gone.append(key)
    return gone


async def escalate_transfer(
    session: AsyncSession, settings: Settings, workspace_id: uuid.UUID, caller: str, summary: str
) -> Escalation:
    """The transferred call's summary as a case in the operator inbox (the caller's voice session, staff level)."""
    conversation = await conversations.open_session(
        session, workspace_id, channel=CHANNEL, sender=(caller or "unknown")[:128], solution=SOLUTION
    )
    request = EscalationRequest(reason=summary, level="staff")
    return await create_escalation(session, settings, conversation, request)
