"""What opsdesk adds per /v1/chat/completions call over calling the same upstream directly.

Starts an upstream that answers at once (bench/upstream.py) and opsdesk (`opsdesk up`, embedded PostgreSQL in a
temporary data dir, local models loaded), each in its own process. The same load generator then calls the upstream
directly and through opsdesk at concurrency 1, 16 and 64, and prints p50/p99 latency, the overhead and requests/s
side by side, plus opsdesk's resident memory.

    python bench/overhead.py [--requests 2000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

ROOT = Path(__file__).resolve().parent.parent
BODY = {"model": "opsdesk", "messages": [{"role": "user", "content": "Say something short."}], "max_tokens": 16}


@dataclass
class Run:
    p50_ms: float
    p99_ms: float
    rps: float
    errors: int


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

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return Run(
        p50_ms=statistics.median(latencies),
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        rps=len(latencies) / elapsed,
        errors=errors,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="Requests per concurrency level and target.")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--json", action="store_true", help="Print one JSON object as the last line.")
    args = parser.parse_args()
    console = Console(stderr=args.json)
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

    table = Table(title="opsdesk overhead per /v1/chat/completions (upstream answers at once)")
    for column in (
        "concurrency",
        "direct p50 ms",
        "opsdesk p50 ms",
        "overhead p50 ms",
        "direct p99 ms",
        "opsdesk p99 ms",
        "overhead p99 ms",
        "direct req/s",
        "opsdesk req/s",
        "errors",
    ):
        table.add_column(column, justify="right")
    summary: dict[str, object] = {}
    for level, (direct, via) in results.items():
        overhead50, overhead99 = via.p50_ms - direct.p50_ms, via.p99_ms - direct.p99_ms
        table.add_row(
            str(level),
            f"{direct.p50_ms:.2f}",
            f"{via.p50_ms:.2f}",
            f"{overhead50:.2f}",
            f"{direct.p99_ms:.2f}",
            f"{via.p99_ms:.2f}",
            f"{overhead99:.2f}",
            f"{direct.rps:.0f}",
            f"{via.rps:.0f}",
            str(direct.errors + via.errors),
        )
        summary[f"c{level}"] = {
            "overhead_p50_ms": round(overhead50, 2),
            "overhead_p99_ms": round(overhead99, 2),
            "direct_rps": round(direct.rps),
            "opsdesk_rps": round(via.rps),
            "errors": direct.errors + via.errors,
        }
    console.print(table)
    console.print("Targets at concurrency 16: overhead p50 ≤ 5 ms, p99 ≤ 20 ms (LiteLLM publishes 12 ms / 43 ms).")
    console.print(f"opsdesk resident memory with the local models loaded: {rss_mb:.0f} MB (target ≤ 1024 MB)")
    summary["rss_mb"] = round(rss_mb)
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "overhead.json").write_text(json.dumps(summary, indent=2))
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
