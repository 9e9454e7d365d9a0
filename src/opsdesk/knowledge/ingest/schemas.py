"""Request and response bodies of ingestion: what to ingest (API documents, a crawl, a git repository) and jobs."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from opsdesk.core.errors import InvalidInput
from opsdesk.knowledge.schemas import Input, Tags
from opsdesk.knowledge.sources.fetch import site_of_host
from opsdesk.knowledge.sources.git import MAX_BRANCH_CHARS, branch_problem
from opsdesk.knowledge.sources.scope import MAX_PATTERN_CHARS, MAX_PATTERNS, pattern_problem

MAX_ALLOWED_HOSTS = 20


def _pattern(value: str) -> str:
    value = value.strip()
    problem = pattern_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _branch(value: str | None) -> str | None:
    if value is not None and (problem := branch_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _host(value: str) -> str:
    try:
        return site_of_host(value)
    except InvalidInput as exc:
        raise ValueError(exc.message) from None


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


PathPattern = Annotated[str, Field(min_length=1, max_length=MAX_PATTERN_CHARS), AfterValidator(_pattern)]
PathPatterns = Annotated[list[PathPattern], Field(max_length=MAX_PATTERNS), AfterValidator(_unique)]
HostName = Annotated[str, Field(min_length=1, max_length=253), AfterValidator(_host)]
_PATTERNS_HELP = (
    "Glob patterns of paths from the root: * within a folder, ** any folders, a trailing / everything under it, "
    "a pattern without / a file name anywhere (*.md)."
)


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
    allowed_hosts: Annotated[list[HostName], Field(max_length=MAX_ALLOWED_HOSTS), AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Hosts the crawl may also follow links to (with their subdomains), besides the start URL's host.",
    )
    paths: PathPatterns = Field(
        default_factory=list, description="Follow only links whose URL path matches one. " + _PATTERNS_HELP
    )
    exclude: PathPatterns = Field(default_factory=list, description="Never follow links whose URL path matches one.")


class GitIngest(Input):
    kind: Literal["git"]
    source: str = Field(min_length=1, max_length=2048, description="An http(s) URL of a git repository.")
    tags: Tags = Field(default_factory=list)
    branch: Annotated[str | None, AfterValidator(_branch)] = Field(
        default=None,
        min_length=1,
        max_length=MAX_BRANCH_CHARS,
        description="A branch or tag to read; default: the repository's default branch.",
    )
    paths: PathPatterns = Field(default_factory=list, description="Read only files matching one. " + _PATTERNS_HELP)
    exclude: PathPatterns = Field(default_factory=list, description="Leave out files matching one.")


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
