"""The store the Kafka tests share: a fresh PostgreSQL database and a fresh topic on the real
broker, wired together as ``ar relay`` would see them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.bootstrap import Runtime, bootstrap
from services.settings import Settings


@pytest.fixture
def kafka_settings(
    fresh_postgres_url: str, kafka_bootstrap: str, kafka_topic: str, tmp_path: Path
) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=fresh_postgres_url,  # type: ignore[arg-type]
        kafka_bootstrap=kafka_bootstrap,
        kafka_topic=kafka_topic,
        log_level="WARNING",
    )


@pytest.fixture
def kafka_runtime(kafka_settings: Settings) -> Iterator[Runtime]:
    runtime = bootstrap(kafka_settings)
    yield runtime
    runtime.close()
