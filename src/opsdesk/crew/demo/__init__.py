"""The crew's offline demo: local Jira, Confluence and GitLab servers that `opsdesk up --demo` and the tests use."""
