"""The chat provider protocol and the plain data it speaks (independent of any vendor SDK)."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from opsdesk.core.errors import InvalidInput

Role = Literal["system", "user", "assistant", "tool"]


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the OpenAI API carries it


@dataclass
class ChatMessage:
    role: Role
    content: str | None = None
    name: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None


@dataclass
class ToolSpec:
    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass
class ChatRequest:
    messages: list[ChatMessage]
    model: str | None = None  # overrides the provider's configured model
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    # "auto" | "none" | "required" | a tool name
    tool_choice: str | None = None
    # JSON schema the reply must satisfy (constrained decoding where the provider supports it)
    response_schema: dict[str, Any] | None = None
    workspace_id: uuid.UUID | None = None  # for accounting only


@dataclass
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass
class ChatResult:
    content: str
    provider: str
    model: str
    finish_reason: str = "stop"
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass
class ChatChunk:
    """One piece of a streamed reply; the last one carries finish_reason and usage."""

    delta: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    provider: str = ""
    model: str = ""


class UpstreamError(Exception):
    """A provider call failed. ``retryable`` says whether trying again may help (429, 5xx, timeouts)."""

    def __init__(
        self, message: str, *, retryable: bool, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after_s = retry_after_s

    @property
    def outcome(self) -> str:
        if self.status == 429:
            return "rate_limited"
        if self.status is None and "timed out" in str(self).lower():
            return "timeout"
        return "error"


# Upstream answers that blame the request: bad parameters or schema, too long, refused as invalid input.
CALLER_ERROR_STATUSES = frozenset({400, 413, 422})


def invalid_request_code(candidate: object) -> str:
    """A vendor's own error code when it is a plain identifier ("context_length_exceeded"), else "invalid_request"."""
    if isinstance(candidate, str) and re.fullmatch(r"[a-z][a-z0-9_]{0,63}", candidate):
        return candidate
    return "invalid_request"


class InvalidModelRequest(InvalidInput, UpstreamError):
    """The request itself is wrong: an unusable schema or parameter, too long for the context, refused as invalid.

    A 400 for the caller (it is an InvalidInput first), never retried, never a fault of the provider: it does not
    count toward a circuit breaker and a fallback chain does not pass it on to the next provider.
    """

    def __init__(self, message: str, *, code: str = "invalid_request") -> None:
        # OpsdeskError.__init__ would chain into UpstreamError's via the MRO; set both sides' fields here.
        UpstreamError.__init__(self, message, retryable=False, status=400)
        self.message = message
        self.code = code
        self.details = None

    @property
    def outcome(self) -> str:
        return "invalid_request"


@runtime_checkable
class ChatProvider(Protocol):
    """Speaks to one model endpoint. Implementations do not retry; the resilience layer does."""

    name: str
    model: str

    async def complete(self, request: ChatRequest) -> ChatResult: ...

    def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class EmbeddingProvider(Protocol):
    """Turns texts into unit-length vectors of a fixed dimension."""

    name: str
    model: str
    dim: int

    async def embed(self, texts: list[str]) -> list[list[float]]: ...
