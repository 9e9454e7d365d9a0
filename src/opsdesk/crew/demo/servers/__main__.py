"""``python -m opsdesk.crew.demo.servers --data-dir DIR``: the local Jira, Confluence and GitLab in one process."""

from opsdesk.crew.demo.servers.run import main

main()
