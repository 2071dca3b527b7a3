"""A reporting member: ``ar project --from-kafka``, wired from the settings.

The member reads the topic of ``AR_KAFKA_BOOTSTRAP`` / ``AR_KAFKA_TOPIC`` and writes the read
models into the reporting database it is given, which is a store of this product in its own
right (the product's migrations run there, so ``parked_accounts`` and the read models' version
rows exist, and ``ar report ...`` with ``AR_DATABASE_URL`` set to it reads its read models); its
own event store stays empty. See ``projections.kafka_projector`` for what it guarantees.
"""

from __future__ import annotations

import threading

from pydantic import SecretStr

from projections.catalogue import read_models
from projections.kafka_projector import KafkaProjector
from services.bootstrap import Runtime, bootstrap, one_process_at_a_time
from services.logging import configure_logging, get_logger
from services.settings import Settings

#: The advisory lock members starting together hold while one of them creates the tables.
_CREATING_REPORTING_TABLES = 0x52_65_63_76_52_65_70  # "RecvRep"


def reporting_member(
    settings: Settings, group: str, member: str | None = None
) -> tuple[KafkaProjector, Runtime]:
    """A member of ``group`` on the reporting database of ``settings.database_url``, and the
    runtime of that database (close both when done)."""
    runtime = bootstrap(settings)
    with one_process_at_a_time(settings, _CREATING_REPORTING_TABLES):
        projector = KafkaProjector(
            runtime.db,
            read_models(),
            bootstrap_servers=settings.kafka_bootstrap,
            topic=settings.kafka_topic,
            group=group,
            member=member,
            batch_size=settings.batch_size,
            cache_accounts=settings.projector_cache_accounts,
        )
    return projector, runtime


def run_reporting_member(
    group: str, member: str | None, database_url: str, stop: threading.Event
) -> None:
    """Run one member until ``stop``."""
    settings = Settings(database_url=SecretStr(database_url))
    configure_logging(settings)
    projector, runtime = reporting_member(settings, group, member)
    get_logger("receivables.cli").info(
        "reporting projector started", group=group, topic=settings.kafka_topic
    )
    try:
        projector.run(stop)
    finally:
        projector.close()
        runtime.close()
