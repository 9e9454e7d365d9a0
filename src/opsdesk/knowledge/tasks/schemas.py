"""Request and response bodies of a knowledge base's tasks."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from opsdesk.knowledge.schemas import Input


class TaskStatus(StrEnum):
    todo = "todo"
    in_progress = "in_progress"
    blocked = "blocked"
    done = "done"


class TaskPriority(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    urgent = "urgent"


class TaskIn(Input):
    title: str = Field(min_length=1, max_length=300)
    description: str = Field(default="", max_length=20_000)
    status: TaskStatus = TaskStatus.todo
    priority: TaskPriority = TaskPriority.medium
    assignee: str | None = Field(default=None, max_length=200)
    depends_on: list[uuid.UUID] = Field(default_factory=list, max_length=200)


class TaskUpdate(Input):
    """Only the fields given change; ``depends_on`` replaces the whole list."""

    title: str | None = Field(default=None, min_length=1, max_length=300)
    description: str | None = Field(default=None, max_length=20_000)
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    assignee: str | None = Field(default=None, max_length=200)
    depends_on: list[uuid.UUID] | None = Field(default=None, max_length=200)


class TaskOut(BaseModel):
    id: uuid.UUID
    kb_id: uuid.UUID
    title: str
    description: str
    status: TaskStatus
    priority: TaskPriority
    assignee: str | None
    depends_on: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime
