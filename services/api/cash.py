"""Cash: payments and their reversals, credit applied or refunded, bad debt written off and
recovered."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.common import command_endpoint
from services.commands import (
    ApplyCredit,
    ReceivePayment,
    RecoverWriteOff,
    RefundCredit,
    ReversePayment,
    WriteOff,
)

router = APIRouter(prefix="/v1/accounts", tags=["cash"])

command_endpoint(router, "payments", ReceivePayment, "Record a payment received")
command_endpoint(
    router, "payment-reversals", ReversePayment, "Reverse a payment that did not clear"
)
command_endpoint(router, "refunds", RefundCredit, "Refund unapplied credit to the customer")
command_endpoint(router, "credit-applications", ApplyCredit, "Apply unapplied credit to open items")
command_endpoint(router, "write-offs", WriteOff, "Write off bad debt on an open item")
command_endpoint(
    router, "write-off-recoveries", RecoverWriteOff, "Reinstate written-off debt being paid"
)
