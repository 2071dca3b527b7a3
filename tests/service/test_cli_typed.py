"""Typed subcommands (``services.cli_typed``): one per command model, made from the model, the
same request as ``ar exec`` with its JSON body; on the embedded default and on PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer.main
from pydantic import BaseModel
from typer.core import TyperGroup
from typer.testing import CliRunner

from services.bootstrap import Runtime
from services.cli import app
from services.cli_typed import (
    NOT_TYPED,
    SHORT_NAMES,
    FieldForm,
    document,
    field_forms,
    typed_command,
    typed_models,
    typed_name,
)
from services.commands import command_models
from tests.service.test_verify_and_explain import same_store

AS = ["--tenant", "acme", "--actor", "clerk-ann"]


@pytest.fixture
def ar(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    same_store(runtime, monkeypatch)
    return CliRunner()


def _run(ar: CliRunner, *args: str) -> Any:
    return ar.invoke(app, [*args, *AS])


def _ok(ar: CliRunner, *args: str) -> dict[str, Any]:
    result = _run(ar, *args, "--json")
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def _head(runtime: Runtime) -> int:
    return runtime.app.recorder.max_notification_id() or 0


# --- made from the models -------------------------------------------------------------------


def _declared() -> set[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return set(group.commands)


def _options(form: FieldForm) -> list[str]:
    options = [m.option for m in form.members] or [form.option]
    return options + ([form.no_option] if form.nullable else [])


def test_every_command_model_has_a_typed_subcommand_with_an_option_per_field() -> None:
    assert set(command_models()) - set(typed_models()) <= set(NOT_TYPED)
    assert len(typed_models()) >= 45
    for name, model in typed_models().items():
        command = typed_command(typed_name(name), _no_store)
        assert command is not None, name
        summary = (command.help or "").split("\n\n")[0]
        assert summary, name
        assert "\n" not in summary, name
        declared = {option for param in command.params for option in param.opts}
        forms = field_forms(model)
        assert {form.name for form in forms} == set(model.model_fields), name
        for form in forms:
            assert set(_options(form)) <= declared, (name, form.name)


@pytest.mark.parametrize(
    "name",
    # One of each form: scalars and a mapping, lists of ids and of records, a record, a choice.
    ["receive_payment", "issue_invoice", "agree_payment_plan", "change_billing_address",
     "record_collection_activity"],
)  # fmt: skip
def test_a_typed_subcommands_help_gives_each_field_with_its_form(name: str) -> None:
    shown = CliRunner().invoke(app, [typed_name(name), "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    for form in field_forms(typed_models()[name]):
        for option in _options(form):
            assert f" {option} " in shown.output, option
        if form.metavar:
            assert form.metavar in shown.output, form.name
    assert f"ar exec {name} ACCOUNT" in shown.output


def _no_store() -> Runtime:
    raise AssertionError("building a command's options opens no store")


def test_typed_and_short_names_never_hide_or_are_hidden_by_a_declared_command() -> None:
    declared = _declared()
    typed = {typed_name(name) for name in typed_models()}
    assert typed & declared == set()
    assert set(SHORT_NAMES) & (declared | typed) == set()
    assert set(SHORT_NAMES.values()) <= set(typed_models())


def test_a_short_name_is_its_commands_other_name() -> None:
    runner = CliRunner()
    short = runner.invoke(app, ["pay", "--help"], terminal_width=200).output
    full = runner.invoke(app, ["receive-payment", "--help"], terminal_width=200).output
    assert "Short for ar receive-payment." in short
    assert short.split("--payment-id", 1)[1] == full.split("--payment-id", 1)[1]
    unknown = runner.invoke(app, ["receive_payment", "--help"])
    assert unknown.exit_code == 2  # exec's name, not a command of its own
    assert "No such command" in unknown.output


def test_fields_take_the_option_form_their_type_calls_for() -> None:
    plan = {f.name: f for f in field_forms(command_models()["agree_payment_plan"])}
    assert (plan["invoice_numbers"].option, plan["invoice_numbers"].shape) == (
        "--invoice-number",
        "list",
    )
    assert (plan["installments"].option, plan["installments"].metavar) == (
        "--installment",
        "DUE_ON:AMOUNT",
    )
    terms = {f.name: f for f in field_forms(command_models()["change_payment_terms"])}
    given = {
        "f__net_days": "30",
        "f__effective_on": "2026-01-01",
        "f__installments": ["0:30", '{"due_in_days": 30, "percent": "70"}'],
    }
    assert document(list(terms.values()), given) == {
        "net_days": 30,
        "effective_on": "2026-01-01",
        "installments": [
            {"due_in_days": 0, "percent": "30"},
            {"due_in_days": 30, "percent": "70"},
        ],
    }
    payment = field_forms(command_models()["receive_payment"])
    allocated = document(payment, {"f__allocations": ["INV-1=20.00", "INV-2=5"]})
    assert allocated == {"allocations": {"INV-1": "20.00", "INV-2": "5"}}


def test_a_field_of_no_simpler_form_takes_json_and_no_field_takes_a_common_option() -> None:
    class Odd(BaseModel):
        grid: list[list[int]]

    (grid,) = field_forms(Odd)
    assert (grid.option, grid.shape) == ("--grid", "json")
    assert document([grid], {"f__grid": "[[1, 2], [3]]"}) == {"grid": [[1, 2], [3]]}

    class Clash(BaseModel):
        reason: str

    with pytest.raises(ValueError, match="--reason"):
        field_forms(Clash)


def test_ar_commands_gives_each_fields_type_and_whether_it_is_required() -> None:
    runner = CliRunner()
    listing = json.loads(runner.invoke(app, ["commands", "--json"]).stdout)
    assert set(listing) == set(typed_models())
    payment = listing["receive_payment"]
    assert (payment["typed"], payment["short"]) == ("receive-payment", "pay")
    assert payment["fields"]["amount"] | {"description": None} == {
        "type": "amount",
        "required": True,
        "options": ["--amount"],
        "description": None,
    }
    policy = payment["fields"]["allocation_policy"]
    assert (policy["type"], policy["required"], policy["default"]) == (
        "oldest_due_first|none",
        False,
        "oldest_due_first",
    )
    email = listing["change_email_address"]["fields"]["email"]
    assert (email["type"], email["required"], email["options"]) == (
        "text or null",
        True,
        ["--email", "--no-email"],
    )

    table = runner.invoke(app, ["commands", "pay", "issue_invoice"]).stdout
    rows = [line.split() for line in table.splitlines()]
    assert ["receive_payment", "amount", "amount", "yes", "--amount"] in rows
    assert ["receive_payment", "payment_id", "id", "no", "--payment-id"] in rows
    assert ["issue_invoice", "charge_ids", "list", "of", "id", "no", "--charge-id"] in rows
    assert {row[0] for row in rows[2:] if row and row[0].islower()} == {
        "receive_payment",
        "issue_invoice",
    }
    unknown = runner.invoke(app, ["commands", "pay_everything"])
    assert unknown.exit_code == 2


# --- on both engines ------------------------------------------------------------------------


def _opened_and_charged(ar: CliRunner) -> None:
    result = _run(
        ar, "open-account", "A-1", "--name", "Ann", "--currency", "USD", "--opened-on", "2026-01-01"
    )
    assert result.exit_code == 0, result.output
    for charge_id, price in (("ch-1", "100.00"), ("ch-2", "50.00"), ("ch-3", "25.00")):
        charged = _ok(
            ar, "charge", "A-1", "--charge-id", charge_id, "--code", "VISIT",
            "--description", "Visit", "--unit-price", price, "--service-date", "2026-01-05",
        )  # fmt: skip
        assert charged["created_id"] == charge_id


def test_a_clerk_invoices_chosen_charges_takes_a_payment_and_agrees_a_plan(
    ar: CliRunner,
) -> None:
    _opened_and_charged(ar)
    invoiced = _ok(
        ar, "invoice", "A-1", "--invoice-number", "INV-1", "--issued-on", "2026-01-06",
        "--charge-id", "ch-1", "--charge-id", "ch-3",
    )  # fmt: skip
    assert [e["type"] for e in invoiced["recorded"]] == ["InvoiceIssued"]
    paid = _ok(
        ar, "pay", "A-1", "--amount", "25.00", "--method", "cash", "--reference", "desk",
        "--received-on", "2026-01-07", "--allocation", "INV-1=25.00",
    )  # fmt: skip
    assert (paid["recorded"][0]["type"], paid["balance"]) == ("PaymentReceived", "150.00")
    planned = _ok(
        ar, "plan", "A-1", "--plan-id", "P-1", "--invoice-number", "INV-1",
        "--installment", "2026-02-15:60.00", "--installment", "2026-03-15:40.00",
        "--agreed-on", "2026-01-10",
    )  # fmt: skip
    assert planned["created_id"] == "P-1"

    replay = json.loads(
        ar.invoke(
            app, ["replay", "A-1", "--as-of", "2026-03-31", "--json", "--tenant", "acme"]
        ).stdout
    )
    (invoice,) = replay["open_items"]
    assert (invoice["number"], invoice["total"], invoice["outstanding"], invoice["plan_id"]) == (
        "INV-1", "125.00", "100.00", "P-1",
    )  # fmt: skip
    issued, _, agreed = replay["events"][-3:]
    assert [line["charge_id"] for line in issued["payload"]["lines"]] == ["ch-1", "ch-3"]
    assert [(i["due_on"], i["amount"]["amount"]) for i in agreed["payload"]["installments"]] == [
        ("2026-02-15", "60.00"),
        ("2026-03-15", "40.00"),
    ]
    assert [e["actor"] for e in replay["events"]] == ["clerk-ann"] * 7


def test_a_typed_command_is_the_same_request_as_its_exec_twin(
    runtime: Runtime, ar: CliRunner
) -> None:
    _opened_and_charged(ar)
    typed = [
        "pay", "A-1", "--amount", "20.00", "--method", "cash", "--reference", "desk",
        "--received-on", "2026-01-06", "--idempotency-key", "desk-1",
    ]  # fmt: skip
    first = _ok(ar, *typed)
    head = _head(runtime)
    body = {"amount": "20.00", "method": "cash", "reference": "desk", "received_on": "2026-01-06"}
    twin = _ok(
        ar, "exec", "receive_payment", "A-1", json.dumps(body), "--idempotency-key", "desk-1"
    )
    assert twin == first  # a retry of the same request: answered again, nothing recorded
    assert _head(runtime) == head
    other = _run(ar, *typed[:3], "21.00", *typed[4:])
    assert other.exit_code == 1
    assert _head(runtime) == head


def test_a_refused_typed_command_says_which_option_and_records_nothing(
    runtime: Runtime, ar: CliRunner
) -> None:
    _opened_and_charged(ar)
    head = _head(runtime)
    payment = ["--method", "cash", "--reference", "desk", "--received-on", "2026-01-06"]

    too_fine = _run(ar, "pay", "A-1", "--amount", "1.001", *payment)
    assert too_fine.exit_code == 1
    assert "finer than the smallest unit" in too_fine.output
    signed = _run(ar, "pay", "A-1", "--amount", "-5", *payment)
    assert signed.exit_code == 1
    assert signed.output.startswith("error: --amount: ")
    no_date = _run(
        ar, "pay", "A-1", "--amount", "5.00", *payment[:4], "--received-on", "2026-13-01"
    )
    assert (no_date.exit_code, no_date.output.split(":")[:2]) == (1, ["error", " --received-on"])
    plan = ["plan", "A-1", "--invoice-number", "INV-9", "--agreed-on", "2026-01-10"]
    zero = _run(ar, *plan, "--installment", "2026-02-15:0")
    assert zero.exit_code == 1
    assert "error: --installment 1 (amount): must be greater than zero" in zero.output
    malformed = _run(ar, *plan, "--installment", "2026-02-15")
    assert malformed.exit_code == 2
    assert "DUE_ON:AMOUNT" in malformed.output
    unknown_invoice = _run(ar, *plan, "--installment", "2026-02-15:10.00")
    assert unknown_invoice.exit_code == 1
    assert "INV-9" in unknown_invoice.output
    nowhere = _run(ar, "pay", "NOPE", "--amount", "5.00", *payment)
    assert nowhere.exit_code == 1
    assert "There is no account NOPE" in nowhere.output
    address = ["change-billing-address", "A-1", "--effective-on", "2026-01-02"]
    half = _run(ar, *address, "--line1", "1 Main St", "--country", "US")
    assert (half.exit_code, half.output) == (1, "error: --city: Field required\n")
    both = _run(ar, *address, "--city", "Springfield", "--no-address")
    assert both.exit_code == 2
    assert _head(runtime) == head

    removed = _run(ar, "change-email-address", "A-1", "--effective-on", "2026-01-02")
    assert (removed.exit_code, removed.output) == (
        1,
        "error: --email: give it, or --no-email for none\n",
    )
    _ok(
        ar,
        "change-email-address",
        "A-1",
        "--email",
        "ann@example.com",
        "--effective-on",
        "2026-01-02",
    )
    cleared = _ok(ar, "change-email-address", "A-1", "--no-email", "--effective-on", "2026-01-03")
    assert cleared["recorded"][0]["type"] == "EmailAddressChanged"
