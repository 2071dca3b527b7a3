"""A recorded history: many accounts' events written quickly, for rebuild and report figures.

``record`` opens ``accounts`` accounts and sends them the seeded workload's commands (see
``bench.workload``) through the application, queued in a window so they commit in large
batches. The same arguments give the same history.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from datetime import date
from typing import Any

from bench.workload import clients
from domain.provenance import Provenance
from services.app import Receivables

WINDOW = 2048
CLERK = Provenance(actor="bench-clerk", correlation_id="bench-history")


def record(
    app: Receivables, tenant_id: str, accounts: int, commands_each: int, seed: int = 7
) -> int:
    """Open the accounts and send ``commands_each`` commands per account on average; the
    number of events recorded."""
    (client,) = clients(1, accounts, seed=seed)
    pending: deque[Future[Any]] = deque()

    def queue(future: Future[Any]) -> None:
        pending.append(future)
        if len(pending) >= WINDOW:
            pending.popleft().result()

    for script in client.accounts:
        queue(
            app.submit_open_account(
                tenant_id=tenant_id,
                account_number=script.number,
                name=f"Customer {script.number}",
                currency="USD",
                opened_on=date(2026, 1, 1),
                meta=CLERK,
            )
        )
    commands = client.commands()
    for _ in range(accounts * commands_each):
        number, command = next(commands)
        queue(app.submit(tenant_id=tenant_id, account_number=number, command=command, meta=CLERK))
    while pending:
        pending.popleft().result()
    return app.recorder.max_notification_id() or 0
