"""Rules the code base keeps everywhere, checked statically."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "opsdesk"


def test_request_sessions_commit_before_the_response() -> None:
    """`Depends(get_session)` without scope="function" commits after the response is sent."""
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in SRC.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"Depends\(get_session\)", line)
    ]
    assert not offenders, f"use Depends(get_session, scope='function') in: {offenders}"
