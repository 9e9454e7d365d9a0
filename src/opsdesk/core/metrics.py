"""Process-wide Prometheus metrics for HTTP traffic (each domain defines its own next to its code)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "opsdesk_http_requests_total", "HTTP requests by route template, method and status.", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "opsdesk_http_request_seconds",
    "HTTP request latency by route template.",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OVERHEAD = Histogram(
    "opsdesk_overhead_seconds",
    "Time opsdesk adds to requests that call a model provider: request time minus upstream time.",
    ["route"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5),
)
RATE_LIMITED = Counter("opsdesk_rate_limited_total", "Requests refused by a rate limit.", ["scope"])
RATE_LIMIT_DEGRADED = Counter(
    "opsdesk_rate_limit_degraded_total", "Times rate limiting fell back from Redis to process memory."
)
