"""Importing the planner's routes and task registry loads no forecasting, statistics or plotting library: every API
process and worker imports them at start, and those libraries are loaded on first use instead."""

from __future__ import annotations

import json
import subprocess
import sys

# statsforecast pulls utilsforecast, dask.dataframe and statsmodels; scipy.stats alone is about a second, pandas a
# third of one (only the planner uses it).
_FORECASTING = (
    "pandas",
    "statsforecast",
    "statsmodels",
    "dask",
    "utilsforecast",
    "hierarchicalforecast",
    "mlforecast",
    "lightgbm",
)
_DRAWING = ("matplotlib", "plotly", "kaleido", "fpdf")
_PLANNER_ENTRY_POINTS = ("opsdesk.planner.routes", "opsdesk.planner.reports.routes", "opsdesk.planner.runs.tasks")


def _loaded_after(imports: str, watched: tuple[str, ...]) -> list[str]:
    """Which of ``watched`` are in ``sys.modules`` after running ``imports`` in a fresh interpreter."""
    script = f"import json, sys\n{imports}\nprint(json.dumps(sorted(m for m in {watched!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_planner_routes_and_tasks_load_no_forecasting_statistics_or_drawing_library() -> None:
    imports = "\n".join(f"import {module}" for module in _PLANNER_ENTRY_POINTS)
    assert _loaded_after(imports, (*_FORECASTING, "scipy.stats", *_DRAWING)) == []


def test_api_import_loads_no_forecasting_statistics_or_drawing_library() -> None:
    assert _loaded_after("import opsdesk.api", (*_FORECASTING, "scipy.stats", *_DRAWING)) == []


def test_worker_task_registry_loads_no_forecasting_statistics_or_drawing_library() -> None:
    imports = "import importlib\nfrom opsdesk import cli\nfor m in cli.TASK_MODULES: importlib.import_module(m)"
    assert _loaded_after(imports, (*_FORECASTING, "scipy.stats", *_DRAWING)) == []
