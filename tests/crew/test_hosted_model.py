"""The hosted-model hook against a local OpenAI-compatible server: the agents ask with the output's JSON schema,
use a valid answer, count its tokens and cost, and a token budget stops the run."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from opsdesk.app.context import AppContext
from opsdesk.core.settings import ProviderSettings
from opsdesk.crew.agents.schemas import Backlog
from opsdesk.crew.flow.runtime import CrewFlow, new_crew_flow
from opsdesk.crew.flow.state import Answer
from opsdesk.crew.runs import service
from opsdesk.crew.runs.schemas import BudgetIn, RunIn
from tests.conftest import make_settings, make_tenant
from tests.crew.conftest import FLOW_POLICY
from tests.crew.test_flow import SAMPLES, load

HOSTED_NOTE = "Refined by the hosted model"


class _CompatibleServer:
    """Answers /v1/chat/completions with the draft from the prompt, a note added where the schema has notes."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._server: uvicorn.Server | None = None

    async def _complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        prompt = body["messages"][-1]["content"]
        draft = json.loads(prompt[prompt.index("return the whole object:\n") + len("return the whole object:\n") :])
        if "notes" in draft:
            draft["notes"] = [*draft["notes"], HOSTED_NOTE]
        answer = {
            "id": "chatcmpl-local",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": json.dumps(draft)}}
            ],
            "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500},
        }
        return JSONResponse(answer)

    def start(self) -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        app = Starlette(routes=[Route("/v1/chat/completions", self._complete, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
        threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True).start()
        while not self._server.started:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


@pytest.fixture
def compatible_server() -> Iterator[_CompatibleServer]:
    server = _CompatibleServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def hosted_ctx(
    database_url: str, tmp_path: Path, compatible_server: _CompatibleServer
) -> AsyncIterator[AppContext]:
    provider = ProviderSettings(
        kind="openai",
        model="local-compatible",
        base_url=compatible_server.url,
        api_key=SecretStr("sk-local-test"),
        timeout_s=10,
        max_retries=0,
        input_cost_per_mtok=1.0,
        output_cost_per_mtok=2.0,
    )
    settings = make_settings(database_url, tmp_path, llm_providers={"compatible": provider})
    context = await AppContext.open(settings, migrate=False)
    yield context
    await context.close()


@pytest.fixture
async def hosted_flow(hosted_ctx: AppContext) -> AsyncIterator[CrewFlow]:
    flow = await new_crew_flow(hosted_ctx, policy=FLOW_POLICY)
    yield flow
    await flow.aclose()


async def _run(ctx: AppContext, **budget: Any) -> Any:
    tenant = await make_tenant(ctx, "hosted")
    async with ctx.db.session() as session:
        body = RunIn(
            requirement=(SAMPLES / "book_library.md").read_text(), model="compatible", budget=BudgetIn(**budget)
        )
        run = await service.create_run(session, tenant.workspace_id, body, created_by="test", enqueue_start=False)
        session.expunge(run)
    return run


async def test_a_hosted_model_answers_with_the_schema_and_its_tokens_and_cost_are_counted(
    hosted_ctx: AppContext, hosted_flow: CrewFlow, compatible_server: _CompatibleServer
) -> None:
    run = await _run(hosted_ctx)
    stop = await hosted_flow.start(run)
    assert stop.gate == "approve_stories"
    sent = compatible_server.requests[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"]["title"] == "Backlog"
    assert "<requirement>" in sent["messages"][-1]["content"]
    assert not re.search(r"opsdesk-demo-token|tok-", json.dumps(sent))  # no credential in any prompt
    backlog = Backlog.model_validate((await load(hosted_ctx, run.id)).artefacts["backlog"])
    assert HOSTED_NOTE in backlog.notes
    stored = await load(hosted_ctx, run.id)
    assert stored.tokens == 1500
    assert stored.cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1_000_000)


async def test_a_token_budget_stops_the_run_after_the_model_spent_it(
    hosted_ctx: AppContext, hosted_flow: CrewFlow
) -> None:
    run = await _run(hosted_ctx, max_tokens=1000)
    await hosted_flow.start(run)
    stop = await hosted_flow.answer(run.id, Answer(decision="approve"))
    assert stop.status == "stopped" and "token budget" in (stop.detail or "")
    assert (await load(hosted_ctx, run.id)).artefacts["backlog"]
