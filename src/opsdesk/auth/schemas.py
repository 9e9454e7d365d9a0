"""Request and response bodies of the auth API."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from opsdesk.auth.roles import Role
from opsdesk.core.http import CONTROL_CHARACTERS
from opsdesk.db.idempotency import SECRET

T = TypeVar("T")


def _no_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters (such as NUL)")
    return value


# Names and identifiers: a control character in one is a mistake or an attack, never meant, so it is refused (422).
Name = Annotated[str, AfterValidator(_no_control_characters)]


_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _email(value: str) -> str:
    # Syntax only, and on-premises domains allowed: a directory's name@corp.local and the first admin's
    # admin@opsdesk.local are addresses here although email-validator calls `.local` special-use. Nothing is looked
    # up in DNS. The local part is checked by email-validator against a neutral domain.
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValueError("is not a valid email address: it needs a name, an @ and a domain")
    try:
        validate_email(f"{local}@example.com", check_deliverability=False)
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except (EmailNotValidError, UnicodeError) as exc:
        raise ValueError(f"is not a valid email address: {exc}") from None
    if len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in ascii_domain.split(".")):
        raise ValueError(f"is not a valid email address: '{domain}' is not a domain name")
    return f"{local}@{domain.lower()}"


Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_email)]


class Page(BaseModel, Generic[T]):
    """A page of a list: items plus what it takes to ask for the next one."""

    items: list[T]
    total: int
    limit: int
    offset: int


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: str = Field(min_length=1, max_length=256)
    workspace: Name | None = Field(default=None, min_length=1, max_length=63)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    workspace: str
    role: Role


class WhoAmI(BaseModel):
    kind: str
    id: uuid.UUID
    workspace: str
    role: Role


class MemberIn(BaseModel):
    """An invitation: the person with this email becomes a member when they accept it."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    role: Role = Role.viewer


class InvitationSent(BaseModel):
    """The same answer whether or not anyone has that email yet."""

    status: Literal["invitation_sent"] = "invitation_sent"
    email: str
    role: Role
    expires_at: datetime


class InvitationOut(BaseModel):
    """An invitation as its invitee sees it."""

    id: uuid.UUID
    workspace: str
    workspace_name: str
    role: Role
    expires_at: datetime


class MembershipOut(BaseModel):
    workspace: str
    role: Role


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: Role


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(min_length=1, max_length=200)
    role: Role = Role.service
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: Annotated[str, SECRET] = Field(description="The API key itself; shown only once, never replayed.")
