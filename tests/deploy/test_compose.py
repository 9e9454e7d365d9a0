"""The deployment files stay valid: `docker compose config` where a compose client exists, a structural check always."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_file_defines_the_whole_stack() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "rabbitmq", "api", "worker"} <= set(services)
    assert "pgvector" in services["postgres"]["image"]
    env = services["api"]["environment"]
    assert env["OPSDESK_DATABASE_URL"].startswith("postgresql://")
    assert env["OPSDESK_REDIS_URL"].startswith("redis://")
    assert env["OPSDESK_AMQP_URL"].startswith("amqp://")
    assert services["worker"]["command"] == ["opsdesk", "worker"]
    assert (DEPLOY / services["api"]["build"]["dockerfile"].removeprefix("deploy/")).exists()


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("no docker compose client on this machine")
    result = subprocess.run(
        [docker, "compose", "-f", str(DEPLOY / "compose.yaml"), "config", "-q"], capture_output=True
    )
    assert result.returncode == 0, result.stderr.decode()
