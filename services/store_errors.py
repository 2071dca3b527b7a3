"""A database that is away: which store errors mean it, and how a caller hears it.

The store is *unavailable* when it cannot be reached or will not take writes: no connection
could be had from the pool in time, a pooled connection turned out dead (the server restarted
or ended the session), or the server is read-only (a standby, or a primary being failed over).
Such a failure says nothing about the request: it answers ``503`` with ``Retry-After`` over
HTTP, and a sentence with a non-zero exit status in the CLI, never a 500 or a traceback. What
the store refused for any other reason (a bug in our SQL, a broken constraint) is not this, and
stays what it is.

Which errors mean it is decided in ``projections.database`` (``is_database_unavailable``),
where reads retry once on a fresh connection when a pooled one was dead.

No message made here quotes the database address: it holds a password.
"""

from __future__ import annotations

import psycopg

from projections.database import is_database_unavailable
from services.errors import ServiceError
from services.logging import redact
from services.settings import Settings

__all__ = [
    "RETRY_AFTER_SECONDS",
    "DatabaseUnavailable",
    "is_database_unavailable",
    "translate_store_error",
    "why_unreachable",
]

#: Seconds a client is asked to wait before it sends a refused request again.
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(ServiceError):
    code = "database_unavailable"
    status = 503

    def __init__(self) -> None:
        super().__init__(
            "The database is not answering at the moment, so the request was not completed; "
            f"send it again in {RETRY_AFTER_SECONDS} seconds (a command with the same "
            "Idempotency-Key)."
        )


def translate_store_error(exc: BaseException) -> BaseException:
    """``DatabaseUnavailable`` (caused by ``exc``) when ``exc`` says the database is away;
    ``exc`` itself otherwise. For code that hands a store's error to a caller (the group
    committer's futures), so the caller hears a 503 rather than a fault."""
    if isinstance(exc, DatabaseUnavailable) or not is_database_unavailable(exc):
        return exc
    unavailable = DatabaseUnavailable()
    unavailable.__cause__ = exc
    return unavailable


def why_unreachable(settings: Settings) -> str:
    """Why a fresh connection to the configured PostgreSQL fails, in psycopg's words (which
    name the host, port, user and database, never the password), or an empty string when it
    succeeds. The pool only says it timed out; an operator needs the reason."""
    if settings.database_url is None:
        return ""
    try:
        psycopg.connect(
            settings.postgres_conninfo(),
            connect_timeout=5,
        ).close()
    except psycopg.Error as exc:
        return redact(" ".join(str(exc).split()))
    return ""
