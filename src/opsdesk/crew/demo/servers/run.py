"""The three local vendors together, as `opsdesk up --demo` and crash tests run them (also in their own process:
``python -m opsdesk.crew.demo.servers --data-dir DIR``)."""

from __future__ import annotations

import argparse
import json
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from opsdesk.crew.demo.servers.confluence import ConfluenceServer
from opsdesk.crew.demo.servers.gitlab import GitLabServer
from opsdesk.crew.demo.servers.jira import JiraServer

DEMO_TOKEN = "opsdesk-demo-token"  # a local stand-in, not a secret: the demo vendors listen on 127.0.0.1 only
DEMO_USERNAME = "opsdesk"


@dataclass
class DemoVendors:
    """A running local Jira, Confluence and GitLab whose state lives in ``data_dir``."""

    jira: JiraServer
    confluence: ConfluenceServer
    gitlab: GitLabServer

    @classmethod
    def start(
        cls,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        ports: tuple[int, int, int] = (0, 0, 0),
        token: str = DEMO_TOKEN,
        username: str = DEMO_USERNAME,
    ) -> Self:
        """Starts the three (on free ports unless given), each reading and saving its state file in ``data_dir``."""
        data_dir.mkdir(parents=True, exist_ok=True)
        jira = JiraServer(username=username, token=token, state_file=data_dir / "jira.json")
        confluence = ConfluenceServer(username=username, token=token, state_file=data_dir / "confluence.json")
        gitlab = GitLabServer(data_dir / "gitlab", username=username, token=token, state_file=data_dir / "gitlab.json")
        started = cls(jira, confluence, gitlab)
        try:
            for server, port in zip((jira, confluence, gitlab), ports, strict=True):
                server.start(host, port)
        except BaseException:
            started.stop()
            raise
        return started

    def urls(self) -> dict[str, str]:
        """Base URL of each vendor."""
        return {"jira": self.jira.url, "confluence": self.confluence.url, "gitlab": self.gitlab.url}

    def stop(self) -> None:
        """Stops the three."""
        for server in (self.jira, self.confluence, self.gitlab):
            server.stop()


def main(argv: list[str] | None = None) -> None:
    """Runs the demo vendors until SIGTERM or Ctrl-C; prints their URLs as one JSON line first."""
    parser = argparse.ArgumentParser(prog="python -m opsdesk.crew.demo.servers", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True, help="where state files and git repositories live")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--jira-port", type=int, default=0)
    parser.add_argument("--confluence-port", type=int, default=0)
    parser.add_argument("--gitlab-port", type=int, default=0)
    parser.add_argument("--token", default=DEMO_TOKEN)
    args = parser.parse_args(argv)
    vendors = DemoVendors.start(
        args.data_dir,
        host=args.host,
        ports=(args.jira_port, args.confluence_port, args.gitlab_port),
        token=args.token,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    print(json.dumps(vendors.urls()), flush=True)
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        vendors.stop()
