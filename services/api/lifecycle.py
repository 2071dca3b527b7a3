"""The account itself after it is opened: its details, its payment terms, its closure."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.common import command_endpoint
from services.commands import ChangeDetails, ChangePaymentTerms, CloseAccount

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

command_endpoint(router, "detail-changes", ChangeDetails, "Change the customer's name")
command_endpoint(
    router, "payment-terms-changes", ChangePaymentTerms, "Set the terms of future invoices"
)
command_endpoint(router, "closures", CloseAccount, "Close a settled account")
