"""Where a benchmark's results go: `bench/results/<name>.json`, and with `--json` one JSON line last on stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def publish(name: str, results: dict[str, Any], *, as_json: bool) -> None:
    """Keeps the run in `bench/results/<name>.json`; `as_json` also prints it as the last line."""
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(results, indent=2))
    if as_json:
        print(json.dumps(results))
