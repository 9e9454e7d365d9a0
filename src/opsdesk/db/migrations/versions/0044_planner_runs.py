"""Planner runs: forecast runs and their series, recommendation runs and lines, learning cycles, planner state

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-06 19:40:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0044"
down_revision: str | None = "0043"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = postgresql.JSONB(astext_type=sa.Text())


def _id(table: str) -> list[Any]:
    return [sa.Column("id", sa.Uuid(), nullable=False), sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}"))]


def _created() -> sa.Column[Any]:
    return sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False)


def _workspace(table: str) -> list[Any]:
    return [
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f(f"fk_{table}_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
    ]


def _workspace_index(table: str) -> None:
    op.create_index(op.f(f"ix_{table}_workspace_id"), table, ["workspace_id"], unique=False)


def upgrade() -> None:
    table = "planner_forecast_runs"
    op.create_table(
        table,
        *_id(table),
        _created(),
        *_workspace(table),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("freq", sa.String(length=8), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("history_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("history_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("series", sa.Integer(), nullable=False),
        sa.Column("reconciliation", sa.String(length=64), nullable=True),
        sa.Column("summary", _JSON, nullable=False),
        sa.Column("progress", _JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed')", name=op.f(f"ck_{table}_status")),
    )
    _workspace_index(table)

    table = "planner_forecasts"
    op.create_table(
        table,
        *_id(table),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        *_workspace(table),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("pattern", sa.String(length=16), nullable=False),
        sa.Column("backtest_mase", sa.Float(), nullable=True),
        sa.Column("backtest_smape", sa.Float(), nullable=True),
        sa.Column("fallback", sa.Text(), nullable=True),
        sa.Column("values", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_forecast_runs.id"],
            name=op.f(f"fk_{table}_run_id_planner_forecast_runs"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("run_id", "level", "key", name="uq_planner_forecasts_run_level_key"),
        sa.CheckConstraint("level IN ('item', 'line', 'total')", name=op.f(f"ck_{table}_level")),
    )
    _workspace_index(table)

    table = "planner_recommendation_runs"
    op.create_table(
        table,
        *_id(table),
        _created(),
        *_workspace(table),
        sa.Column("forecast_run_id", sa.Uuid(), nullable=False),
        sa.Column("base_run_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("constraints", _JSON, nullable=False),
        sa.Column("weights", _JSON, nullable=False),
        sa.Column("totals", _JSON, nullable=False),
        sa.Column("usage", _JSON, nullable=False),
        sa.Column("infeasibility", _JSON, nullable=True),
        sa.Column("stats", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["forecast_run_id"],
            ["planner_forecast_runs.id"],
            name=op.f(f"fk_{table}_forecast_run_id_planner_forecast_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["base_run_id"],
            ["planner_recommendation_runs.id"],
            name=op.f(f"fk_{table}_base_run_id_planner_recommendation_runs"),
            ondelete="CASCADE",
        ),
    )
    _workspace_index(table)
    op.create_index(op.f(f"ix_{table}_forecast_run_id"), table, ["forecast_run_id"], unique=False)

    table = "planner_recommendation_lines"
    op.create_table(
        table,
        *_id(table),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("item_key", sa.String(length=100), nullable=False),
        sa.Column("model_line", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("packs", sa.Integer(), nullable=False),
        sa.Column("target", _JSON, nullable=False),
        sa.Column("stock_after", sa.Integer(), nullable=False),
        sa.Column("days_of_supply_after", sa.Float(), nullable=True),
        sa.Column("expected_gross_profit", sa.Float(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("bound_by", _JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["planner_recommendation_runs.id"],
            name=op.f(f"fk_{table}_run_id_planner_recommendation_runs"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("run_id", "item_key", name="uq_planner_recommendation_lines_run_item"),
    )
    op.create_index(op.f(f"ix_{table}_run_id"), table, ["run_id"], unique=False)

    table = "planner_learning_cycles"
    op.create_table(
        table,
        *_id(table),
        _created(),
        *_workspace(table),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("old_weights", _JSON, nullable=False),
        sa.Column("new_weights", _JSON, nullable=False),
        sa.Column("objective_before", sa.Float(), nullable=False),
        sa.Column("objective_after", sa.Float(), nullable=False),
        sa.Column("details", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
    )
    _workspace_index(table)

    table = "planner_state"
    op.create_table(
        table,
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("constraints", _JSON, nullable=False),
        sa.Column("weights", _JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name=op.f(f"fk_{table}_workspace_id_workspaces"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f(f"pk_{table}")),
    )


def downgrade() -> None:
    for table in (
        "planner_state",
        "planner_learning_cycles",
        "planner_recommendation_lines",
        "planner_recommendation_runs",
        "planner_forecasts",
        "planner_forecast_runs",
    ):
        op.drop_table(table)
