"""One HTTP worker process of ``ar serve --workers N``.

Each worker is a process of its own with its own runtime over the same PostgreSQL database:
its own connection pool, group committer and cache of API keys. What must hold across workers
already does: an idempotency key is claimed in the database (a repeat sent to another worker
gets the first answer), an account's events are appended under optimistic concurrency (two
workers racing on one account: one batch wins, the other's commands are retried or refused,
never half-written), and a revoked API key is refused at once by every process
(``services.api_keys``). The projector and the close schedule run once, in the process that
started the workers, not in each of them.

Workers take their settings from the environment (``AR_*``), as the starting process did.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.api.app import create_app
from services.bootstrap import bootstrap
from services.logging import configure_logging
from services.settings import Settings


def create_worker_app() -> FastAPI:
    """The app of one worker process; its runtime closes when the worker stops."""
    settings = Settings()
    configure_logging(settings)
    runtime = bootstrap(settings)
    return create_app(runtime, close_runtime_on_shutdown=True)
