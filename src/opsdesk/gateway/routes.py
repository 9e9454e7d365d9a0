"""OpenAI-compatible endpoints, so the official `openai` client works against opsdesk with an API key."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Depends
from fastapi.responses import Response, StreamingResponse

from opsdesk.app.context import AppContext
from opsdesk.auth.deps import get_ctx, require
from opsdesk.auth.roles import Permission
from opsdesk.auth.service import Principal
from opsdesk.gateway import service
from opsdesk.gateway.schemas import ChatCompletionRequest, EmbeddingRequest, ModelCard, ModelList

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


_invoke = require(Permission.invoke)


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, principal: Principal = Depends(_invoke), ctx: AppContext = Depends(get_ctx)
) -> Any:
    """Chat with a configured model (`opsdesk` = the fallback chain), streamed as SSE when `stream` is true."""
    provider, model_override = service.resolve(ctx.providers, body.model)
    request = service.to_chat_request(body, principal.workspace_id, model_override)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = await service.primed(provider.stream(request))
        chunks = service.sse_stream(stream, body.model, include_usage)
        return StreamingResponse(
            chunks, media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
    result = await provider.complete(request)
    return _json(service.completion_body(result, body.model))


@router.get("/models", response_model=ModelList)
async def list_models(_: Principal = Depends(_invoke), ctx: AppContext = Depends(get_ctx)) -> ModelList:
    now = int(time.time())
    return ModelList(data=[ModelCard(id=name, created=now, owned_by="opsdesk") for name in ctx.providers.model_names()])


@router.post("/embeddings", response_model=None)
async def embeddings(
    body: EmbeddingRequest, _: Principal = Depends(_invoke), ctx: AppContext = Depends(get_ctx)
) -> Response:
    return _json(await service.embeddings_body(ctx.providers, body))
