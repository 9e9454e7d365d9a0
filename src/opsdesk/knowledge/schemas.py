"""Request and response bodies of the knowledge API: bases, documents, versions, chunks. Ingestion's are in
`knowledge.ingest.schemas`, tasks' in `knowledge.tasks.schemas`; `Input` and `Tags` are shared with them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
Tag = Annotated[str, Field(min_length=1, max_length=64)]
Tags = Annotated[list[Tag], Field(max_length=50)]


def _check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError("a name is 1-100 letters, digits, spaces, dots, dashes or underscores, starting alphanumeric")
    try:
        uuid.UUID(value)
    except ValueError:
        return value
    raise ValueError("a name cannot look like an id")


def _clean_tags(value: list[str]) -> list[str]:
    return list(dict.fromkeys(tag.strip() for tag in value if tag.strip()))


class Input(BaseModel):
    """A request body: unknown fields refused, and no NUL characters (PostgreSQL text cannot store them)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and "\x00" in text for text in texts):
            raise ValueError("must not contain NUL characters")
        return value


class KbStatus(StrEnum):
    active = "active"
    archived = "archived"


class KnowledgeBaseIn(Input):
    name: str = Field(description="Unique in the workspace; used in paths instead of the id.")
    description: str = Field(default="", max_length=10_000)
    tags: Tags = Field(default_factory=list)
    parent: str | None = Field(default=None, description="Name or id of a parent knowledge base.")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return _check_name(value)

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        return _clean_tags(value)


class KnowledgeBaseUpdate(Input):
    """Only the fields given change; ``parent: null`` detaches from the parent."""

    name: str | None = None
    description: str | None = Field(default=None, max_length=10_000)
    status: KbStatus | None = None
    tags: Tags | None = None
    parent: str | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_name(value)

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _clean_tags(value)


class KnowledgeBaseOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    status: KbStatus
    tags: list[str]
    parent_id: uuid.UUID | None
    content_version: int
    created_at: datetime
    updated_at: datetime


class VersionOut(BaseModel):
    id: uuid.UUID
    document_id: uuid.UUID
    version: str
    content_hash: str
    size_bytes: int
    content_type: str | None
    status: str
    error: str | None
    chunk_count: int
    created_at: datetime


class DocumentOut(BaseModel):
    id: uuid.UUID
    kb_id: uuid.UUID
    source_key: str
    title: str
    source: str
    doc_type: str
    tags: list[str]
    metadata: dict[str, Any]
    status: str
    error: str | None
    latest_version_id: uuid.UUID | None
    latest_version: str | None
    created_at: datetime
    updated_at: datetime


class DocumentDetail(DocumentOut):
    versions: list[VersionOut] = Field(description="Newest first (at most 100; the versions list pages further).")
    versions_total: int


class ChunkOut(BaseModel):
    id: uuid.UUID
    ordinal: int
    text: str
    section_path: str
    page: int | None
    token_count: int
