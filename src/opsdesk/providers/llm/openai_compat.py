"""Chat over the OpenAI API shape: OpenAI, OpenRouter, Ollama, vLLM and llama-server differ only in base URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
from openai import AsyncOpenAI, DefaultAioHttpClient

from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.base import (
    CALLER_ERROR_STATUSES,
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResult,
    InvalidModelRequest,
    ToolCall,
    UpstreamError,
    Usage,
    invalid_request_code,
)
from opsdesk.providers.llm.retry_after import retry_after_seconds

# Local servers (Ollama, vLLM, llama-server) accept any key, but the SDK refuses to start without one.
_PLACEHOLDER_KEY = "not-needed"


class OpenAIChat:
    """One OpenAI-compatible endpoint; no retries here (the resilience layer owns them)."""

    def __init__(self, name: str, cfg: ProviderSettings) -> None:
        self.name = name
        self.model = cfg.model
        api_key = cfg.api_key.get_secret_value() if cfg.api_key is not None else _PLACEHOLDER_KEY
        # The SDK's aiohttp transport: the same SDK, about a third less CPU per call than its default httpx pool.
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=cfg.base_url,
            timeout=cfg.timeout_s,
            max_retries=0,
            http_client=DefaultAioHttpClient(timeout=cfg.timeout_s),
        )

    async def complete(self, request: ChatRequest) -> ChatResult:
        """One reply, whole."""
        try:
            response = await self._client.chat.completions.create(**self._params(request))
        except openai.OpenAIError as exc:
            raise translate_error(self.name, exc) from exc
        if not response.choices:
            raise UpstreamError(f"{self.name} returned no choices", retryable=True)
        choice = response.choices[0]
        calls = [
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments or "{}")
            for call in choice.message.tool_calls or []
            if call.type == "function"
        ]
        usage = response.usage
        return ChatResult(
            content=choice.message.content or "",
            provider=self.name,
            model=response.model or self._model(request),
            finish_reason=choice.finish_reason or "stop",
            tool_calls=calls,
            usage=Usage(usage.prompt_tokens, usage.completion_tokens) if usage else Usage(),
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Text deltas as they arrive; the last chunk carries tool calls, finish reason and usage."""
        model = self._model(request)
        calls = _ToolCallAssembler()
        finish_reason: str | None = None
        usage = Usage()
        try:
            stream = await self._client.chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True}
            )
            async with stream:
                async for chunk in stream:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices[:1]:
                        finish_reason = choice.finish_reason or finish_reason
                        for delta_call in choice.delta.tool_calls or []:
                            function = delta_call.function
                            calls.add(
                                delta_call.index,
                                delta_call.id,
                                function.name if function else None,
                                function.arguments if function else None,
                            )
                        if choice.delta.content:
                            yield ChatChunk(delta=choice.delta.content, provider=self.name, model=model)
        except openai.OpenAIError as exc:
            raise translate_error(self.name, exc) from exc
        yield ChatChunk(
            tool_calls=calls.result(),
            finish_reason=finish_reason or "stop",
            usage=usage,
            provider=self.name,
            model=model,
        )

    async def aclose(self) -> None:
        """Closes the HTTP connection pool."""
        await self._client.close()

    def _model(self, request: ChatRequest) -> str:
        return request.model or self.model

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self._model(request),
            "messages": [_message(message) for message in request.messages],
        }
        optional = {
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
            "stop": request.stop or None,
        }
        params.update({key: value for key, value in optional.items() if value is not None})
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {"name": tool.name, "description": tool.description, "parameters": tool.parameters},
                }
                for tool in request.tools
            ]
            if request.tool_choice:
                params["tool_choice"] = _tool_choice(request.tool_choice)
        if request.response_schema is not None:
            # strict=False: strict mode rejects schemas without additionalProperties=false on every object.
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": request.response_schema, "strict": False},
            }
        return params


def translate_error(provider: str, exc: openai.OpenAIError) -> UpstreamError:
    """Maps an SDK exception to UpstreamError: 429, 5xx, timeouts and connection errors are retryable."""
    if _connection_refused(exc):
        return UpstreamError(f"{provider} refused the connection", retryable=True)
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamError(f"{provider} request timed out", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError(f"{provider} connection failed: {exc}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in CALLER_ERROR_STATUSES:
            return InvalidModelRequest(
                f"{provider} refused the request as invalid (HTTP {status}): {exc.message[:500]}",
                code=invalid_request_code(exc.code),
            )
        retry_after = retry_after_seconds(exc.response.headers) if status == 429 else None
        return UpstreamError(
            f"{provider} returned HTTP {status}: {exc.message}",
            retryable=status == 429 or status >= 500,
            status=status,
            retry_after_s=retry_after,
        )
    # Errors raised while reading a stream (the server sent an error event) may pass on a retry.
    return UpstreamError(f"{provider} failed: {exc}", retryable=isinstance(exc, openai.APIError))


def _connection_refused(exc: BaseException) -> bool:
    """The SDK's aiohttp transport reports a refused connection as a connect *timeout*; the cause tells them apart."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionError) or isinstance(getattr(cause, "os_error", None), ConnectionError):
            return True
        cause = cause.__cause__
    return False


def _message(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.name and message.role in ("system", "user", "assistant"):
        out["name"] = message.name
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
        out["content"] = message.content or ""
    elif message.role == "assistant" and message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in message.tool_calls
        ]
    elif message.content is None:
        out["content"] = ""
    return out


def _tool_choice(choice: str) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


class _ToolCallAssembler:
    """Joins streamed tool-call fragments (keyed by index) into whole calls."""

    def __init__(self) -> None:
        self._parts: dict[int, dict[str, str]] = {}

    def add(self, index: int, call_id: str | None, name: str | None, arguments: str | None) -> None:
        part = self._parts.setdefault(index, {"id": "", "name": "", "arguments": ""})
        if call_id:
            part["id"] = call_id
        if name:
            part["name"] += name
        if arguments:
            part["arguments"] += arguments

    def result(self) -> list[ToolCall]:
        return [
            ToolCall(id=part["id"] or f"call_{index}", name=part["name"], arguments=part["arguments"] or "{}")
            for index, part in sorted(self._parts.items())
        ]
