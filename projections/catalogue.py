"""The read models the projector keeps, in the order it applies them."""

from __future__ import annotations

from projections.agenda import Agenda
from projections.approvals import ApprovalRequests
from projections.audit_trail import AuditTrail
from projections.balances import AccountBalances
from projections.claims import ClaimsIndex
from projections.collections import Collections
from projections.directory import AccountDirectory
from projections.ledger import Ledger
from projections.open_items import OpenItems
from projections.runner import ReadModel

MODELS: dict[str, type[ReadModel]] = {
    model.name: model
    for model in (
        AccountBalances,
        OpenItems,
        Ledger,
        AuditTrail,
        Collections,
        AccountDirectory,
        ClaimsIndex,
        ApprovalRequests,
    )
}
# The close of day's selection (projections.agenda), kept by every projector like the rest.
MODELS[Agenda.name] = Agenda


def read_models(prefix: str = "", names: list[str] | None = None) -> list[ReadModel]:
    """Every read model (or those named), with table names under ``prefix``."""
    return [MODELS[name](prefix) for name in (names or list(MODELS))]
