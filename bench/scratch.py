"""Scratch databases: a PostgreSQL database of its own for one test or one benchmark figure.

Dropping one can race PostgreSQL's autovacuum, which may have just started on the new
database as a superuser the product's role cannot terminate; the drop is retried until the
worker has gone (it yields within moments).
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import errors


@contextmanager
def scratch_database(server_url: str, label: str) -> Iterator[str]:
    """A new empty database on the server of ``server_url``; yields its URL, then drops it."""
    name = f"ar_{label}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        drop_database(server_url, name)


def drop_database(server_url: str, name: str, attempts: int = 50) -> None:
    for attempt in range(attempts):
        try:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except (errors.InsufficientPrivilege, errors.ObjectInUse):
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)
        else:
            return


def local_postgres_url() -> str:
    """The address of the PostgreSQL cluster ``deploy/local`` runs."""
    script = Path(__file__).resolve().parent.parent / "deploy/local/postgres.sh"
    return subprocess.run(  # noqa: S603 - the project's own script
        [str(script), "dsn"], check=True, capture_output=True, text=True
    ).stdout.strip()
