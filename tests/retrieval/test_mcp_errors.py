"""How an MCP tool failure is reported: a code the caller can act on and a message, never the server's internals."""

from __future__ import annotations

import pytest
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError

from opsdesk.core.errors import (
    InvalidInput,
    NotAuthenticated,
    NotFound,
    OpsdeskError,
    PermissionDenied,
    ProviderUnavailable,
    RateLimited,
)
from opsdesk.knowledge.query.mcp_server import tool_error_result


def _wrapped(cause: BaseException, unexpected: bool = True) -> ToolError:
    """What the SDK hands on for a failure inside the tool body."""
    kind = UnexpectedToolError if unexpected else ToolError
    try:
        raise kind("Error executing tool search") from cause
    except ToolError as exc:
        return exc


@pytest.mark.parametrize(
    ("cause", "code"),
    [
        (NotFound("No document 'x' in this knowledge base."), "not_found"),
        (PermissionDenied("This key may not read that."), "forbidden"),
        (NotAuthenticated("No key."), "unauthenticated"),
        (InvalidInput("The query is empty."), "invalid_argument"),
        (RateLimited("Slow down.", retry_after_s=3), "rate_limited"),
        (ProviderUnavailable("No model provider could answer."), "unavailable"),
    ],
)
def test_opsdesk_errors_keep_their_message_and_get_a_code(cause: OpsdeskError, code: str) -> None:
    result = tool_error_result("search", _wrapped(cause))

    assert result.is_error
    assert result.structured_content == {"error": {"code": code, "message": cause.message}}
    assert result.content[0].text == f"{code}: {cause.message}"  # type: ignore[union-attr]


def test_an_unexpected_failure_says_so_with_a_reference_and_nothing_of_its_internals() -> None:
    cause = RuntimeError("connection to postgresql://opsdesk:s3cret@db:5432 failed at /srv/opsdesk/db.py:42")

    result = tool_error_result("search", _wrapped(cause))

    assert result.structured_content is not None
    error = result.structured_content["error"]
    assert error["code"] == "internal" and "search tool failed unexpectedly" in error["message"]
    assert "reference" in error["message"]
    assert "s3cret" not in str(result) and "db.py" not in str(result) and "RuntimeError" not in str(result)


def test_an_unknown_tool_is_not_found() -> None:
    result = tool_error_result("nope", ToolError("Unknown tool: nope"))

    assert result.structured_content == {"error": {"code": "not_found", "message": "Unknown tool: nope"}}
