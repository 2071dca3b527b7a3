"""Structured logging for every process of the product (API, CLI, projector, relay).

One configuration: structlog renders JSON lines when output is not a terminal (what log
shippers read) and a readable console otherwise; timestamps are UTC ISO-8601; the request or
correlation id is bound through contextvars so every line of one request carries it; the
standard-library loggers of uvicorn, kafka and eventsourcing go through the same renderer, so
every line looks alike. Secrets never reach a log line: API keys are logged by name only, and
as a last defence every line (message, values, traceback) passes through ``redact``, which blanks
the password of a ``scheme://user:password@host`` address, of ``password=...`` in a libpq
connection string and of a ``"password": ...`` item, whoever wrote it (psycopg, uvicorn, us).
"""

from __future__ import annotations

import io
import logging
import re
import sys
from typing import Any, TextIO

import structlog
from structlog.types import ExcInfo, Processor

from services.settings import LogFormat, Settings

# Third-party loggers that are chatty at INFO and say nothing an operator needs.
_QUIET_LOGGERS = {"kafka": logging.WARNING, "uvicorn.access": logging.WARNING}

REDACTED = "***"
_CREDENTIAL_WORDS = r"(?:password|passwd|pwd|secret)"
_SECRETS = [
    # scheme://user:password@host: the password may hold anything but an @ or a space.
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@]+(?=@)", re.IGNORECASE),
    # libpq's key=value form: password=secret or password='se cret'.
    re.compile(rf"(?P<keep>\b\w*{_CREDENTIAL_WORDS}\s*=\s*)(?:'[^']*'|\S+)", re.IGNORECASE),
    # a mapping's item, as repr() or JSON prints it: 'POSTGRES_PASSWORD': 'secret'.
    re.compile(
        rf"(?P<keep>\w*{_CREDENTIAL_WORDS}['\"]?\s*:\s*)(?:'[^']*'|\"[^\"]*\"|[^\s,}}]+)",
        re.IGNORECASE,
    ),
]


def _names_a_secret(text: str) -> bool:
    # Plain substring tests: an IGNORECASE regex costs ten times more, on every log line.
    lowered = text.lower()
    return "pass" in lowered or "pwd" in lowered or "secret" in lowered


def redact(text: str) -> str:
    """``text`` with every password it spells out replaced by ``***``."""
    # Every log line passes here: most text has no '@' and no such word, and skips the patterns.
    if "@" not in text and not _names_a_secret(text):
        return text
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: m["keep"] + REDACTED, text)
    return text


def _redacted(value: Any, key: str = "") -> Any:
    if value is None or isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return REDACTED if _names_a_secret(key) else redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v, key) for v in value]
    if isinstance(value, BaseException):
        return redact(repr(value))
    return value


def _redact_secrets(_: Any, __: str, event_dict: Any) -> Any:
    # Values are rendered as they stand here (str or repr), so each one is redacted as text.
    return {key: _redacted(value, str(key)) for key, value in event_dict.items()}


def _redacted_traceback(sio: TextIO, exc_info: ExcInfo) -> None:
    # Plain, not rich: rich prints every frame's locals, where a password sits in plain sight.
    buffer = io.StringIO()
    structlog.dev.plain_traceback(buffer, exc_info)
    sio.write(redact(buffer.getvalue()))


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
        else structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=_redacted_traceback
        )
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
            _redact_secrets,
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
