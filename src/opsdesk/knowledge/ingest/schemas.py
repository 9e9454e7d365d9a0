"""Request and response bodies of ingestion: what to ingest (API documents, a crawl, a git repository) and jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from opsdesk.knowledge.schemas import Input, Tags


class ApiDocument(Input):
    key: str = Field(min_length=1, max_length=2048, description="Identifies the document in its knowledge base.")
    title: str | None = Field(default=None, max_length=500, description="Stored as the document's top heading.")
    text: str = Field(max_length=5_000_000)
    tags: Tags = Field(default_factory=list)
    version: str | None = Field(default=None, description="v1.2.3; default: the next patch version.")


class CrawlIngest(Input):
    kind: Literal["crawl"]
    url: str = Field(max_length=2048)
    max_depth: int | None = Field(default=None, ge=0, le=10)
    max_pages: int | None = Field(default=None, ge=1, le=10_000)
    tags: Tags = Field(default_factory=list)


class GitIngest(Input):
    kind: Literal["git"]
    source: str = Field(min_length=1, max_length=2048, description="An http(s) URL of a git repository.")
    tags: Tags = Field(default_factory=list)


class ApiIngest(Input):
    kind: Literal["api"]
    documents: list[ApiDocument] = Field(min_length=1, max_length=10_000)


IngestRequest = Annotated[CrawlIngest | GitIngest | ApiIngest, Field(discriminator="kind")]


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class JobItemOut(BaseModel):
    """One item's outcome: ingested, unchanged (same content as the latest version), failed or skipped."""

    key: str
    outcome: str
    reason: str | None = None
    document_id: uuid.UUID | None = None
    version: str | None = None
    chunks: int | None = None


class JobOut(BaseModel):
    id: uuid.UUID
    kb_id: uuid.UUID
    kind: str
    status: JobStatus
    error: str | None
    params: dict[str, Any]
    attempts: int
    total_items: int
    done_items: int
    failed_items: int
    skipped_items: int
    progress: float = Field(description="Finished items over known items, 0 to 1.")
    report: list[JobItemOut]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
