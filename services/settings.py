"""Every setting of the product in one place, read from ``AR_``-prefixed environment variables.

The defaults are the embedded configuration a newcomer gets from ``make run``: SQLite files in
``AR_DATA_DIR`` (default ``./var``), no server needed, the API on 127.0.0.1:8000. Setting
``AR_DATABASE_URL`` to a ``postgresql://`` address moves the event store and the read models to
PostgreSQL; ``AR_KAFKA_BOOTSTRAP`` names the broker the relay publishes to.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    auto = "auto"  # console on a terminal, JSON lines otherwise
    console = "console"
    json = "json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AR_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        Path("./var"), description="Folder of the embedded SQLite database and local files."
    )
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://user:password@host:port/db to use PostgreSQL; unset for embedded SQLite.",
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
        scheme = urlsplit(value.get_secret_value()).scheme
        if scheme not in {"postgresql", "postgres"}:
            msg = f"AR_DATABASE_URL must be a postgresql:// address, not {scheme or 'an address without scheme'}"
            raise ValueError(msg)
        return value

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "receivables.sqlite"

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / "admin-api-key"

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
