"""What opsdesk adds per /v1/chat/completions call over calling the same upstream directly.

Starts an upstream that answers at once (bench/upstream.py) and opsdesk (`opsdesk up`, embedded PostgreSQL in a
temporary data dir, local models loaded), each in its own process. The same load generator then calls the upstream
directly and through opsdesk at concurrency 1, 16 and 64, and prints two tables:

- end to end, client side: p50/p99 latency and requests/s direct and through opsdesk, and their difference;
- what opsdesk adds, server side: the `x-opsdesk-overhead-ms` each response carries (time from the request reaching
  opsdesk to the response start, minus the time spent in the upstream call), p50/p99. This is how LiteLLM measures
  the "Overhead Duration" it publishes (12 ms p50 / 43 ms p99), so the two sit side by side.

plus opsdesk's resident memory.

    python bench/overhead.py [--requests 2000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._results import publish
from bench._stats import percentile

ROOT = Path(__file__).resolve().parent.parent
BODY = {"model": "opsdesk", "messages": [{"role": "user", "content": "Say something short."}], "max_tokens": 16}


@dataclass
class Run:
    p50_ms: float
    p99_ms: float
    rps: float
    errors: int
    server_p50_ms: float | None = None  # opsdesk's own x-opsdesk-overhead-ms (LiteLLM's "Overhead Duration")
    server_p99_ms: float | None = None


LITELLM_CONCURRENCY = 16  # the row LiteLLM's published figures sit beside


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_http(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout_s} s")


async def _load(url: str, headers: dict[str, str], concurrency: int, total: int) -> Run:
    latencies: list[float] = []
    server: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:
        for _ in range(min(20, total)):  # warm connections and caches
            await client.post(url, json=BODY)
        remaining = total

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                response = await client.post(url, json=BODY)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors += 1
                reported = response.headers.get("x-opsdesk-overhead-ms")
                if reported is not None:
                    server.append(float(reported))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Run(
        p50_ms=statistics.median(latencies),
        p99_ms=percentile(latencies, 0.99),
        rps=len(latencies) / elapsed,
        errors=errors,
        server_p50_ms=statistics.median(server) if server else None,
        server_p99_ms=percentile(server, 0.99) if server else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="Requests per concurrency level and target.")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--json", action="store_true", help="Print one JSON object as the last line.")
    args = parser.parse_args()
    console = Console(stderr=args.json, width=150)
    levels = [int(level) for level in args.concurrency.split(",")]
    upstream_port, opsdesk_port = _free_port(), _free_port()
    data_dir = tempfile.mkdtemp(prefix="opsdesk-bench-")
    os.chmod(data_dir, 0o755)
    env = {
        **os.environ,
        "OPSDESK_DATA_DIR": data_dir,
        "OPSDESK_OPENAI_API_KEY": "sk-bench",
        "OPSDESK_OPENAI_BASE_URL": f"http://127.0.0.1:{upstream_port}/v1",
        "OPSDESK_OPENAI_MODEL": "bench-model",
        "OPSDESK_RATE_LIMIT_PER_KEY": "100000000/minute",
        "OPSDESK_LOG_LEVEL": "INFO",
    }
    opsdesk = [sys.executable, "-m", "opsdesk.cli"]
    upstream = subprocess.Popen([sys.executable, "-m", "bench.upstream", "--port", str(upstream_port)], cwd=ROOT)
    server: subprocess.Popen[bytes] | None = None
    log = open(Path(data_dir) / "opsdesk.log", "wb")  # noqa: SIM115 - closed in finally
    try:
        key = (
            subprocess.run(
                [*opsdesk, "apikey", "create", "--role", "service", "--quiet"], env=env, check=True, capture_output=True
            )
            .stdout.decode()
            .strip()
        )
        server = subprocess.Popen([*opsdesk, "up", "--port", str(opsdesk_port)], env=env, stdout=log, stderr=log)
        _wait_http(f"http://127.0.0.1:{upstream_port}/v1/chat/completions")
        _wait_http(f"http://127.0.0.1:{opsdesk_port}/healthz")
        direct_url = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
        via_url = f"http://127.0.0.1:{opsdesk_port}/v1/chat/completions"
        headers = {"Authorization": f"Bearer {key}"}
        results: dict[int, tuple[Run, Run]] = {}
        for level in levels:
            direct = asyncio.run(_load(direct_url, {}, level, args.requests))
            via = asyncio.run(_load(via_url, headers, level, args.requests))
            results[level] = (direct, via)
        rss_mb = psutil.Process(server.pid).memory_info().rss / 1_048_576
    finally:
        for process in (server, upstream):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        log.close()

    table = Table(title="End to end, client side: the same load generator, direct vs through opsdesk")
    for column in (
        "concurrency",
        "direct p50 ms",
        "opsdesk p50 ms",
        "difference p50 ms",
        "direct p99 ms",
        "opsdesk p99 ms",
        "difference p99 ms",
        "direct req/s",
        "opsdesk req/s",
        "errors",
    ):
        table.add_column(column, justify="right")
    own = Table(title="What opsdesk adds, server side (request time minus upstream time; LiteLLM's definition)")
    for column in ("concurrency", "opsdesk p50 ms", "opsdesk p99 ms", "LiteLLM p50 ms", "LiteLLM p99 ms"):
        own.add_column(column, justify="right")
    summary: dict[str, object] = {}
    for level, (direct, via) in results.items():
        difference50, difference99 = via.p50_ms - direct.p50_ms, via.p99_ms - direct.p99_ms
        table.add_row(
            str(level),
            f"{direct.p50_ms:.2f}",
            f"{via.p50_ms:.2f}",
            f"{difference50:.2f}",
            f"{direct.p99_ms:.2f}",
            f"{via.p99_ms:.2f}",
            f"{difference99:.2f}",
            f"{direct.rps:.0f}",
            f"{via.rps:.0f}",
            str(direct.errors + via.errors),
        )
        own.add_row(
            str(level),
            _fmt(via.server_p50_ms),
            _fmt(via.server_p99_ms),
            *(("12", "43") if level == LITELLM_CONCURRENCY else ("", "")),
        )
        summary[f"c{level}"] = {
            "overhead_p50_ms": via.server_p50_ms,
            "overhead_p99_ms": via.server_p99_ms,
            "end_to_end_difference_p50_ms": round(difference50, 2),
            "end_to_end_difference_p99_ms": round(difference99, 2),
            "direct_rps": round(direct.rps),
            "opsdesk_rps": round(via.rps),
            "errors": direct.errors + via.errors,
        }
    console.print(table)
    console.print(own)
    console.print(
        "Target at concurrency 16: what opsdesk adds, p50 ≤ 5 ms and p99 ≤ 20 ms. LiteLLM's published 12 / 43 ms is its"
        " 'Overhead Duration' (2 instances, 1,000 req/s), the quantity in the second table. The first table's"
        " difference also holds queueing: load generator, upstream and opsdesk share the same cores."
    )
    console.print(f"opsdesk resident memory with the local models loaded: {rss_mb:.0f} MB (target ≤ 1024 MB)")
    summary["rss_mb"] = round(rss_mb)
    publish("overhead", summary, as_json=args.json)


if __name__ == "__main__":
    main()
