"""Arrangements made with a customer about what they owe: settlement offers and payment plans."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.common import command_endpoint
from services.commands import (
    AgreePaymentPlan,
    ChangePaymentPlan,
    DefaultPaymentPlan,
    OfferSettlement,
    WithdrawSettlementOffer,
)

router = APIRouter(prefix="/v1/accounts", tags=["arrangements"])

command_endpoint(
    router, "settlement-offers", OfferSettlement, "Offer a discount if the rest is paid in time"
)
command_endpoint(
    router,
    "settlement-offer-withdrawals",
    WithdrawSettlementOffer,
    "Withdraw an active settlement offer",
)
command_endpoint(
    router, "payment-plans", AgreePaymentPlan, "Agree a payment plan over open invoices"
)
command_endpoint(
    router, "payment-plan-changes", ChangePaymentPlan, "Renegotiate a payment plan's schedule"
)
command_endpoint(
    router, "payment-plan-defaults", DefaultPaymentPlan, "Declare a payment plan defaulted"
)
