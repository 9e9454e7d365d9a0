"""Ingestion runs on the job layer: every ingestion job gets its `jobs` row (task `knowledge.ingest`, same id)

Rows queued or running before the upgrade are queued again (their old worker is gone; they resume from their
report); finished ones are recorded as finished, so that the jobs API lists every ingestion job once.

Revision ID: 0052
Revises: 0051
Create Date: 2026-12-07 01:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0052"
down_revision: str | None = "0051"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CANCELLED = "Cancelled over the jobs API."  # how the old view told a cancelled ingestion job from a failed one

# Rows a stopped worker was running are queued again: their old worker is gone, and they resume from their report.
QUEUE_RUNNING = "UPDATE ingestion_jobs SET status = 'queued', heartbeat_at = NULL WHERE status = 'running'"
BACKFILL = f"""
        INSERT INTO jobs (id, workspace_id, task, payload, status, attempts, max_attempts, run_after, heartbeat_at,
                          started_at, finished_at, last_error, result, dedupe_key, trace_context, created_at,
                          updated_at)
        SELECT i.id, i.workspace_id, 'knowledge.ingest',
               jsonb_build_object('ingestion_job_id', i.id::text, 'kb_id', i.kb_id::text, 'kind', i.kind),
               CASE WHEN i.status = 'done' THEN 'succeeded'
                    WHEN i.status = 'failed' AND i.error = '{_CANCELLED}' THEN 'cancelled'
                    ELSE i.status END,
               i.attempts,
               CASE WHEN i.status = 'queued' THEN i.attempts + 5 ELSE greatest(i.attempts, 5) END,
               i.created_at, NULL, i.started_at, i.finished_at,
               CASE WHEN i.status = 'failed' THEN i.error END,
               CASE WHEN i.status = 'done' THEN jsonb_build_object(
                   'total_items', i.total_items, 'done_items', i.done_items,
                   'failed_items', i.failed_items, 'skipped_items', i.skipped_items) END,
               NULL, '{{}}'::jsonb, i.created_at, coalesce(i.finished_at, i.started_at, i.created_at)
        FROM ingestion_jobs AS i
        WHERE EXISTS (SELECT 1 FROM workspaces AS w WHERE w.id = i.workspace_id)
          AND NOT EXISTS (SELECT 1 FROM jobs AS j WHERE j.id = i.id)
"""


def upgrade() -> None:
    op.execute(QUEUE_RUNNING)
    op.execute(BACKFILL)


def downgrade() -> None:
    # The ingestion rows keep their own state; the old code claims the queued ones from `ingestion_jobs` again.
    op.execute("DELETE FROM jobs WHERE task = 'knowledge.ingest'")
