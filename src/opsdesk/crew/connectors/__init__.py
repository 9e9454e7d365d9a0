"""Jira, Confluence and GitLab through their official SDKs, with timeouts, retries, a breaker and a pace each."""

from opsdesk.crew.connectors.base import (
    ConnectorPolicy,
    VendorConflict,
    VendorCredentials,
    VendorError,
    VendorRejected,
    VendorUnavailable,
    idempotency_tag,
)
from opsdesk.crew.connectors.confluence import ConfluenceConnector
from opsdesk.crew.connectors.gitlab import FileChange, GitLabConnector
from opsdesk.crew.connectors.jira import IssueDraft, JiraConnector

__all__ = [
    "ConfluenceConnector",
    "ConnectorPolicy",
    "FileChange",
    "GitLabConnector",
    "IssueDraft",
    "JiraConnector",
    "VendorConflict",
    "VendorCredentials",
    "VendorError",
    "VendorRejected",
    "VendorUnavailable",
    "idempotency_tag",
]
