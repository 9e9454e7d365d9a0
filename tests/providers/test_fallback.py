"""A fallback chain over real providers: the next member answers once the one before has given up."""

from __future__ import annotations

import pytest

from opsdesk.core.errors import ProviderError, ProviderUnavailable
from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.accounting import CallRecorder
from opsdesk.providers.fallback import FallbackChat
from opsdesk.providers.llm.base import ChatMessage, ChatRequest, InvalidModelRequest
from opsdesk.providers.llm.openai_compat import OpenAIChat
from opsdesk.providers.resilience import ResilientChat
from tests.fakes.openai_server import FakeOpenAI
from tests.providers.support import FAST, openai_cfg, track


def ask(text: str = "Hi") -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)])


def member(name: str, cfg: ProviderSettings) -> ResilientChat:
    chat = ResilientChat(OpenAIChat(name, cfg), cfg, CallRecorder(None), timing=FAST)
    return track(chat)


async def test_complete_moves_on_after_a_members_final_failure(
    openai_server: FakeOpenAI, backup_server: FakeOpenAI
) -> None:
    primary = member("primary", openai_cfg(openai_server, max_retries=1))
    backup = member("backup", openai_cfg(backup_server))
    openai_server.script(["500", "500"])

    result = await FallbackChat("opsdesk", [primary, backup]).complete(ask())

    assert result.provider == "backup"
    assert result.content == backup_server.reply
    assert openai_server.count() == 2 and backup_server.count() == 1


async def test_a_timing_out_primary_is_retried_then_the_backup_answers(
    openai_server: FakeOpenAI, backup_server: FakeOpenAI
) -> None:
    primary = member("primary", openai_cfg(openai_server, timeout_s=0.3, max_retries=1))
    backup = member("backup", openai_cfg(backup_server))
    openai_server.script(["delay:2", "delay:2"])

    result = await FallbackChat("opsdesk", [primary, backup]).complete(ask())

    assert result.provider == "backup"
    assert openai_server.count() == 2


async def test_when_every_member_fails_the_error_lists_each_failure(
    openai_server: FakeOpenAI, backup_server: FakeOpenAI
) -> None:
    primary = member("primary", openai_cfg(openai_server, max_retries=0))
    backup = member("backup", openai_cfg(backup_server, max_retries=0))
    openai_server.script(["500"])
    backup_server.script(["429:60"])

    with pytest.raises(ProviderUnavailable) as caught:
        await FallbackChat("opsdesk", [primary, backup]).complete(ask())

    assert "primary" in caught.value.message and "backup" in caught.value.message
    assert [(item["provider"], item["outcome"]) for item in caught.value.details] == [
        ("primary", "error"),
        ("backup", "rate_limited"),
    ]
    assert caught.value.status_code == 503


async def test_stream_falls_back_before_the_first_chunk(openai_server: FakeOpenAI, backup_server: FakeOpenAI) -> None:
    primary = member("primary", openai_cfg(openai_server, max_retries=0))
    backup = member("backup", openai_cfg(backup_server))
    openai_server.script(["503"])

    chunks = [chunk async for chunk in FallbackChat("opsdesk", [primary, backup]).stream(ask())]

    assert "".join(chunk.delta for chunk in chunks) == backup_server.reply
    assert {chunk.provider for chunk in chunks} == {"backup"}
    assert chunks[-1].finish_reason == "stop"


async def test_stream_does_not_switch_after_the_first_chunk(
    openai_server: FakeOpenAI, backup_server: FakeOpenAI
) -> None:
    primary = member("primary", openai_cfg(openai_server))
    backup = member("backup", openai_cfg(backup_server))
    openai_server.script(["cut"])
    received: list[str] = []

    with pytest.raises(ProviderError) as caught:
        async for chunk in FallbackChat("opsdesk", [primary, backup]).stream(ask()):
            received.append(chunk.delta)

    assert "primary" in caught.value.message
    assert received
    assert backup_server.count() == 0


async def test_stream_fails_with_the_list_when_no_member_can_start(
    openai_server: FakeOpenAI, backup_server: FakeOpenAI
) -> None:
    primary = member("primary", openai_cfg(openai_server, max_retries=0))
    backup = member("backup", openai_cfg(backup_server, max_retries=0))
    openai_server.script(["500"])
    backup_server.script(["500"])

    with pytest.raises(ProviderUnavailable):
        [chunk async for chunk in FallbackChat("opsdesk", [primary, backup]).stream(ask())]


async def test_a_request_the_primary_calls_invalid_is_not_passed_on_to_the_backup(
    openai_server: FakeOpenAI, backup_server: FakeOpenAI
) -> None:
    primary = member("primary", openai_cfg(openai_server, max_retries=2))
    backup = member("backup", openai_cfg(backup_server))
    openai_server.script(["400", "400"])
    chain = FallbackChat("opsdesk", [primary, backup])

    with pytest.raises(InvalidModelRequest) as caught:
        await chain.complete(ask())
    assert caught.value.status_code == 400
    with pytest.raises(InvalidModelRequest):
        await anext(chain.stream(ask()))

    assert openai_server.count() == 2 and backup_server.count() == 0
