"""Request and response bodies of the crew's vendor connections: tokens go in, only "set" comes out."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Vendor = Literal["jira", "confluence", "gitlab"]
# http(s), a host without credentials in it (no "@"), an optional path; nothing after it; no control characters.
_URL = r"^https?://[^\s/?#@\x00-\x1f\x7f]+(/[^\s?#@\x00-\x1f\x7f]*)?$"
_TOKEN = r"^[\x21-\x7e]+$"  # printable ASCII without spaces: what the vendors issue and a header can carry
_USERNAME = r"^[^\s\x00-\x1f\x7f:]+$"  # an email or user name; ":" would break HTTP Basic
_SCOPE = r"^[A-Za-z0-9][A-Za-z0-9_.~/-]*$"


class ConnectionIn(BaseModel):
    """A vendor connection. On an update, a token left out keeps the stored one."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(
        max_length=500,
        pattern=_URL,
        description="e.g. https://acme.atlassian.net, https://acme.atlassian.net/wiki, https://gitlab.com",
    )
    username: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=_USERNAME,
        description="The account's email or user name (Atlassian API tokens); leave out to send the token as bearer.",
    )
    token: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        pattern=_TOKEN,
        description="API or personal access token (secret).",
    )
    scope: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=_SCOPE,
        description="The Jira project key, Confluence space key or GitLab project path the crew works in.",
    )


class ConnectionOut(BaseModel):
    """A connection as the API shows it: the token only as set or not."""

    vendor: Vendor
    base_url: str
    username: str | None
    scope: str | None
    token_set: bool
    created_at: datetime
    updated_at: datetime


class ConnectionCheck(BaseModel):
    """What a live check of a connection found."""

    vendor: Vendor
    ok: bool
    detail: str
