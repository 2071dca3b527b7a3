"""Collections: disputes, contacts made to collect, promises to pay, dunning, and the daily
sweep that records what the passing of a date decides."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.common import command_endpoint
from services.commands import (
    EscalateDunning,
    OpenDispute,
    RecordCollectionActivity,
    RecordPromiseToPay,
    ResolveDispute,
    Sweep,
)

router = APIRouter(prefix="/v1/accounts", tags=["collections"])

command_endpoint(router, "disputes", OpenDispute, "Open a dispute on an invoice")
command_endpoint(router, "dispute-resolutions", ResolveDispute, "Resolve a dispute with an outcome")
command_endpoint(
    router,
    "collection-activities",
    RecordCollectionActivity,
    "Record a call, letter or visit made to collect",
)
command_endpoint(
    router, "promises-to-pay", RecordPromiseToPay, "Record the customer's promise to pay"
)
command_endpoint(router, "dunning-escalations", EscalateDunning, "Raise the dunning level")
command_endpoint(
    router, "sweeps", Sweep, "Record missed installments, lapsed offers and broken promises"
)
