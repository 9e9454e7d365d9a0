"""A workspace's Jira, Confluence and GitLab credentials, stored encrypted, and the connectors built from them."""
