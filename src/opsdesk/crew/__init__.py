"""Delivery crew: a requirement becomes Jira stories, a GitLab merge request and Confluence pages (issue 14).

So far: connectors to Jira, Confluence and GitLab through their official SDKs (``connectors/``), the workspace's
encrypted credentials (``connections/``) and local servers that speak the vendors' REST APIs (``demo/servers/``).
"""
