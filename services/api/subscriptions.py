"""Subscriptions: monthly price plans, their changes and cancellations, and billing runs."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.common import command_endpoint
from services.commands import (
    CancelSubscription,
    ChangeSubscriptionPlan,
    RunBilling,
    StartSubscription,
)

router = APIRouter(prefix="/v1/accounts", tags=["subscriptions"])

command_endpoint(router, "subscriptions", StartSubscription, "Start a monthly subscription")
command_endpoint(
    router,
    "subscription-plan-changes",
    ChangeSubscriptionPlan,
    "Change a subscription's plan, prorated or from the next period",
)
command_endpoint(router, "subscription-cancellations", CancelSubscription, "Cancel a subscription")
command_endpoint(
    router, "billing-runs", RunBilling, "Charge the subscription periods due by a date"
)
