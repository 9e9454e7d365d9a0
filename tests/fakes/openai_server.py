"""A fake OpenAI API on a real port: /v1/chat/completions (JSON and SSE), /v1/embeddings, /v1/models.

Use it as ``with FakeOpenAI(reply="Hi") as server: ... server.url`` (an "answer at once" server when nothing is
scripted), or script failures with ``server.script(["429:1", "500", "delay:3", "ok"])``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.scripted import Behaviour, CutStream, ScriptedServer, chunks_of, prompt_words, sample_for, words


class FakeOpenAI(ScriptedServer):
    """Speaks the documented OpenAI request and response shapes; endpoints: "chat", "embeddings", "models"."""

    def routes(self) -> list[Route]:
        return [
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
            Route("/v1/embeddings", self._embeddings, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]

    async def _chat(self, request: Request) -> Response:
        body, behaviour = await self.receive("chat", request)
        if behaviour.status != 200:
            return _error(behaviour)
        model = body.get("model") or self.model
        text, calls = self._answer(body, behaviour)
        usage = {"prompt_tokens": prompt_words(body.get("messages", [])), "completion_tokens": max(words(text), 1)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        finish = "tool_calls" if calls else "stop"
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = _chat_events(model, text, calls, finish, usage if include_usage else None, behaviour.cut)
            return StreamingResponse(events, media_type="text/event-stream")
        message: dict[str, Any] = {"role": "assistant", "content": None if calls else text, "refusal": None}
        if calls:
            message["tool_calls"] = calls
        return JSONResponse(
            {
                "id": "chatcmpl-" + uuid.uuid4().hex,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": usage,
            }
        )

    def _answer(self, body: dict[str, Any], behaviour: Behaviour) -> tuple[str, list[dict[str, Any]]]:
        """The reply text and tool calls: scripted, forced by tool_choice, or shaped by response_format."""
        if behaviour.tool_calls is not None:
            return "", [_call(name, arguments) for name, arguments in behaviour.tool_calls]
        tools = {tool["function"]["name"]: tool["function"] for tool in body.get("tools") or []}
        choice = body.get("tool_choice")
        forced = choice["function"]["name"] if isinstance(choice, dict) else None
        if forced is None and choice == "required" and tools:
            forced = next(iter(tools))
        if forced is not None and forced in tools:
            return "", [_call(forced, sample_for(tools[forced].get("parameters") or {}))]
        if behaviour.text is not None:
            return behaviour.text, []
        response_format = body.get("response_format") or {}
        if response_format.get("type") == "json_schema":
            return json.dumps(sample_for(response_format["json_schema"].get("schema") or {})), []
        if response_format.get("type") == "json_object":
            return "{}", []
        return self.reply, []

    async def _embeddings(self, request: Request) -> Response:
        body, behaviour = await self.receive("embeddings", request)
        if behaviour.status != 200:
            return _error(behaviour)
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        dim = int(body.get("dimensions") or 1536)
        data = []
        for index, text in enumerate(texts):
            vector = fake_embedding(str(text), dim)
            embedding: Any = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode()
                if body.get("encoding_format") == "base64"
                else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(words(str(text)) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model") or self.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def _models(self, request: Request) -> Response:
        _, behaviour = await self.receive("models", request)
        if behaviour.status != 200:
            return _error(behaviour)
        return JSONResponse(
            {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "fake"}]}
        )


def fake_embedding(text: str, dim: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A deterministic unit vector per text."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    normalised: np.ndarray[Any, np.dtype[np.float32]] = vector / np.linalg.norm(vector)
    return normalised


def _call(name: str, arguments: Any) -> dict[str, Any]:
    return {
        "id": "call_" + uuid.uuid4().hex[:12],
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def _error(behaviour: Behaviour) -> Response:
    kinds = {400: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_exceeded"}
    body = {
        "error": {
            "message": f"fake error {behaviour.status}",
            "type": kinds.get(behaviour.status, "server_error"),
            "param": None,
            "code": None,
        }
    }
    headers = {"retry-after": behaviour.retry_after} if behaviour.retry_after else {}
    return JSONResponse(body, status_code=behaviour.status, headers=headers)


async def _chat_events(
    model: str, text: str, calls: list[dict[str, Any]], finish: str, usage: dict[str, int] | None, cut: bool = False
) -> AsyncIterator[bytes]:
    """``data: {chunk}`` lines: role, content pieces, tool-call fragments, finish, usage, then ``[DONE]``."""
    base = {"id": "chatcmpl-" + uuid.uuid4().hex, "object": "chat.completion.chunk", "created": int(time.time())}

    def event(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        chunk: dict[str, Any] = {
            **base,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        if usage is not None:
            chunk["usage"] = None
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    yield event({"role": "assistant", "content": ""})
    if not calls:
        pieces = chunks_of(text)
        for index, piece in enumerate(pieces):
            if cut and index >= max(1, len(pieces) // 2):
                raise CutStream
            yield event({"content": piece})
    for index, call in enumerate(calls):
        function = {"name": call["function"]["name"], "arguments": ""}
        head = {"index": index, "id": call["id"], "type": "function", "function": function}
        yield event({"tool_calls": [head]})
        for piece in chunks_of(call["function"]["arguments"], 5):
            yield event({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield event({}, finish)
    if usage is not None:
        final = {**base, "model": model, "choices": [], "usage": usage}
        yield b"data: " + json.dumps(final).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"
