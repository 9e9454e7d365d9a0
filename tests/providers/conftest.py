"""Fixtures for the provider tests: the vendor fakes (one server each per session) and the local models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.llamacpp_chat import LlamaCppChat, default_local_model_path
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.providers.support import OPENED


@pytest.fixture(autouse=True)
async def _close_opened_providers() -> AsyncIterator[None]:
    yield
    while OPENED:
        await OPENED.pop().aclose()


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="session")
def _second_openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply="Hello from the backup.") as server:
        yield server


@pytest.fixture(scope="session")
def _anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def openai_server(_openai_server: FakeOpenAI) -> FakeOpenAI:
    """The fake OpenAI API with an empty script and no recorded requests."""
    _openai_server.reset()
    return _openai_server


@pytest.fixture
def backup_server(_second_openai_server: FakeOpenAI) -> FakeOpenAI:
    """A second fake OpenAI API, for fallback tests."""
    _second_openai_server.reset()
    return _second_openai_server


@pytest.fixture
def anthropic_server(_anthropic_server: FakeAnthropic) -> FakeAnthropic:
    """The fake Anthropic API with an empty script and no recorded requests."""
    _anthropic_server.reset()
    return _anthropic_server


@pytest.fixture(scope="session")
async def local_llm() -> AsyncIterator[LlamaCppChat]:
    """SmolLM2-135M loaded once for the session."""
    cfg = ProviderSettings(kind="llamacpp", model="smollm2-135m-instruct", timeout_s=60, max_retries=0)
    # One thread: on a busy machine llama.cpp's worker threads spin against each other and two are slower than one.
    chat = LlamaCppChat("local", cfg, default_local_model_path(), n_threads=1, n_ctx=2048)
    await chat.warmup()
    yield chat
    await chat.aclose()
