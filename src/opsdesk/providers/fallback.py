"""A chain of chat providers tried in order: the next one answers when the one before has failed for good."""

from __future__ import annotations

from collections.abc import AsyncIterator

from opsdesk.core.errors import ProviderError, ProviderUnavailable
from opsdesk.core.logging import get_logger
from opsdesk.providers.llm.base import (
    ChatChunk,
    ChatProvider,
    ChatRequest,
    ChatResult,
    InvalidModelRequest,
    UpstreamError,
)

log = get_logger(__name__)


class FallbackChat:
    """Tries members in order; members are expected to retry on their own (ResilientChat) before giving up."""

    def __init__(self, name: str, members: list[ChatProvider]) -> None:
        if not members:
            raise ValueError("a fallback chain needs at least one provider")
        self.name = name
        self.members = list(members)
        self.model = members[0].model

    async def complete(self, request: ChatRequest) -> ChatResult:
        """The first member's reply that succeeds."""
        failures: list[tuple[str, UpstreamError]] = []
        for member in self.members:
            try:
                return await member.complete(request)
            except InvalidModelRequest:
                raise  # the request is at fault: the next provider is not asked to answer it
            except UpstreamError as exc:
                failures.append((member.name, exc))
                log.warning("provider_fallback", chain=self.name, provider=member.name, error=str(exc))
        raise _all_failed(self.name, failures)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """The first member's stream that yields a chunk; once a chunk is out there is no switching."""
        failures: list[tuple[str, UpstreamError]] = []
        for member in self.members:
            chunks = member.stream(request)
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                return
            except InvalidModelRequest:
                raise
            except UpstreamError as exc:
                failures.append((member.name, exc))
                log.warning("provider_fallback", chain=self.name, provider=member.name, error=str(exc))
                continue
            try:
                yield first
                async for chunk in chunks:
                    yield chunk
            except UpstreamError as exc:
                message = f"{member.name} failed mid-reply: {exc}"
                raise ProviderError(message, details={"provider": member.name}) from exc
            finally:
                aclose = getattr(chunks, "aclose", None)
                if aclose is not None:
                    await aclose()
            return
        raise _all_failed(self.name, failures)

    async def aclose(self) -> None:
        """Nothing to close: the members belong to whoever built them (the registry)."""


def _all_failed(chain: str, failures: list[tuple[str, UpstreamError]]) -> ProviderUnavailable:
    listing = "; ".join(f"{name}: {exc}" for name, exc in failures)
    return ProviderUnavailable(
        f"No model provider could answer ({chain}): {listing}",
        details=[{"provider": name, "outcome": exc.outcome, "error": str(exc)} for name, exc in failures],
    )
