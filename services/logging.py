"""Structured logging for every process of the product (API, CLI, projector, relay).

One configuration: structlog renders JSON lines when output is not a terminal (what log
shippers read) and a readable console otherwise; timestamps are UTC ISO-8601; the request or
correlation id is bound through contextvars so every line of one request carries it; the
standard-library loggers of uvicorn, kafka and eventsourcing go through the same renderer, so
every line looks alike. Secrets never reach a log line: API keys are logged by name only.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.types import Processor

from services.settings import LogFormat, Settings

# Third-party loggers that are chatty at INFO and say nothing an operator needs.
_QUIET_LOGGERS = {"kafka": logging.WARNING, "uvicorn.access": logging.WARNING}


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """Route structlog and the standard library through one renderer on ``stream``."""
    stream = stream if stream is not None else sys.stderr
    use_json = settings.log_format == LogFormat.json or (
        settings.log_format == LogFormat.auto and not stream.isatty()
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # JSON needs the traceback as a string; the console renderer formats it itself.
            *([structlog.processors.format_exc_info] if use_json else []),
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "kafka", "eventsourcing"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    for name, level in _QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, root.level))


def _drop_color_message(_: Any, __: str, event_dict: Any) -> Any:
    # uvicorn adds an ANSI-coloured copy of its message for its own console handler.
    event_dict.pop("color_message", None)
    return event_dict


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


bind_context = structlog.contextvars.bind_contextvars
clear_context = structlog.contextvars.clear_contextvars
