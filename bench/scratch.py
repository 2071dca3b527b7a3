"""Scratch databases: a PostgreSQL database of its own for one test or one benchmark figure.

Dropping one can race PostgreSQL's autovacuum, which may be working on the database (after a
million events, for minutes) as a superuser the product's role cannot terminate. The drop ends
the role's own sessions and leaves the worker to the server, which stops it for a plain drop.
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


def drop_database(server_url: str, name: str, seconds: float = 120.0) -> None:
    """Drop ``name``: first end this role's own sessions on it, then a plain ``DROP DATABASE``,
    which makes an autovacuum worker there give way by itself (``WITH (FORCE)`` would try to
    terminate that worker too, which only a superuser may). Retried while a session lingers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND usename = current_user"
                    " AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
                    (name,),
                )
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        except (errors.InsufficientPrivilege, errors.ObjectInUse):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
        else:
            return


def local_postgres_url() -> str:
    """The address of the PostgreSQL cluster ``deploy/local`` runs."""
    script = Path(__file__).resolve().parent.parent / "deploy/local/postgres.sh"
    return subprocess.run(  # noqa: S603 - the project's own script
        [str(script), "dsn"], check=True, capture_output=True, text=True
    ).stdout.strip()
