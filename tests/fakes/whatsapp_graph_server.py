"""A fake WhatsApp Cloud API on a real port: the Graph API's send-message endpoint as Meta documents it.

``POST /{version}/{phone_number_id}/messages`` with ``Authorization: Bearer <token>`` and a JSON body
``{"messaging_product": "whatsapp", "recipient_type": "individual", "to", "type": "text", "text": {"body", …}}``
answers ``{"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid…"}]}``.
A wrong token is 401 (OAuthException, code 190), a bad body 400 (code 100), an unknown number 400 (code 100,
subcode 33). Script failures with ``server.script(["500", "429:2", "delay:3"])``: they answer in Graph's error shape
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}``; a sender that hangs up during a
scripted delay sends nothing. ``sent`` holds the accepted messages.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.scripted import Behaviour, ScriptedServer

_SCRIPTED = {
    429: (130429, "(#130429) Rate limit hit", "OAuthException"),
    500: (1, "An unknown error has occurred.", "OAuthException"),
    503: (2, "Service temporarily unavailable", "OAuthException"),
}


@dataclass(frozen=True)
class SentMessage:
    """One message the fake accepted."""

    phone_number_id: str
    version: str
    to: str
    body: str
    message_id: str
    authorization: str


class FakeGraph(ScriptedServer):
    """Accepts text messages for the numbers it knows, with their tokens."""

    default_endpoint = "messages"

    def __init__(self, phone_number_id: str = "106540352242922", access_token: str = "EAAG-test-token") -> None:
        super().__init__()
        self.phone_number_id = phone_number_id
        self.access_token = access_token
        self.sent: list[SentMessage] = []

    def reset(self) -> None:
        """Forgets scripts, requests and sent messages."""
        super().reset()
        with self._lock:
            self.sent.clear()

    def routes(self) -> list[Route]:
        return [Route("/{version}/{phone_number_id}/messages", self._messages, methods=["POST"])]

    @property
    def base_url(self) -> str:
        """What opsdesk takes as the Graph base URL (the version goes after it)."""
        return self.root_url

    def sent_to(self, to: str) -> list[SentMessage]:
        with self._lock:
            return [message for message in self.sent if message.to == to]

    async def _messages(self, request: Request) -> Response:
        try:
            body, behaviour = await self.receive("messages", request)
        except ValueError:
            return _error(400, 100, "(#100) The parameter messaging_product is required.")
        if behaviour.status != 200:
            return _scripted(behaviour)
        if behaviour.delay_s and await request.is_disconnected():
            return Response(status_code=499)  # the sender hung up during the delay: nothing was sent
        authorization = request.headers.get("authorization", "")
        if authorization != f"Bearer {self.access_token}":
            return _error(401, 190, "Error validating access token: The session is invalid.", subcode=463)
        number = request.path_params["phone_number_id"]
        if number != self.phone_number_id:
            return _error(400, 100, f"Unsupported post request. Object with ID '{number}' does not exist.", subcode=33)
        problem = _body_problem(body)
        if problem:
            return _error(400, 100, f"(#100) {problem}")
        message_id = "wamid.HBgL" + secrets.token_hex(12).upper()
        with self._lock:
            self.sent.append(
                SentMessage(
                    number, request.path_params["version"], body["to"], body["text"]["body"], message_id, authorization
                )
            )
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": message_id}],
            }
        )


def _body_problem(body: dict[str, Any]) -> str | None:
    if body.get("messaging_product") != "whatsapp":
        return "The parameter messaging_product is required."
    if body.get("recipient_type", "individual") != "individual":
        return "Invalid parameter recipient_type."
    if not isinstance(body.get("to"), str) or not body["to"]:
        return "The parameter to is required."
    if body.get("type", "text") != "text":
        return "This fake only sends text messages."
    text = body.get("text")
    if not isinstance(text, dict) or not isinstance(text.get("body"), str) or not text["body"].strip():
        return "The parameter text['body'] is required."
    if len(text["body"]) > 4096:
        return "Param text['body'] must be at most 4096 characters long."
    return None


def _error(
    status: int, code: int, message: str, *, subcode: int | None = None, kind: str = "OAuthException"
) -> Response:
    error: dict[str, Any] = {"message": message, "type": kind, "code": code, "fbtrace_id": "A" + secrets.token_hex(8)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return JSONResponse({"error": error}, status_code=status)


def _scripted(behaviour: Behaviour) -> Response:
    code, message, kind = _SCRIPTED.get(behaviour.status, (1, "An unknown error has occurred.", "OAuthException"))
    response = _error(behaviour.status, code, message, kind=kind)
    if behaviour.retry_after is not None:
        response.headers["Retry-After"] = behaviour.retry_after
    return response
