"""Typed subcommands: one ``ar`` command per account command, generated from its model.

Every command model of ``services.commands`` (the HTTP API's request bodies, ``ar exec``'s JSON)
is also a subcommand with an option per field, made from the model when it is asked for, so the
command line and the models cannot drift: ``receive_payment`` is ``ar receive-payment A-100
--amount 20.00 --method cash --reference desk --received-on 2026-01-06``. The most used have a
short name as well (:data:`SHORT_NAMES`: ``ar pay``, ``ar charge``, ``ar invoice``, ...).

How a field becomes options (:class:`FieldForm`):

- a scalar (text, an id, an amount, a date, a whole number, one of a few words) is one option,
  ``--received-on 2026-01-06``; amounts are decimal strings as over HTTP, never floats;
- a list of scalars is a repeated option named in the singular: ``--charge-id ch-1 --charge-id
  ch-2``;
- a list of small records is a repeated option whose value is the record's fields joined by
  ``:`` in the model's order (``--installment 2026-02-15:300.00``), or one JSON object;
- a mapping is a repeated ``KEY=VALUE`` option: ``--allocation INV-1=20.00``;
- a record (an address) is an option per field of it: ``--line1 "1 Main St" --city ...``;
- a field the command requires that may be null has a ``--no-<field>`` flag to send null
  (``--no-email`` removes the e-mail address);
- anything else takes its JSON: ``--<field> '<json>'``.

The options make the same JSON document ``ar exec`` takes, and the model validates it as the API
does: a value the model refuses ends the command with a sentence naming the option on stderr
and exit status 1, and nothing is recorded; a value in the wrong form for its option (a record
without its ``:``) is a usage error, exit status 2. ``--tenant``/``--actor`` (``AR_TENANT``/
``AR_ACTOR``), ``--idempotency-key``, ``--reason`` and ``--json`` are ``ar exec``'s.

The command models load the domain and pydantic's schemas, which ``ar --help`` has no time for:
so the typed commands are found by name when one is asked for (``typed_command``), not declared
up front, and ``ar --help`` points to ``ar commands``, which lists them with their fields.
"""

from __future__ import annotations

import inspect
import json
import re
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

import typer

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError
    from pydantic.fields import FieldInfo

    from services.bootstrap import Runtime
    from services.commands import AccountCommand

#: Short names of the commands a clerk types most, beside their full names.
SHORT_NAMES: dict[str, str] = {
    "pay": "receive_payment",
    "charge": "post_charge",
    "invoice": "issue_invoice",
    "credit-note": "issue_credit_note",
    "debit-note": "issue_debit_note",
    "refund": "refund_credit",
    "plan": "agree_payment_plan",
    "dispute": "open_dispute",
    "promise": "record_promise_to_pay",
    "close-account": "close",
}

#: Commands that are a service's work, not a clerk's: ``ar exec`` still takes them.
NOT_TYPED: dict[str, str] = {
    "record_document_sent": "the documents service records it as a document leaves",
}

#: The options every typed command has; no field may take one of these names.
COMMON_OPTIONS = frozenset(
    {"--tenant", "--actor", "--idempotency-key", "--reason", "--json", "--help"}
)
#: The panel of ``--help`` the options every typed command has go to, after its fields.
COMMON_PANEL = "Common options"

Shape = Literal["scalar", "list", "entries", "mapping", "object", "json"]


def typed_name(command: str) -> str:
    """``receive_payment`` → ``receive-payment``."""
    return command.replace("_", "-")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class FieldForm:
    """How one field of a command model is given on the command line."""

    name: str
    option: str
    shape: Shape
    #: What the value is, as ``ar commands`` shows it: ``amount``, ``date``, ``list of id``.
    kind: str
    metavar: str
    required: bool
    #: Required, yet null is a value: ``--no-<name>`` sends it.
    nullable: bool
    description: str
    default: Any = None
    #: A list of records: the record's fields, in the order its ``:``-joined value gives them.
    parts: tuple[str, ...] = ()
    #: Of the parts (or, for a mapping, ``"value"``), those that are whole numbers.
    whole_numbers: frozenset[str] = frozenset()
    #: A record's own fields, each an option.
    members: tuple[FieldForm, ...] = ()
    #: A scalar that is a whole number (JSON number, not string).
    whole: bool = False

    @property
    def param(self) -> str:
        return f"f__{self.name}"

    @property
    def no_option(self) -> str:
        return f"--no-{self.option.removeprefix('--')}"

    @property
    def no_param(self) -> str:
        return f"no__{self.name}"

    @property
    def type_text(self) -> str:
        return f"{self.kind} or null" if self.nullable else self.kind


# --- reading a model's fields ------------------------------------------------------------


def _unwrap(annotation: Any) -> tuple[Any, list[Any], bool]:
    """The annotation without ``Annotated`` and ``None``; the metadata it carried; whether
    ``None`` was allowed."""
    metadata: list[Any] = []
    nullable = False
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            metadata.extend(extra)
        elif origin in (Union, types.UnionType):
            others = [a for a in get_args(annotation) if a is not type(None)]
            if len(others) == len(get_args(annotation)) or len(others) != 1:
                return annotation, metadata, nullable
            nullable = True
            annotation = others[0]
        else:
            return annotation, metadata, nullable


def _scalar_kind(annotation: Any, metadata: Sequence[Any]) -> tuple[str, str] | None:
    """A scalar's kind and metavar, or None if the annotation is not a scalar."""
    from services.fields import IDENTIFIER_PATTERN

    if get_origin(annotation) is Literal:
        choices = "|".join(str(a) for a in get_args(annotation))
        return choices, f"[{choices}]"
    if annotation is Decimal:
        return "amount", "AMOUNT"
    if annotation is date:
        return "date", "YYYY-MM-DD"
    if annotation is int:
        return "whole number", "INTEGER"
    if annotation is str:
        patterns = {getattr(m, "pattern", None) for m in metadata}
        if IDENTIFIER_PATTERN in patterns:
            return "id", "ID"
        if r"^[A-Z]{3}$" in patterns:
            return "currency", "CODE"
        return "text", "TEXT"
    return None


def _scalar(annotation: Any, metadata: Sequence[Any] = ()) -> tuple[str, str, bool] | None:
    found = _unwrap(annotation)
    inner, more, _ = found
    kind = _scalar_kind(inner, [*metadata, *more])
    return None if kind is None else (*kind, inner is int)


def _flat_fields(model: Any) -> dict[str, tuple[str, str, bool]] | None:
    """A record model's fields as scalars, or None if one of them is not a scalar."""
    from pydantic import BaseModel

    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    found = {}
    for name, info in model.model_fields.items():
        scalar = _scalar(info.annotation, info.metadata)
        if scalar is None:
            return None
        found[name] = scalar
    return found


def _singular(name: str) -> str:
    """A list's option names one of its items: ``charge_ids`` → ``--charge-id``."""
    return name[:-1] if name.endswith("s") and not name.endswith(("ss", "us")) else name


def _description(info: FieldInfo) -> str:
    text = info.description or ""
    return " ".join(text.split())


def field_forms(model: type[BaseModel]) -> list[FieldForm]:
    """The options of each of ``model``'s fields, in the model's order."""
    forms = [_form(name, info) for name, info in model.model_fields.items()]
    taken: set[str] = set()
    for form in forms:
        for option in _options_of(form):
            if option in taken or option in COMMON_OPTIONS:
                msg = f"{model.__name__}.{form.name} would take {option}, which is taken"
                raise ValueError(msg)
            taken.add(option)
    return forms


def _options_of(form: FieldForm) -> list[str]:
    options = [m.option for m in form.members] if form.members else [form.option]
    return [*options, form.no_option] if form.nullable else options


def _form(name: str, info: FieldInfo) -> FieldForm:
    annotation, metadata, nullable = _unwrap(info.annotation)
    metadata = [*info.metadata, *metadata]
    required = info.is_required()
    common: dict[str, Any] = {
        "name": name,
        "required": required,
        "nullable": nullable and required,
        "description": _description(info),
        "default": None if required else info.get_default(call_default_factory=True),
    }
    scalar = _scalar_kind(annotation, metadata)
    if scalar is not None:
        kind, metavar = scalar
        return FieldForm(
            option=_option(name),
            shape="scalar",
            kind=kind,
            metavar=metavar,
            whole=annotation is int,
            **common,
        )
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list:
        item = _scalar(args[0])
        if item is not None:
            return FieldForm(
                option=_option(_singular(name)),
                shape="list",
                kind=f"list of {item[0]}",
                metavar=item[1],
                whole_numbers=frozenset({"item"} if item[2] else ()),
                **common,
            )
        parts = _flat_fields(_unwrap(args[0])[0])
        if parts is not None:
            return FieldForm(
                option=_option(_singular(name)),
                shape="entries",
                kind="list of " + ":".join(parts),
                metavar=":".join(p.upper() for p in parts),
                parts=tuple(parts),
                whole_numbers=frozenset(p for p, (_, _, whole) in parts.items() if whole),
                **common,
            )
    if origin is dict:
        key, value = _scalar(args[0]), _scalar(args[1])
        if key is not None and value is not None:
            return FieldForm(
                option=_option(_singular(name)),
                shape="mapping",
                kind=f"map of {key[0]} to {value[0]}",
                metavar=f"{key[1]}={value[1]}",
                whole_numbers=frozenset({"value"} if value[2] else ()),
                **common,
            )
    members = _flat_fields(annotation)
    if members is not None:
        inner = annotation.model_fields
        return FieldForm(
            option=_option(name),
            shape="object",
            kind="record",
            metavar="",
            members=tuple(_form(member, inner[member]) for member in members),
            **common,
        )
    return FieldForm(option=_option(name), shape="json", kind="JSON", metavar="JSON", **common)


# --- from options to the JSON document ---------------------------------------------------


def _number_or_text(text: str) -> int | str:
    """A whole number as the JSON number the model wants; anything else as given, for the
    model to refuse with its own sentence."""
    return int(text) if re.fullmatch(r"[+-]?[0-9]{1,18}", text) else text


def _scalar_value(form: FieldForm, text: str) -> Any:
    return _number_or_text(text) if form.whole else text


def _entry(form: FieldForm, text: str) -> dict[str, Any]:
    if text.lstrip().startswith("{"):
        try:
            record = json.loads(text)
        except json.JSONDecodeError as bad:
            raise _bad(form, text, f"not valid JSON ({bad.msg})") from None
        if not isinstance(record, dict):
            raise _bad(form, text, "not a JSON object")
        return record
    values = text.split(":")
    if len(values) != len(form.parts):
        raise _bad(form, text, f"expected {form.metavar}, or a JSON object")
    return {
        part: _number_or_text(value) if part in form.whole_numbers else value
        for part, value in zip(form.parts, values, strict=True)
    }


def _mapping(form: FieldForm, given: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for text in given:
        key, equals, value = text.partition("=")
        if not equals:
            raise _bad(form, text, f"expected {form.metavar}")
        if key in found:
            raise _bad(form, text, f"{key} is given twice")
        found[key] = _number_or_text(value) if "value" in form.whole_numbers else value
    return found


def _bad(form: FieldForm, text: str, why: str) -> typer.BadParameter:
    return typer.BadParameter(f"{text!r}: {why}", param_hint=f"'{form.option}'")


def document(forms: Sequence[FieldForm], given: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body the options stand for: the one ``ar exec`` and the API take. A field not
    given is left out, for the model's default (or its refusal) to apply."""
    body: dict[str, Any] = {}
    for form in forms:
        value = _value(form, given)
        if form.nullable and given.get(form.no_param):
            if value is not None:
                msg = f"give {_options_of(form)[0]} or {form.no_option}, not both"
                raise typer.BadParameter(msg, param_hint=f"'{form.no_option}'")
            body[form.name] = None
        elif value is not None:
            body[form.name] = value
    return body


def _value(form: FieldForm, given: Mapping[str, Any]) -> Any:
    if form.shape == "object":
        record = {
            m.name: _scalar_value(m, given[f"{form.param}__{m.name}"])
            for m in form.members
            if given.get(f"{form.param}__{m.name}") is not None
        }
        return record or None
    text = given.get(form.param)
    if text is None or (isinstance(text, list | tuple) and not text):
        return None
    if form.shape == "scalar":
        return _scalar_value(form, text)
    if form.shape == "list":
        return [_number_or_text(t) if form.whole_numbers else t for t in text]
    if form.shape == "entries":
        return [_entry(form, t) for t in text]
    if form.shape == "mapping":
        return _mapping(form, text)
    try:
        return json.loads(text)
    except json.JSONDecodeError as bad:
        raise _bad(form, text, f"not valid JSON ({bad.msg})") from None


def refusal_sentences(forms: Sequence[FieldForm], invalid: ValidationError) -> list[str]:
    """Each of the model's refusals as a sentence naming the option at fault."""
    by_name = {form.name: form for form in forms}
    sentences = []
    for error in invalid.errors(include_url=False, include_input=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        where, *rest = error["loc"] or ("",)
        form = by_name.get(str(where))
        if form is None:  # about the command as a whole: the model's own sentence
            sentences.append(f"{where}: {message}" if where else message)
            continue
        if error["type"] == "missing" and form.nullable and not rest:
            message = f"give it, or {form.no_option} for none"
        sentences.append(f"{_place(form, rest)}: {message}")
    return sentences


def _place(form: FieldForm, rest: Sequence[Any]) -> str:
    """The option a refused value came from: ``--installment 2 (amount)``, ``--city``."""
    if form.shape == "object" and rest:
        member = next((m for m in form.members if m.name == rest[0]), None)
        return member.option if member else f"{form.option} ({rest[0]})"
    if form.shape in ("list", "entries") and rest and isinstance(rest[0], int):
        inner = f" ({'.'.join(str(p) for p in rest[1:])})" if rest[1:] else ""
        return f"{form.option} {rest[0] + 1}{inner}"
    if form.shape == "mapping" and rest:
        return f"{form.option} {rest[0]}"
    return form.option


# --- the commands ------------------------------------------------------------------------


def typed_models() -> dict[str, type[AccountCommand]]:
    """The command models that have a typed subcommand, by their command's name."""
    from services.commands import command_models

    return {
        name: model for name, model in sorted(command_models().items()) if name not in NOT_TYPED
    }


def summary_of(model: type[BaseModel], forms: Sequence[FieldForm]) -> str:
    """The model's docstring as the command's help, on one line per paragraph, its ``field``
    references written as the options that give them."""
    doc = inspect.cleandoc(model.__doc__ or "")
    if not doc:
        calls = getattr(model, "calls", model.__name__)
        return calls.replace("_", " ").capitalize() + "."
    options = {form.name: _options_of(form)[0] for form in forms}
    doc = re.sub(r"``(\w+)``", lambda m: options.get(m[1], m[1]), doc)
    return "\n\n".join(" ".join(p.split()) for p in doc.split("\n\n"))


def typed_command(name: str, runtime_factory: Callable[[], Runtime]) -> Any:
    """The click command ``ar <name>`` stands for, or None if no command model has that name
    (typed, ``receive-payment``, or short, ``pay``)."""
    command = SHORT_NAMES.get(name, name.replace("-", "_"))
    if "_" in name:  # receive_payment is exec's name: the typed one is receive-payment
        return None
    model = typed_models().get(command)
    if model is None:
        return None
    single = typer.Typer(add_completion=False)
    forms = field_forms(model)
    first, *more = summary_of(model, forms).split("\n\n")
    if name in SHORT_NAMES:
        first += f" Short for ar {typed_name(command)}."
    help_text = "\n\n".join([first, *more])
    epilog = (
        f"The same as ar exec {command} ACCOUNT '<json>', whose JSON fields are the options above."
    )
    single.command(name, help=_escape(help_text), epilog=_escape(epilog))(
        _callback(model, forms, runtime_factory)
    )
    return typer.main.get_command(single)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _callback(
    model: type[AccountCommand],
    forms: Sequence[FieldForm],
    runtime_factory: Callable[[], Runtime],
) -> Callable[..., None]:
    def run(**given: Any) -> None:
        from pydantic import ValidationError

        body = document(forms, given)
        try:
            command = model.model_validate(body)
        except ValidationError as invalid:
            for sentence in refusal_sentences(forms, invalid):
                typer.echo(f"error: {sentence}", err=True)
            raise typer.Exit(1) from None
        send(
            runtime_factory,
            command,
            tenant=given["tenant"],
            account=given["account"],
            actor=given["actor"],
            reason=given["reason"],
            idempotency_key=given["idempotency_key"],
            as_json=given["as_json"],
        )

    parameters = [_parameter("account", Annotated[str, typer.Argument(help="The account number.")])]
    for form in forms:
        parameters.extend(_field_parameters(form))
    parameters += [
        _parameter("tenant", _common(str, envvar="AR_TENANT", help=_TENANT_HELP)),
        _parameter("actor", _common(str, envvar="AR_ACTOR", help=_ACTOR_HELP)),
        _parameter("idempotency_key", _common(str | None, help="Retry-safe key."), None),
        _parameter("reason", _common(str | None, help="Why: recorded on the events."), None),
        _parameter("as_json", _common(bool, "--json", help="Print JSON for scripts."), False),
    ]
    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]  # typer reads it
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


_TENANT_HELP = "The tenant the account belongs to."
_ACTOR_HELP = "Your name, recorded as the actor on the events."


def _common(annotation: Any, *names: str, **option: Any) -> Any:
    """An option every typed command has (``ar exec``'s), shown after the command's fields."""
    shown = option.pop("show_default", False)
    info = typer.Option(*names, rich_help_panel=COMMON_PANEL, show_default=shown, **option)
    return Annotated[annotation, info]


def _parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
    )


def _field_parameters(form: FieldForm) -> list[inspect.Parameter]:
    if form.members:
        parameters = [
            _parameter(
                f"{form.param}__{m.name}",
                Annotated[str | None, _typer_option(m, m.option, _label(form.name))],
                None,
            )
            for m in form.members
        ]
    else:
        many = form.shape in ("list", "entries", "mapping")
        annotation: Any = list[str] if many else str
        option = _typer_option(form, form.option)
        if form.required and not form.nullable:
            parameters = [_parameter(form.param, Annotated[annotation, option])]
        else:
            # A model default is sent as given, and shown; none: the field is left out.
            default = None if many or form.default is None else str(form.default)
            parameters = [_parameter(form.param, Annotated[annotation | None, option], default)]
    if form.nullable:
        help_text = f"Send null as {_label(form.name).lower()}" + (
            f": {form.description}" if form.description else "."
        )
        flag = typer.Option(form.no_option, help=_escape(help_text))
        parameters.append(_parameter(form.no_param, Annotated[bool, flag], False))
    return parameters


def _label(name: str) -> str:
    return name.replace("_", " ").capitalize()


#: What a value of each kind is, for a field whose model says nothing of it.
_KIND_HELP = {
    "amount": "A decimal amount such as 12.50: no sign, no thousands separator.",
    "date": "A date.",
    "id": "An id: letters, digits and . _ : - (no spaces).",
    "text": "One line of text.",
    "currency": "ISO-4217 code, e.g. USD.",
    "whole number": "A whole number.",
}


def _typer_option(form: FieldForm, option: str, record: str = "") -> Any:
    if record:  # a field of a record: its record's name, its own, what the model says
        help_text = f"{record} {form.name.replace('_', ' ')}" + (
            f": {form.description}" if form.description else "."
        )
    elif form.description:
        help_text = form.description
    elif form.shape == "entries":
        help_text = f"One {form.option.removeprefix('--').replace('-', ' ')}, {form.metavar}."
    else:
        help_text = _KIND_HELP.get(form.kind.removeprefix("list of "), form.kind)
    if form.shape in ("list", "entries", "mapping"):
        help_text += " Repeat it for each."
    if form.shape == "entries":
        help_text += " Or a JSON object."
    return typer.Option(
        option,
        help=_escape(help_text),
        metavar=form.metavar or None,
        show_default=form.default is not None and form.shape == "scalar",
    )


def send(
    runtime_factory: Callable[[], Runtime],
    command: AccountCommand,
    *,
    tenant: str,
    account: str,
    actor: str,
    reason: str | None,
    idempotency_key: str | None,
    as_json: bool,
) -> None:
    """Send a validated command to an account, as ``ar exec`` does, and print its answer."""
    from services.cli_accounts import print_account
    from services.cli_guard import cli_provenance, refusals_exit

    with refusals_exit(runtime_factory, "the command") as runtime:
        outcome = runtime.app.execute(
            tenant_id=tenant,
            account_number=account,
            command=command,
            meta=cli_provenance(actor, reason),
            idempotency_key=idempotency_key,
        )
        print_account(outcome.body, as_json)


# --- ar commands -------------------------------------------------------------------------


def command_listing(names: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Each typed command (those named, or all) with its fields: option, type, whether
    required, what it is; the shape ``ar commands --json`` prints."""
    models = typed_models()
    unknown = [n for n in names if n.replace("-", "_") not in models and n not in SHORT_NAMES]
    if unknown:
        typer.echo(f"error: there is no command {unknown[0]!r}; `ar commands` lists them", err=True)
        raise typer.Exit(2)
    wanted = {SHORT_NAMES.get(n, n.replace("-", "_")) for n in names} or set(models)
    short = {command: name for name, command in SHORT_NAMES.items()}
    listing = {}
    for name, model in models.items():
        if name not in wanted:
            continue
        forms = field_forms(model)
        listing[name] = {
            "typed": typed_name(name),
            "short": short.get(name),
            "summary": summary_of(model, forms).split("\n\n")[0],
            "fields": {form.name: _field_entry(form) for form in forms},
        }
    return listing


def _field_entry(form: FieldForm) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": form.type_text,
        "required": form.required,
        "options": _options_of(form),
        "description": form.description or None,
    }
    if form.default not in (None, [], {}):
        entry["default"] = (
            form.default if isinstance(form.default, str | int) else str(form.default)
        )
    if form.members:
        entry["fields"] = {m.name: _field_entry(m) for m in form.members}
    return entry


def listing_rows(listing: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The listing as a table's rows: one per field, a record's fields under it."""
    rows = []
    for name, command in listing.items():
        for field_name, entry in command["fields"].items():
            rows.append(_row(name, field_name, entry))
            for member, inner in entry.get("fields", {}).items():
                rows.append(_row(name, f"{field_name}.{member}", inner))
        if not command["fields"]:
            rows.append({"command": name})
    return rows


def _row(command: str, name: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "command": command,
        "field": name,
        "type": entry["type"],
        "required": entry["required"],
        "options": " ".join(entry["options"]),
    }
