"""Helpers the provider tests share: settings pointed at the fakes and fast retry timing."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import SecretStr

from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.resilience import RetryTiming
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI

T = TypeVar("T")

# Providers a test opened; the autouse fixture in conftest.py closes them (each holds an HTTP connection pool).
OPENED: list[Any] = []


def track(chat: T) -> T:
    """Registers a provider for closing after the test and returns it."""
    OPENED.append(chat)
    return chat


# Retries in tests wait milliseconds, not seconds (Retry-After is still honoured).
FAST = RetryTiming(base_wait_s=0.01, max_wait_s=0.05, retry_after_cap_s=5.0)


def openai_cfg(server: FakeOpenAI, **overrides: Any) -> ProviderSettings:
    """Settings for an OpenAI-kind provider pointed at the fake."""
    values: dict[str, Any] = {
        "kind": "openai",
        "model": "gpt-fake",
        "base_url": server.url,
        "api_key": SecretStr("sk-test"),
        "timeout_s": 5.0,
        "max_retries": 2,
    }
    return ProviderSettings(**{**values, **overrides})


def anthropic_cfg(server: FakeAnthropic, **overrides: Any) -> ProviderSettings:
    """Settings for an Anthropic-kind provider pointed at the fake."""
    values: dict[str, Any] = {
        "kind": "anthropic",
        "model": "claude-fake",
        "base_url": server.root_url,
        "api_key": SecretStr("sk-ant-test"),
        "timeout_s": 5.0,
        "max_retries": 2,
    }
    return ProviderSettings(**{**values, **overrides})
