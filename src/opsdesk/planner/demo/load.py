"""Loads the demo dealership into a workspace through the same importer and constraints a user would use."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.planner.demo.dealership import dealership_files
from opsdesk.planner.imports.schemas import ImportKind, ImportOptions, ImportReport, UploadedFile
from opsdesk.planner.imports.service import import_files
from opsdesk.planner.runs.recommendations import save_constraints
from opsdesk.planner.runs.schemas import ConstraintsIn, MixShareIn

KINDS: dict[str, ImportKind] = {
    "items.csv": "items",
    "inventory.csv": "inventory",
    "sales.csv": "sales",
    "market.csv": "market",
    "allocations.csv": "allocations",
    "feedback.csv": "feedback",
    "on_order.csv": "on_order",
}


def demo_constraints(raw: Mapping[str, Any]) -> ConstraintsIn:
    """The demo's constraints.json in the API's shape (its mix bounds are shares of the stock after the order)."""
    mix = [
        MixShareIn(line=line, min_share=float(bounds["min"]), max_share=float(bounds["max"]), basis="stock")
        for line, bounds in sorted(dict(raw.get("mix", {})).items())
    ]
    return ConstraintsIn(
        budget=raw.get("budget"),
        lot_space=raw.get("lot_space"),
        allocation={str(k): int(v) for k, v in dict(raw.get("allocation", {})).items()},
        mix=mix,
        min_days_of_supply=float(raw.get("min_days_of_supply", 0)),
        currency=str(raw.get("currency", "USD")),
    )


async def load_dealership(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    *,
    files: Mapping[str, bytes] | None = None,
    skus: set[str] | None = None,
    created_by: str = "demo",
) -> ImportReport:
    """Imports the demo's files (all or nothing) and sets its constraints; `skus` keeps only those items (tests)."""
    files = dict(files or dealership_files())
    if skus is not None:
        files = {name: _only(data, skus) if name in KINDS else data for name, data in files.items()}
    uploads = [UploadedFile(kind=kind, file_name=name, data=files[name]) for name, kind in KINDS.items()]
    raw = json.loads(files["constraints.json"])
    today = date.fromisoformat(str(raw.get("period_start"))) if raw.get("period_start") else None
    report = await import_files(
        session, workspace_id, uploads, created_by=created_by, options=ImportOptions(today=today)
    )
    if report.applied or all(f.already_imported for f in report.files):
        await save_constraints(session, workspace_id, demo_constraints(raw))
    return report


def _only(data: bytes, skus: set[str]) -> bytes:
    """The CSV's header and the rows of `skus` (rows without a sku column are kept)."""
    lines = data.decode().splitlines()
    header = lines[0].split(",")
    if "sku" not in header:
        return data
    at = header.index("sku")
    kept = [lines[0], *(line for line in lines[1:] if line.split(",")[at] in skus)]
    return ("\n".join(kept) + "\n").encode()
