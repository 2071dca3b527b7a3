"""What one event changed: the projector replays each account as its events pass by.

Read models must agree with the domain to the cent, so they never re-implement its policies
(allocation, waterfall, proration). Instead the projector keeps each account it meets in
memory and applies every event to it with the domain's own code; what the event appended to
the account's ledger entries, open items and item movements is handed to the read models as a
``Change``. Only what the event added is read, so handling an event costs the same on the
10,000th event of an account as on its first.

Memory stays flat: at most ``cache_size`` accounts are kept (least recently used first out).
An account that is not in memory — evicted, or first met after a restart — is loaded at the
version before the event from the event store: from its latest snapshot, then the events
after it, or (``from_snapshots=False``, for verification) from its first event.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from domain.account import Account
from domain.ledger import LedgerEntry
from domain.money import Money
from domain.open_items import Movement, OpenItem


@dataclass(frozen=True, slots=True)
class Change:
    """One event and what it did to its account.

    ``account`` is the replayed account itself, valid while this event is handled: the next
    event of the account moves it on.
    """

    event: Any
    position: int
    account: Account
    unapplied_before: Money
    entries: Sequence[LedgerEntry]
    new_items: Sequence[OpenItem]
    moves: Sequence[tuple[str, Movement]]

    @property
    def account_id(self) -> str:
        return str(self.event.originator_id)

    @property
    def recorded_at(self) -> datetime:
        moment: datetime = self.event.timestamp
        return moment

    @property
    def event_type(self) -> str:
        return type(self.event).__name__


def _new_moves(account: Account, numbers: Sequence[str]) -> list[tuple[str, Movement]]:
    """The movements behind the newest entries of ``item_moves``, in the order applied: each
    item's own list ends with them, in the same order."""
    counts = Counter(numbers)
    taken = {number: len(account.items[number].movements) - n for number, n in counts.items()}
    moves = []
    for number in numbers:
        moves.append((number, account.items[number].movements[taken[number]]))
        taken[number] += 1
    return moves


class AccountReplayer:
    """Applies each event to its account, kept in a bounded cache, and says what changed."""

    def __init__(
        self, app: Application[UUID], cache_size: int = 20_000, *, from_snapshots: bool = True
    ) -> None:
        self.app = app
        self.cache_size = cache_size
        self.from_snapshots = from_snapshots
        self._accounts: OrderedDict[UUID, Account] = OrderedDict()
        self.loads = 0

    def advance(self, event: Any, position: int) -> Change:
        account_id: UUID = event.originator_id
        before = self._account_before(account_id, event.originator_version)
        if before is None:
            account: Account = event.mutate(None)
            counts = (0, 0, 0)
            unapplied_before = Money.zero(account.currency)
        else:
            counts = (len(before.entries), len(before.items), len(before.item_moves))
            unapplied_before = before.unapplied_credit
            account = event.mutate(before)
        entries, items, moves = counts
        new_item_count = len(account.items) - items
        new_items = list(islice(reversed(account.items.values()), new_item_count))[::-1]
        self._remember(account_id, account)
        return Change(
            event=event,
            position=position,
            account=account,
            unapplied_before=unapplied_before,
            entries=account.entries[entries:],
            new_items=new_items,
            moves=_new_moves(account, account.item_moves[moves:]),
        )

    def forget(self, account_id: UUID) -> None:
        """Drop the account from memory (its replay failed half-way: it is loaded again)."""
        self._accounts.pop(account_id, None)

    def _account_before(self, account_id: UUID, version: int) -> Account | None:
        if version == 1:
            return None
        account = self._accounts.get(account_id)
        if account is not None and account.version == version - 1:
            self._accounts.move_to_end(account_id)
            return account
        self.loads += 1
        if self.from_snapshots:
            loaded: Account = self.app.repository.get(account_id, version=version - 1)
            return loaded
        # From the events alone: what ``ar verify`` trusts, whatever the snapshots say.
        replayed: Account | None = None
        earlier: Any
        for earlier in self.app.events.get(account_id, lte=version - 1):
            replayed = earlier.mutate(replayed)
        return replayed

    def _remember(self, account_id: UUID, account: Account) -> None:
        self._accounts[account_id] = account
        self._accounts.move_to_end(account_id)
        while len(self._accounts) > self.cache_size:
            self._accounts.popitem(last=False)
