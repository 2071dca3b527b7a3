"""Charges and the documents that bill them: invoices, credit notes and debit notes."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.common import command_endpoint
from services.commands import (
    IssueCreditNote,
    IssueDebitNote,
    IssueInvoice,
    PostCharge,
    VoidCharge,
    VoidInvoice,
)

router = APIRouter(prefix="/v1/accounts", tags=["billing"])

command_endpoint(router, "charges", PostCharge, "Post a charge for a service")
command_endpoint(router, "charge-voids", VoidCharge, "Void a charge posted in error")
command_endpoint(router, "invoices", IssueInvoice, "Issue an invoice for uninvoiced charges")
command_endpoint(router, "invoice-voids", VoidInvoice, "Void an invoice issued in error")
command_endpoint(router, "credit-notes", IssueCreditNote, "Credit part or all of an invoice")
command_endpoint(router, "debit-notes", IssueDebitNote, "Charge an adjustment as a debit note")
