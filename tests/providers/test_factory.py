"""The provider registry built from settings: names, the default chain, model resolution and the embedder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from opsdesk.core.errors import ConfigurationError, NotFound
from opsdesk.core.settings import Settings
from opsdesk.providers.accounting import CallRecorder
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from opsdesk.providers.embedding.openai_embed import OpenAIEmbeddings
from opsdesk.providers.factory import ProviderRegistry
from opsdesk.providers.fallback import FallbackChat
from opsdesk.providers.llm.base import ChatMessage, ChatRequest
from opsdesk.providers.llm.llamacpp_chat import LlamaCppChat
from opsdesk.providers.resilience import ResilientChat
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.providers.support import FAST, anthropic_cfg, openai_cfg


def make_settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def registry(openai_server: FakeOpenAI, anthropic_server: FakeAnthropic) -> AsyncIterator[ProviderRegistry]:
    settings = make_settings(
        llm_providers={"fake": openai_cfg(openai_server), "claude": anthropic_cfg(anthropic_server)},
        llm_fallback=["fake", "claude", "local"],
    )
    built = ProviderRegistry.from_settings(settings, CallRecorder(None), timing=FAST)
    yield built
    await built.aclose()


def test_every_configured_provider_is_built_behind_the_resilience_layer(registry: ProviderRegistry) -> None:
    assert registry.names == ["fake", "claude", "local"]
    assert all(isinstance(registry.chat(name), ResilientChat) for name in registry.names)
    assert isinstance(registry.chat("local").inner, LlamaCppChat)


def test_public_model_names(registry: ProviderRegistry) -> None:
    assert registry.model_names() == [
        "opsdesk",
        "fake",
        "claude",
        "local",
        "fake/gpt-fake",
        "claude/claude-fake",
        "local/smollm2-135m-instruct",
    ]


def test_model_names_resolve_to_a_provider_and_an_override(registry: ProviderRegistry) -> None:
    default, override = registry.resolve_model("opsdesk")
    assert isinstance(default, FallbackChat)
    assert [member.name for member in default.members] == ["fake", "claude", "local"]
    assert override is None

    assert registry.resolve_model("claude") == (registry.chat("claude"), None)
    assert registry.resolve_model("fake/gpt-4o") == (registry.chat("fake"), "gpt-4o")
    assert registry.resolve_model("fake/gpt-fake") == (registry.chat("fake"), None)
    assert registry.resolve_model("claude-fake") == (registry.chat("claude"), None)


def test_an_unknown_model_lists_the_valid_names(registry: ProviderRegistry) -> None:
    with pytest.raises(NotFound) as caught:
        registry.resolve_model("gpt-5-turbo")

    assert "opsdesk" in caught.value.message and "fake/gpt-fake" in caught.value.message
    assert caught.value.details == {"valid": registry.model_names()}
    with pytest.raises(NotFound):
        registry.chat("nobody")


async def test_the_default_chain_answers_through_the_first_healthy_provider(
    registry: ProviderRegistry, openai_server: FakeOpenAI, anthropic_server: FakeAnthropic
) -> None:
    openai_server.script(["401"])  # a final failure (a refused key): not retried, so the chain moves on at once

    provider, _ = registry.resolve_model("opsdesk")
    result = await provider.complete(ChatRequest(messages=[ChatMessage(role="user", content="Hi")]))

    assert result.provider == "claude"
    assert anthropic_server.count() == 1


async def test_a_model_override_reaches_the_upstream(registry: ProviderRegistry, openai_server: FakeOpenAI) -> None:
    provider, override = registry.resolve_model("fake/gpt-4o")

    await provider.complete(ChatRequest(messages=[ChatMessage(role="user", content="Hi")], model=override))

    assert openai_server.last().body["model"] == "gpt-4o"


def test_the_local_embedder_is_the_default_and_built_once() -> None:
    registry = ProviderRegistry.from_settings(make_settings(local_llm_enabled=False))

    assert isinstance(registry.embedder(), LocalMiniLM)
    assert registry.embedder() is registry.embedder()


async def test_the_openai_embedder_is_chosen_by_settings(openai_server: FakeOpenAI) -> None:
    settings = make_settings(
        local_llm_enabled=False,
        embedding_provider="openai",
        openai_api_key=SecretStr("sk-test"),
        openai_base_url=openai_server.url,
    )
    registry = ProviderRegistry.from_settings(settings)

    embedder = registry.embedder()
    vectors = await embedder.embed(["hello"])

    assert isinstance(embedder, OpenAIEmbeddings)
    assert len(vectors[0]) == settings.embedding_dim
    await registry.aclose()


def test_no_provider_at_all_is_a_configuration_error() -> None:
    registry = ProviderRegistry.from_settings(make_settings(local_llm_enabled=False))

    assert registry.model_names() == []
    with pytest.raises(ConfigurationError):
        registry.default()
