"""Local servers that speak Jira's, Confluence's and GitLab's documented REST APIs, for the demo and the tests."""

from opsdesk.crew.demo.servers.base import Faults, VendorServer, Write
from opsdesk.crew.demo.servers.confluence import ConfluenceServer
from opsdesk.crew.demo.servers.gitlab import GitLabServer
from opsdesk.crew.demo.servers.jira import JiraServer
from opsdesk.crew.demo.servers.run import DEMO_TOKEN, DemoVendors

__all__ = [
    "DEMO_TOKEN",
    "ConfluenceServer",
    "DemoVendors",
    "Faults",
    "GitLabServer",
    "JiraServer",
    "VendorServer",
    "Write",
]
