"""A live opsdesk (uvicorn on 127.0.0.1) whose upstream model is the fake OpenAI server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from tests.conftest import Tenant, make_settings, make_tenant
from tests.fakes.openai_server import FakeOpenAI
from tests.support.live_server import LiveServer


@pytest.fixture(scope="session")
def upstream() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply="Paris is the capital of France.", model="upstream-model") as server:
        yield server


@dataclass
class LiveOpsdesk:
    url: str
    tenant: Tenant
    context: AppContext


@pytest.fixture
async def live(database_url: str, tmp_path: Path, upstream: FakeOpenAI) -> AsyncIterator[LiveOpsdesk]:
    """opsdesk serving real HTTP, configured with one hosted provider ("openai") pointing at the fake."""
    upstream.reset()
    settings = make_settings(
        database_url,
        tmp_path,
        openai_api_key=SecretStr("sk-upstream-test"),
        openai_base_url=upstream.url,
        openai_model="upstream-model",
    )
    context = await AppContext.open(settings, migrate=False)
    tenant = await make_tenant(context, "live")
    server = LiveServer(create_app(settings)).start()
    try:
        yield LiveOpsdesk(url=server.url, tenant=tenant, context=context)
    finally:
        server.stop()
        await context.close()
