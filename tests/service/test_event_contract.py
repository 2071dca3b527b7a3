"""The published event contract: committed JSON Schemas, one per event type, that every
published record meets, and pydantic models that agree with them.

Records are made the way the relay makes them: commands recorded through the application, each
event read back from the notification log, enveloped with its position and encoded.
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from domain.account import Account
from services import event_contract
from services.bootstrap import Runtime
from services.envelope import SCHEMA_VERSION, encode, envelope
from tests.service.test_projections import TENANT, do, opened

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas" / "events"
CURRENT = SCHEMAS / f"v{SCHEMA_VERSION}"
REGENERATE = "uv run --frozen python -m services.event_contract schemas/events"


@cache
def committed_schema(event_type: str) -> dict[str, Any] | None:
    path = CURRENT / f"{event_type}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def json_schema_errors(document: Any) -> list[str]:
    """What the committed JSON Schema of the record's type says is wrong with it."""
    kind = document.get("type") if isinstance(document, dict) else None
    schema = committed_schema(kind) if isinstance(kind, str) else None
    if schema is None:
        return [f"no committed schema for type {kind!r}"]
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [
        f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)
    ]


def account_event_types() -> set[str]:
    """Every event class written in the domain.account package, found by walking the
    subclasses of Account.Event (not by reading Account's body, so an event a concept module
    defines but Account does not assign is found too)."""
    found: set[str] = set()
    pending = list(Account.Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("domain.account."):
            found.add(cls.TOPIC.rpartition(":")[2])
    return found


# ------------------------------------------------------------------ the committed files


def test_the_committed_schemas_are_exactly_what_the_models_generate() -> None:
    differences = event_contract.differences(SCHEMAS)

    assert not differences, (
        "The committed event schemas and services/event_contract.py disagree:\n  "
        + "\n  ".join(differences)
        + "\nA published schema is never edited: restore a committed file edited by hand. If an "
        "event's published form changed, raise "
        "SCHEMA_VERSION in services/envelope.py and write the new version's folder; if an "
        f"event type is new, add its file to the current version. Either way: `{REGENERATE}`."
    )


def test_every_event_type_of_the_account_has_a_committed_schema_and_a_model() -> None:
    types = account_event_types()

    assert len(types) >= 49  # the walk found the aggregate's events (Created is Opened)
    assert types == set(event_contract.envelope_models())
    assert types == {path.stem for path in CURRENT.glob("*.json")}


def test_every_committed_schema_is_a_valid_draft_2020_12_schema_of_its_own_type() -> None:
    for path in sorted(CURRENT.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["properties"]["type"]["const"] == path.stem
        assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
        assert path.read_text(encoding="utf-8").endswith("}\n")


# ------------------------------------------------------------------ recorded events


def a_month_of_billing(runtime: Runtime) -> None:
    """Charges, an invoice on terms 30/50/20, payments allocated and reversed, credit notes,
    a debit note on a payment plan, credit applied and refunded, an insurance claim with
    adjustments, a subscription billed, changed and cancelled, and collections work."""
    opened(runtime)
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "ch-1",
            "code": "VISIT",
            "description": "Office visit",
            "quantity": "2",
            "unit_price": "50.00",
            "tax": "7.50",
            "service_date": "2026-01-02",
        },
    )
    # Given as Decimal("1E+1") by a Python caller (intake takes only plain decimal strings),
    # the quantity is published as Decimal writes it: "1E+1".
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "ch-2",
            "code": "SWAB",
            "description": "Swabs",
            "quantity": Decimal("1E+1"),
            "unit_price": "0.25",
            "service_date": "2026-01-02",
        },
    )
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "ch-x",
            "code": "LAB",
            "description": "Posted in error",
            "unit_price": "9.99",
            "service_date": "2026-01-02",
        },
    )
    do(runtime, "void_charge", {"charge_id": "ch-x", "effective_on": "2026-01-03"})
    do(
        runtime,
        "issue_invoice",
        {
            "invoice_number": "INV-1",
            "issued_on": "2026-01-05",
            "installments": [
                {"due_in_days": 30, "percent": "30"},
                {"due_in_days": 60, "percent": "50"},
                {"due_in_days": 90, "percent": "20"},
            ],
        },
    )
    do(
        runtime,
        "receive_payment",
        {
            "payment_id": "P-1",
            "amount": "40.00",
            "method": "card",
            "reference": "auth 1",
            "received_on": "2026-01-10",
        },
    )
    do(
        runtime,
        "issue_credit_note",
        {
            "note_number": "CN-1",
            "invoice_number": "INV-1",
            "issued_on": "2026-01-12",
            "amount": "10.00",
            "description": "Courtesy",
        },
    )
    do(
        runtime,
        "issue_debit_note",
        {
            "note_number": "DN-1",
            "amount": "25.00",
            "issued_on": "2026-01-12",
            "due_on": "2026-02-12",
            "description": "Missed appointment",
        },
    )
    do(
        runtime,
        "agree_payment_plan",
        {
            "plan_id": "PLAN-1",
            "invoice_numbers": ["DN-1"],
            "installments": [
                {"due_on": "2026-02-01", "amount": "12.50"},
                {"due_on": "2026-03-01", "amount": "12.50"},
            ],
            "agreed_on": "2026-01-15",
        },
    )
    do(
        runtime,
        "receive_payment",
        {
            "payment_id": "P-2",
            "amount": "12.50",
            "method": "cash",
            "reference": "receipt 2",
            "received_on": "2026-01-20",
            "allocations": {"DN-1": "12.50"},
        },
    )
    do(
        runtime,
        "receive_payment",
        {
            "payment_id": "P-3",
            "amount": "30.00",
            "method": "cheque",
            "reference": "cheque 3",
            "received_on": "2026-01-21",
            "allocation_policy": "none",
        },
    )
    do(runtime, "apply_credit", {"applied_on": "2026-01-22", "allocations": {"INV-1": "20.00"}})
    do(
        runtime,
        "refund_credit",
        {"amount": "5.00", "method": "cash", "reference": "refund 1", "refunded_on": "2026-01-23"},
    )
    do(
        runtime,
        "reverse_payment",
        {"payment_id": "P-1", "reason_code": "chargeback", "reversed_on": "2026-01-25"},
    )
    do(
        runtime,
        "post_charge",
        {
            "charge_id": "ch-3",
            "code": "MRI",
            "description": "MRI scan",
            "unit_price": "1000.00",
            "service_date": "2026-01-06",
        },
    )
    do(
        runtime,
        "submit_claim",
        {
            "claim_id": "CLM-1",
            "payer": "ACME Health",
            "charge_ids": ["ch-3"],
            "submitted_on": "2026-01-07",
        },
    )
    do(
        runtime,
        "adjudicate_claim",
        {
            "claim_id": "CLM-1",
            "paid": "450.00",
            "adjustments": [
                {"group": "CO", "reason_code": "45", "amount": "400.00"},
                {"group": "PR", "reason_code": "1", "amount": "150.00"},
            ],
            "adjudicated_on": "2026-02-01",
        },
    )
    do(
        runtime,
        "post_insurer_payment",
        {
            "claim_id": "CLM-1",
            "payment_id": "ERA-1",
            "amount": "450.00",
            "method": "eft",
            "reference": "TRN 9",
            "received_on": "2026-02-03",
        },
    )
    do(runtime, "post_contractual_adjustment", {"claim_id": "CLM-1", "posted_on": "2026-02-03"})
    do(
        runtime,
        "start_subscription",
        {
            "subscription_id": "SUB-1",
            "plan_code": "BASIC",
            "price": "30.00",
            "starts_on": "2026-01-01",
        },
    )
    do(runtime, "run_billing", {"run_id": "RUN-1", "through": "2026-02-01"})
    do(
        runtime,
        "change_subscription_plan",
        {
            "subscription_id": "SUB-1",
            "plan_code": "PLUS",
            "price": "45.00",
            "change_on": "2026-02-15",
        },
    )
    do(
        runtime,
        "cancel_subscription",
        {"subscription_id": "SUB-1", "cancel_on": "2026-02-20", "timing": "immediate"},
    )
    do(
        runtime,
        "open_dispute",
        {"dispute_id": "D-1", "invoice_number": "INV-1", "opened_on": "2026-02-05"},
    )
    do(
        runtime,
        "resolve_dispute",
        {"dispute_id": "D-1", "outcome": "rejected", "resolved_on": "2026-02-06"},
    )
    do(
        runtime,
        "record_collection_activity",
        {
            "activity_id": "ACT-1",
            "channel": "call",
            "outcome": "left a message",
            "occurred_on": "2026-02-07",
        },
    )
    do(
        runtime,
        "record_promise_to_pay",
        {
            "promise_id": "PTP-1",
            "amount": "20.00",
            "pay_by": "2026-02-20",
            "promised_on": "2026-02-07",
        },
    )
    do(runtime, "escalate_dunning", {"level": 1, "escalated_on": "2026-02-08"})
    do(
        runtime,
        "offer_settlement",
        {
            "offer_id": "SO-1",
            "invoice_numbers": ["INV-1"],
            "amount_off": "5.00",
            "offered_on": "2026-02-09",
            "expires_on": "2026-02-28",
        },
    )
    do(runtime, "withdraw_settlement_offer", {"offer_id": "SO-1", "withdrawn_on": "2026-02-10"})
    do(
        runtime,
        "write_off",
        {"write_off_id": "WO-1", "invoice_number": "CLM-1-PR", "written_off_on": "2026-02-11"},
    )


def published_records(runtime: Runtime) -> list[dict[str, Any]]:
    """Every recorded event as the relay publishes it, read back as a consumer reads it."""
    app = runtime.app
    records = []
    for notification in app.recorder.select_notifications(start=1, limit=10_000):
        event = app.mapper.to_domain_event(notification)
        document = envelope(event, tenant_id=TENANT, position=notification.id)
        records.append(json.loads(encode(document)))
    return records


def test_every_published_record_meets_its_committed_schema_and_its_model(
    runtime: Runtime,
) -> None:
    a_month_of_billing(runtime)
    records = published_records(runtime)

    # The scenario keeps covering the events with nested and optional fields.
    assert {record["type"] for record in records} >= {
        "Opened",
        "ChargePosted",
        "ChargeVoided",
        "InvoiceIssued",
        "PaymentReceived",
        "CreditNoteIssued",
        "DebitNoteIssued",
        "PaymentPlanAgreed",
        "PlanInstallmentPaid",
        "CreditApplied",
        "CreditRefunded",
        "PaymentReversed",
        "ClaimSubmitted",
        "ClaimAdjudicated",
        "InsurerPaymentPosted",
        "ContractualAdjustmentPosted",
        "SubscriptionStarted",
        "BillingRunCompleted",
        "SubscriptionPlanChanged",
        "SubscriptionCancelled",
        "DisputeOpened",
        "DisputeResolved",
        "CollectionActivityRecorded",
        "PromiseToPayMade",
        "DunningEscalated",
        "SettlementOffered",
        "SettlementOfferWithdrawn",
        "WrittenOff",
    }
    for record in records:
        where = f"{record['type']} at position {record['position']}"
        assert json_schema_errors(record) == [], where
        model = event_contract.validate(record)
        assert type(model).__name__ == record["type"], where
        assert model.model_dump(mode="json") == record, where


def test_an_account_history_read_without_a_position_meets_the_contract(
    sqlite_runtime: Runtime,
) -> None:
    opened(sqlite_runtime)
    (notification,) = sqlite_runtime.app.recorder.select_notifications(start=1, limit=1)
    event = sqlite_runtime.app.mapper.to_domain_event(notification)
    record = json.loads(encode(envelope(event, tenant_id=TENANT, position=None)))

    assert record["position"] is None
    assert json_schema_errors(record) == []
    assert event_contract.validate(record).position is None


# ------------------------------------------------------------------ refused records

# A v1 ChargePosted record as published: 2 x 50.00 + 7.50 tax.
CHARGE_POSTED: dict[str, Any] = {
    "account_id": "3d3e1c7e-8450-5c52-a995-6b022a911f6b",
    "account_version": 2,
    "actor": "clerk-ann",
    "correlation_id": "test-correlation",
    "effective_on": "2026-01-02",
    "event_hash": "d6769a83d7bcc1018b66f08ec07e4b2fb52ae0b0f756c3be997b907d3d308a5b",
    "event_id": "e308860c-ceaf-5d20-839d-dd4be08330be",
    "payload": {
        "charge_id": "ch-1",
        "code": "VISIT",
        "description": "Office visit",
        "net": {"amount": "100.00", "currency": "USD"},
        "quantity": "2",
        "service_date": "2026-01-02",
        "tax": {"amount": "7.50", "currency": "USD"},
        "unit_price": {"amount": "50.00", "currency": "USD"},
    },
    "position": 2,
    "previous_hash": "9eb8ed6f307dac108c7459f34e782c9a79f68ea98ba3c14fe3d3dd74a9bb20ca",
    "reason": None,
    "recorded_at": "2026-01-02T09:15:00.123456+00:00",
    "schema_version": 1,
    "tenant_id": "acme",
    "type": "ChargePosted",
}


def changed(path: str, value: Any) -> dict[str, Any]:
    """CHARGE_POSTED with the value at a dotted path set (a new key is added)."""
    record = copy.deepcopy(CHARGE_POSTED)
    *parents, last = path.split(".")
    target = record
    for key in parents:
        target = target[key]
    target[last] = value
    return record


def test_the_example_charge_posted_record_meets_the_contract() -> None:
    assert json_schema_errors(CHARGE_POSTED) == []
    assert event_contract.validate(CHARGE_POSTED).model_dump(mode="json") == CHARGE_POSTED


REFUSED = [
    ("an amount as a JSON number", changed("payload.unit_price.amount", 50.0)),
    ("an amount as a whole JSON number", changed("payload.tax.amount", 7)),
    ("a quantity as a JSON number", changed("payload.quantity", 2.0)),
    ("an amount that is not a decimal", changed("payload.net.amount", "1,00.00")),
    ("a currency that is not a code", changed("payload.net.currency", "usd")),
    ("an unknown field in the envelope", changed("source", "billing")),
    ("an unknown field in the payload", changed("payload.discount", "0.00")),
    ("an unknown field in an amount", changed("payload.net.scale", 2)),
    ("an unknown event type", changed("type", "ChargeTeleported")),
    ("another schema version", changed("schema_version", 2)),
    ("a date that is no date", changed("payload.service_date", "2026-02-30")),
    ("a version as a string", changed("account_version", "2")),
]


@pytest.mark.parametrize(
    ("case", "record"), [pytest.param(case, record, id=case) for case, record in REFUSED]
)
def test_a_record_that_breaks_the_contract_is_refused_by_the_schema_and_the_model(
    case: str, record: dict[str, Any]
) -> None:
    assert json_schema_errors(record), f"the JSON Schema accepted {case}"
    with pytest.raises((ValidationError, event_contract.UnknownEventType)):
        event_contract.validate(record)


def test_a_missing_field_is_refused_even_when_it_may_be_null() -> None:
    record = copy.deepcopy(CHARGE_POSTED)
    del record["reason"]

    assert json_schema_errors(record)
    with pytest.raises(ValidationError, match="reason"):
        event_contract.validate(record)


def test_an_unknown_type_is_refused_by_name_and_matches_no_committed_schema() -> None:
    record = changed("type", "ChargeTeleported")

    with pytest.raises(event_contract.UnknownEventType, match="ChargeTeleported"):
        event_contract.validate(record)
    assert committed_schema("ChargeTeleported") is None
    schema = committed_schema("ChargePosted")
    assert schema is not None
    assert list(Draft202012Validator(schema).iter_errors(record))


def test_writing_the_schemas_never_changes_a_published_one(tmp_path: Path) -> None:
    assert event_contract.main([str(tmp_path)]) == 0
    published = tmp_path / f"v{SCHEMA_VERSION}" / "ChargePosted.json"
    published.write_text("{}\n", encoding="utf-8")

    assert event_contract.main([str(tmp_path)]) == 1
    assert published.read_text(encoding="utf-8") == "{}\n"
    assert event_contract.main(["--check", str(tmp_path)]) == 1
    assert event_contract.main(["--overwrite", str(tmp_path)]) == 0
    assert event_contract.differences(tmp_path) == []
