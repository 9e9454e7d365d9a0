"""Run by the crash tests in a process of their own: answers a waiting crew run with "approve" and drives it on,
until the test kills this process with SIGKILL somewhere inside a side-effect step.

    python -m tests.crew.crash_driver DATABASE_URL DATA_DIR RUN_ID [ANSWER_JSON]

ANSWER_JSON, when given, is the answer instead of a plain approve (an edit, or one naming its gate).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

from opsdesk.app.context import AppContext
from opsdesk.crew.flow.runtime import new_crew_flow
from opsdesk.crew.flow.state import Answer
from tests.conftest import make_settings
from tests.crew.conftest import FLOW_POLICY


async def main(database_url: str, data_dir: Path, run_id: uuid.UUID, answer: Answer) -> None:
    ctx = await AppContext.open(make_settings(database_url, data_dir), migrate=False)
    flow = await new_crew_flow(ctx, policy=FLOW_POLICY)
    print("driving", flush=True)
    await flow.answer(run_id, answer)
    print("finished", flush=True)  # the test kills the process before this


if __name__ == "__main__":
    given = Answer.model_validate(json.loads(sys.argv[4])) if len(sys.argv) > 4 else Answer(decision="approve")
    asyncio.run(main(sys.argv[1], Path(sys.argv[2]), uuid.UUID(sys.argv[3]), given))
