"""Every setting of the product in one place, read from ``AR_``-prefixed environment variables.

The defaults are the embedded configuration a newcomer gets from ``make run``: SQLite files in
``AR_DATA_DIR`` (default ``./var``), no server needed, the API on 127.0.0.1:8000. Setting
``AR_DATABASE_URL`` to a ``postgresql://`` address moves the event store and the read models to
PostgreSQL; ``AR_KAFKA_BOOTSTRAP`` names the broker the relay publishes to.

The database address holds a password, so it is a ``SecretStr``, a refused setting's input is
never echoed in the error (``hide_input_in_errors``), and the sentence that says what is wrong
with the address names the part at fault without quoting it.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from psycopg.conninfo import make_conninfo
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    auto = "auto"  # console on a terminal, JSON lines otherwise
    console = "console"
    json = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AR_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    data_dir: Path = Field(
        Path("./var"), description="Folder of the embedded SQLite database and local files."
    )
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host:port/db to use PostgreSQL; unset for embedded SQLite.",
    )
    database_timeout_seconds: int = Field(
        10,
        ge=1,
        le=300,
        description="How long a request waits for a database connection before it answers 503.",
    )
    host: str = Field("127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP API listens on.")

    kafka_bootstrap: str = Field(
        "127.0.0.1:19092", description="Kafka bootstrap servers for the relay."
    )
    kafka_topic: str = Field(
        "receivables.events.v1", description="Topic the relay publishes billing events to."
    )
    kafka_partitions: int = Field(
        6, ge=1, description="Partitions of the topic when the relay creates it."
    )

    log_level: str = Field("INFO", description="Minimum level logged.")
    log_format: LogFormat = Field(LogFormat.auto, description="auto, console or json.")

    projector_poll_seconds: float = Field(
        0.2, gt=0, description="How often an idle projector looks for new events."
    )
    relay_poll_seconds: float = Field(
        0.2, gt=0, description="How often an idle relay looks for new events."
    )
    projector_cache_accounts: int = Field(
        20_000,
        ge=100,
        le=10_000_000,
        description="Accounts a projector keeps replayed in memory: more is faster, and bigger.",
    )
    batch_size: int = Field(
        500, ge=1, le=10_000, description="Events a projector or relay handles per transaction."
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        fault = _postgres_url_fault(value.get_secret_value())
        if fault is not None:
            msg = f"AR_DATABASE_URL {fault}; its form is postgresql:// followed by user:password@host:port/database"
            raise ValueError(msg)
        return value

    @property
    def database_place(self) -> str:
        """Where the database is, fit to print: host, port and database name, no credentials."""
        if self.database_url is None:
            return str(self.sqlite_path)
        parts = self.postgres_parts()
        return f"PostgreSQL at {parts['POSTGRES_HOST']}:{parts['POSTGRES_PORT']}, database {parts['POSTGRES_DBNAME']}"

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "receivables.sqlite"

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / "admin-api-key"

    def postgres_conninfo(self) -> str:
        """``database_url`` as a libpq connection string built from its parsed parts, for a
        connection of the product's own outside eventsourcing's pool (never the raw URL: libpq
        quotes, password and all, a URL it cannot parse)."""
        parts = self.postgres_parts()
        return make_conninfo(
            host=parts["POSTGRES_HOST"],
            port=parts["POSTGRES_PORT"],
            user=parts["POSTGRES_USER"],
            password=parts["POSTGRES_PASSWORD"],
            dbname=parts["POSTGRES_DBNAME"],
        )

    def postgres_parts(self) -> dict[str, str]:
        """The pieces of ``database_url`` as eventsourcing's POSTGRES_* settings want them."""
        if self.database_url is None:
            msg = "no AR_DATABASE_URL is set"
            raise ValueError(msg)
        url = urlsplit(self.database_url.get_secret_value())
        return {
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or ""),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_DBNAME": url.path.lstrip("/") or "receivables",
        }


def _postgres_url_fault(url: str) -> str | None:
    """What is wrong with a PostgreSQL address, in words that never quote it (it holds a
    password), or None when it is well formed."""
    scheme, colon, rest = url.partition(":")
    if scheme.lower() not in {"postgresql", "postgres"} or not colon or not rest.startswith("//"):
        return "must start with postgresql://"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        # urlsplit reads the text after the first ':' of user:password@host as a port when
        # the password holds '/', '?' or '#'; those need percent-encoding there.
        return (
            "has a port that is not a number from 1 to 65535, or a password with '/', '?', '#'"
            " or '[' not written as %2F, %3F, %23, %5B"
        )
    if port is not None and not 1 <= port <= 65535:
        return "has a port that is not a number from 1 to 65535"
    if re.search(r"%(?![0-9A-Fa-f]{2})", url):
        # libpq quotes the whole address when it refuses a bad escape: refuse it first.
        return "has a '%' not followed by two hex digits; a '%' in the password is written %25"
    database = unquote(parts.path.lstrip("/"))
    if "/" in database or "@" in database:
        return (
            "has a database name with '/' or '@' in it; a '/' or '@' in the password is written"
            " %2F or %40"
        )
    return None
