"""Tasks by name: `@task("orders.retry_pending_invoices")` registers an async function, its retry policy and its
schedule. A worker runs only the tasks registered in its process; a job of any other name waits for one that has it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from croniter import croniter

from opsdesk.core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often a task is tried and how long a failure waits: exponential from `base_s`, at most `cap_s`, jittered
    to between half and all of that so that jobs failing together do not come back together."""

    max_attempts: int = 3
    base_s: float = 5.0
    cap_s: float = 600.0

    def backoff_s(self, attempt: int, *, jitter: Callable[[], float] = random.random) -> float:
        ceiling = min(self.cap_s, self.base_s * 2.0 ** max(0, attempt - 1))
        return float(ceiling * (0.5 + jitter() / 2))


@dataclass(frozen=True, slots=True)
class JobRun:
    """What a task function gets besides the process's context: which job, its payload and which attempt this is."""

    id: uuid.UUID
    task: str
    workspace_id: uuid.UUID | None
    payload: dict[str, Any]
    attempt: int
    last_attempt: bool = False  # a retryable failure now fails the job: a task may record that for its users


@dataclass(frozen=True, slots=True)
class JobChange:
    """A job's state changed without its task running: cancelled or retried over the API, or put back (or failed
    for good) after its worker went silent."""

    job_id: uuid.UUID
    cause: str  # cancelled or retried (over the API), worker_lost (no heartbeat: put back, or failed for good)
    status: str  # what the job is now: queued, failed or cancelled
    error: str | None = None


# Called in the transaction that makes the change, so a task that keeps state of its own (ingestion's row) follows.
ChangeHook = Callable[["AsyncSession", JobChange], Awaitable[None]]

# A task gets the process's context (opsdesk.app.context.AppContext in the app) and the job it runs; what it
# returns (JSON) is stored as the job's result.
TaskFunction = Callable[[Any, JobRun], Awaitable[Any]]
Interval = float | Callable[[Settings], float]


@dataclass(frozen=True, slots=True)
class Task:
    name: str
    function: TaskFunction
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    cron: str | None = None  # recurs on this cron expression (UTC) ...
    every: Interval | None = None  # ... or every so many seconds (a number, or read from the settings)
    on_change: ChangeHook | None = None

    def interval_s(self, settings: Settings) -> float | None:
        if self.every is None:
            return None
        return float(self.every(settings) if callable(self.every) else self.every)

    @property
    def scheduled(self) -> bool:
        return self.cron is not None or self.every is not None


class JobFailed(Exception):
    """Raised by a task for a failure that trying again cannot fix: the job fails at once with this message."""


class UnknownTask(LookupError):
    """No task of this name is registered in this process."""


_TASKS: dict[str, Task] = {}


def task(
    name: str,
    *,
    max_attempts: int = 3,
    backoff_base_s: float = 5.0,
    backoff_cap_s: float = 600.0,
    cron: str | None = None,
    every: Interval | None = None,
    on_change: ChangeHook | None = None,
) -> Callable[[TaskFunction], TaskFunction]:
    """Registers the decorated async function as the task `name`; with `cron` or `every` it also recurs; `on_change`
    hears of the changes the job layer makes to its jobs without running it."""
    if cron is not None and every is not None:
        raise ValueError(f"Task {name}: a schedule is a cron expression or an interval, not both.")
    if cron is not None and not croniter.is_valid(cron):
        raise ValueError(f"Task {name}: '{cron}' is not a cron expression.")
    if max_attempts < 1:
        raise ValueError(f"Task {name}: max_attempts must be at least 1.")
    policy = RetryPolicy(max_attempts, backoff_base_s, backoff_cap_s)

    def register(function: TaskFunction) -> TaskFunction:
        found = _TASKS.get(name)
        # Re-importing a module registers the same function again; two different functions under one name is a bug.
        if found is not None and _where(found.function) != _where(function):
            raise ValueError(f"Two tasks are named '{name}'.")
        _TASKS[name] = Task(name, function, policy, cron, every, on_change)
        return function

    return register


def _where(function: TaskFunction) -> tuple[str, str]:
    return getattr(function, "__module__", ""), getattr(function, "__qualname__", "")


def get(name: str) -> Task:
    try:
        return _TASKS[name]
    except KeyError:
        raise UnknownTask(name) from None


def find(name: str) -> Task | None:
    return _TASKS.get(name)


def registered() -> dict[str, Task]:
    """Every task registered in this process, by name."""
    return dict(_TASKS)
