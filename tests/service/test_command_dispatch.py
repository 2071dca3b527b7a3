"""Each command names, in code, the one ``Account`` method it calls; its name never changes.

``AccountCommand.apply_to`` is a typed call of one ``Account`` method, and ``calls`` is the
command's stable name: the API's operationId, the CLI's command and the name stored with an
idempotency key. The two must agree, and the names must stay those already stored.
"""

from __future__ import annotations

import inspect
import re

import pytest

from domain.account import Account
from services.commands import AccountCommand

#: The names stored in idempotency records so far: a retry is matched by its command's name.
STORED_NAMES = frozenset(
    {
        "post_charge", "void_charge", "issue_invoice", "void_invoice", "issue_credit_note",
        "issue_debit_note", "receive_payment", "apply_credit", "refund_credit",
        "reverse_payment", "write_off", "recover_write_off", "offer_settlement",
        "withdraw_settlement_offer", "agree_payment_plan", "change_payment_plan",
        "default_payment_plan", "start_subscription", "change_subscription_plan",
        "cancel_subscription", "run_billing", "submit_claim", "adjudicate_claim",
        "post_insurer_payment", "post_contractual_adjustment", "deny_claim", "appeal_claim",
        "resubmit_claim", "open_dispute", "resolve_dispute", "record_collection_activity",
        "record_promise_to_pay", "escalate_dunning", "sweep", "change_details",
        "change_payment_terms", "close",
        "change_billing_address", "change_email_address", "change_phone_number",
        "change_preferred_channel", "change_external_reference", "change_contact_notes",
        "assign_collector", "unassign_collector",
        "post_remitted_claim", "reverse_adjudication", "record_document_sent",
    }
)  # fmt: skip


def every_command() -> list[type[AccountCommand]]:
    found, pending = [], list(AccountCommand.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        found.append(model)
    return sorted(found, key=lambda model: model.__name__)


def test_the_command_names_are_the_names_already_stored() -> None:
    assert {model.calls for model in every_command()} == STORED_NAMES
    assert len(every_command()) == len(STORED_NAMES)  # no two commands share a name


@pytest.mark.parametrize("model", every_command(), ids=lambda model: model.__name__)
def test_a_command_calls_exactly_the_account_method_it_is_named_for(
    model: type[AccountCommand],
) -> None:
    assert callable(getattr(Account, model.calls, None))
    source = inspect.getsource(model.apply_to)
    assert re.findall(r"\baccount\.(\w+)\(", source) == [model.calls]
