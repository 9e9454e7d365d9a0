"""Lower CPU priority (Linux niceness) for background work, so it yields the cores to requests."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from opsdesk.core.logging import get_logger

_log = get_logger("opsdesk.priority")


def lower_thread_priority(nice: int) -> None:
    """Renices the calling thread only (Linux priorities are per thread; threads it starts inherit them)."""
    with contextlib.suppress(OSError):  # not permitted (or not Linux): run at the normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


def lower_process_priority(pid: int, nice: int, *, expected_name: str) -> None:
    """Renices another process of this machine, if it is the one expected (`/proc/<pid>/comm`) and ours to renice."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != expected_name:
            return  # not that program here: it runs elsewhere after all
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError as exc:  # no permission, not Linux: the work runs at the normal priority
        _log.debug("priority_unchanged", pid=pid, error=str(exc))
