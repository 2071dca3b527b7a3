"""Insurance claims: submitted, adjudicated or denied, appealed, resubmitted; the insurer's
payment and the contractual adjustment posted from the remittance."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.common import command_endpoint
from services.commands import (
    AdjudicateClaim,
    AppealClaim,
    DenyClaim,
    PostContractualAdjustment,
    PostInsurerPayment,
    ResubmitClaim,
    SubmitClaim,
)

router = APIRouter(prefix="/v1/accounts", tags=["insurance"])

command_endpoint(router, "claims", SubmitClaim, "Bill uninvoiced charges to an insurer")
command_endpoint(
    router, "claim-adjudications", AdjudicateClaim, "Record the payer's remittance of a claim"
)
command_endpoint(
    router, "insurer-payments", PostInsurerPayment, "Post an insurer's payment on a claim"
)
command_endpoint(
    router,
    "contractual-adjustments",
    PostContractualAdjustment,
    "Write off a claim's contractual adjustments",
)
command_endpoint(router, "claim-denials", DenyClaim, "Record that the payer denied a claim")
command_endpoint(router, "claim-appeals", AppealClaim, "Appeal a denied claim")
command_endpoint(router, "claim-resubmissions", ResubmitClaim, "Resubmit a denied claim")
