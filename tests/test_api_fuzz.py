"""Schemathesis generates requests from /openapi.json; no generated request may produce a 5xx.

Besides what schemathesis makes up, every path and query parameter gets the values a red team used (NUL and other
control characters, format strings), and a share of the generated requests carry them in every string of the body.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from pydantic import SecretStr
from schemathesis import GenerationMode

from opsdesk.api import create_app
from opsdesk.app.context import AppContext
from opsdesk.auth.roles import Role
from tests.conftest import make_settings, make_tenant
from tests.fakes.openai_server import FakeOpenAI
from tests.support.database import TestDatabases
from tests.support.live_server import LiveServer

# 30 per operation (15 valid, 15 invalid) keeps the run near 90 s on 2 cores with 140 operations; the hostile values
# are also sent to every parameter by the test before it. OPSDESK_FUZZ_EXAMPLES=200 for a deeper run.
EXAMPLES_PER_OPERATION = int(os.environ.get("OPSDESK_FUZZ_EXAMPLES", "30"))
MIN_TOTAL_CASES = 500
# What broke opsdesk before: NUL and control characters in ids, names and query text; format strings in mappings
# (`{0:>99999999}` built megabytes per row).
HOSTILE = ("\x00", "a\x00b", "\x1b[2J\x07", "\x7f", "{x}", "%s%n", "{0:>99999999}", "{date.x}")


@dataclass
class Target:
    url: str
    workspace: str
    api_key: str


@pytest.fixture(scope="module")
def target(databases: TestDatabases) -> Iterator[Target]:
    database_url = databases.create()
    with FakeOpenAI(reply="ok") as upstream, tempfile.TemporaryDirectory() as data_dir:
        config = make_settings(
            database_url,
            Path(data_dir),
            openai_api_key=SecretStr("sk-fuzz"),
            openai_base_url=upstream.url,
            rate_limit_per_key="1000000/minute",
            rate_limit_per_user="1000000/minute",
        )

        async def seed() -> str:
            context = await AppContext.open(config, migrate=False)
            try:
                return (await make_tenant(context, "fuzz")).keys[Role.admin]
            finally:
                await context.close()

        api_key = asyncio.run(seed())
        server = LiveServer(create_app(config)).start()
        try:
            yield Target(url=server.url, workspace="fuzz", api_key=api_key)
        finally:
            server.stop()
    databases.drop(database_url)


def _hostile(value: Any, text: str) -> Any:
    """`value` with every string in it replaced by `text` (keys kept)."""
    if isinstance(value, str):
        return text
    if isinstance(value, list):
        return [_hostile(item, text) for item in value]
    if isinstance(value, dict):
        return {key: _hostile(item, text) for key, item in value.items()}
    return value


def _with_hostile_strings(case: schemathesis.Case, text: str) -> None:
    if case.path_parameters:
        case.path_parameters = {
            name: value if name == "workspace" else text for name, value in case.path_parameters.items()
        }
    if case.query:
        case.query = _hostile(case.query, text)
    if isinstance(case.body, dict | list) and case.media_type == "application/json":
        case.body = _hostile(case.body, text)


def test_hostile_values_in_every_path_and_query_parameter_get_a_4xx(target: Target) -> None:
    schema = schemathesis.openapi.from_url(target.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {target.api_key}"}
    failures: list[str] = []
    calls = 0
    with httpx.Client(base_url=target.url, headers=headers, timeout=60) as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            names = [p.name for p in operation.path_parameters if p.name != "workspace"]
            names += [p.name for p in operation.query]
            if not names:
                continue
            for text in HOSTILE:
                path = operation.path
                for parameter in operation.path_parameters:
                    value = target.workspace if parameter.name == "workspace" else text
                    path = path.replace(f"{{{parameter.name}}}", quote(value, safe=""))
                query = {p.name: text for p in operation.query}
                response = http.request(operation.method.upper(), path, params=query)
                calls += 1
                if response.status_code >= 500:
                    failures.append(f"{operation.method.upper()} {path} {query!r} -> {response.status_code}")
    assert not failures, "\n".join(failures[:20])
    assert calls > 100


@pytest.mark.slow
@pytest.mark.timeout(1200)  # every operation of the API, which grows with each solution; a loaded host is slow
def test_no_generated_request_gets_a_5xx(target: Target) -> None:
    schema = schemathesis.openapi.from_url(target.url + "/openapi.json")
    headers = {"Authorization": f"Bearer {target.api_key}"}
    failures: list[str] = []
    total = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        path_parameters = {"workspace": target.workspace} if "{workspace}" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

            @given(case=strategy, with_auth=st.booleans(), hostile=st.one_of(st.none(), st.sampled_from(HOSTILE)))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION // 2,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case, with_auth: bool, hostile: str | None) -> None:
                nonlocal total
                total += 1
                if hostile is not None:  # in place of generated strings: no extra requests, the run stays as long
                    _with_hostile_strings(case, hostile)
                response = case.call(base_url=target.url, headers=headers if with_auth else None, timeout=60)
                if response.status_code >= 500:
                    failures.append(
                        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                    )

            try:
                run()
            except Unsatisfiable:
                # Negative mode has nothing to break in an operation without inputs (e.g. GET /healthz).
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no positive case could be generated"
    assert not failures, "\n".join(failures[:20])
    assert total >= MIN_TOTAL_CASES, f"only {total} cases generated"
