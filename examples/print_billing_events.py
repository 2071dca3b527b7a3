"""Print every billing event, one line each: a downstream service in one page.

    uv run python examples/print_billing_events.py --group my-service

It joins the consumer group ``my-service`` on the topic ``AR_KAFKA_TOPIC`` (default
``receivables.events.v1``) at ``AR_KAFKA_BOOTSTRAP`` (default ``127.0.0.1:19092``; ``make
infra-up`` starts one). A new group starts at the first event; a group that ran before resumes
after the last event it committed. Ctrl-C stops it after the current event. Two copies with the
same ``--group`` share the partitions; copies with different groups each print everything.
Events appear once something publishes them: ``uv run ar relay``.

Each line: partition@offset, tenant, account id, account version, event type, business date,
event id. Delivery is at least once (``services/subscriber.py`` says exactly what that means):
a real service stores ``event.event_id`` with its effect, so an event delivered twice is applied
once.
"""

from __future__ import annotations

import argparse
import signal
import threading
from types import FrameType

from services.logging import configure_logging
from services.settings import Settings
from services.subscriber import BillingEvent, BillingEvents


def print_event(event: BillingEvent) -> None:
    print(
        f"{event.partition}@{event.offset} {event.tenant_id} {event.account_id}"
        f" v{event.account_version} {event.type} {event.effective_on.isoformat()} {event.event_id}",
        flush=True,
    )


def main() -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--group", required=True, help="consumer group id (your service's name)")
    parser.add_argument("--topic", default=settings.kafka_topic, help="%(default)s")
    parser.add_argument("--bootstrap", default=settings.kafka_bootstrap, help="%(default)s")
    parser.add_argument(
        "--from-latest",
        action="store_true",
        help="a new group starts at the end of the topic instead of the first event",
    )
    parser.add_argument("--max-events", type=int, default=None, help="stop after this many")
    args = parser.parse_args()

    configure_logging(settings)  # skipped records and failures are logged to stderr
    stop = threading.Event()

    def request_stop(_signal: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    events = BillingEvents(
        args.bootstrap, args.group, topic=args.topic, from_beginning=not args.from_latest
    )
    events.run(print_event, stop=stop, max_events=args.max_events)


if __name__ == "__main__":
    main()
