"""The public event contract: every published billing event, as pydantic models and JSON Schemas.

Concept
    Downstream services read the envelopes the relay publishes (``services.envelope``). This
    module states what such a record may look like, once: one model per event type, whose
    payload is derived from the domain event's own dataclass fields, so a field added to an
    event cannot be published without the contract noticing. The JSON Schema of each type is
    exported to ``schemas/events/v<version>/<Type>.json`` for consumers in any language, and a
    test keeps the committed files equal to what these models generate.

Invariants
    - The models describe the published JSON exactly, not a parsed form of it: amounts are
      decimal strings and Money is ``{"amount": "1.50", "currency": "USD"}`` (never a JSON
      number: most parsers read a number as a float), dates and moments are ISO strings, ids
      are strings. ``validate(document).model_dump(mode="json") == document``.
    - Every field is required, also those that may be ``null``: the producer always writes
      every field, so a missing one is a broken record, not an absent value.
    - Nothing else is accepted: unknown fields, floats where decimal strings belong, unknown
      event types or schema versions are refused.
    - A published schema is never edited. Changing a published type means a new
      ``SCHEMA_VERSION`` (``services.envelope``) and a new folder of schemas; a new event
      type is an addition to the current version.

Regenerate the files with ``uv run --frozen python -m services.event_contract schemas/events``
(``--check`` only reports what differs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from eventsourcing.utils import get_topic
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    create_model,
)
from pydantic.json_schema import GenerateJsonSchema

from domain.account import Account
from domain.hash_chain import ENVELOPE_FIELDS
from domain.money import Money as DomainMoney
from services.envelope import SCHEMA_VERSION
from services.errors import UnknownEventType

JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

# Patterns use [0-9], not \d: \d matches every Unicode digit in Python's and Rust's regexes.
#: Money's amount: ``str()`` of a Decimal quantized to the currency's minor unit, never exponents.
MONEY_AMOUNT_PATTERN: Final = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
#: Any other Decimal (a quantity, a percentage), as ``str()`` writes it: "2", "1.5", and, for
#: values given as "1e1" or "0.0000001", also "1E+1" and "1E-7".
DECIMAL_PATTERN: Final = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?(E[+-][0-9]+)?$"
CURRENCY_PATTERN: Final = r"^[A-Z]{3}$"
DATE_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATE_TIME_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
UUID_PATTERN: Final = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
HASH_PATTERN: Final = r"^[0-9a-f]{64}$"

#: Payload fields that are not business data (the library's aggregate class on a first event).
NOT_PUBLISHED: Final[frozenset[str]] = frozenset({"originator_topic"})


def _a_real_date(value: str) -> str:
    date.fromisoformat(value)  # "2026-02-30" has the shape of a date but is none
    return value


def _a_real_moment(value: str) -> str:
    datetime.fromisoformat(value)
    return value


MoneyAmount = Annotated[str, StringConstraints(pattern=MONEY_AMOUNT_PATTERN)]
DecimalString = Annotated[
    str,
    StringConstraints(pattern=DECIMAL_PATTERN),
    Field(json_schema_extra={"examples": ["2", "12.5"]}),
]
DateString = Annotated[
    str,
    StringConstraints(pattern=DATE_PATTERN),
    AfterValidator(_a_real_date),
    Field(json_schema_extra={"format": "date"}),
]
DateTimeString = Annotated[
    str,
    StringConstraints(pattern=DATE_TIME_PATTERN),
    AfterValidator(_a_real_moment),
    Field(json_schema_extra={"format": "date-time"}),
]
UuidString = Annotated[
    str, StringConstraints(pattern=UUID_PATTERN), Field(json_schema_extra={"format": "uuid"})
]
HashString = Annotated[str, StringConstraints(pattern=HASH_PATTERN)]

# strict: JSON values are taken as they are, never coerced ("3" is not 3, 1.5 is not "1.5").
_CONTRACT: Final = ConfigDict(strict=True, extra="forbid", frozen=True)


class Money(BaseModel):
    """An exact amount of one ISO-4217 currency, with exactly the currency's minor unit."""

    model_config = _CONTRACT

    amount: MoneyAmount = Field(description='A decimal string such as "12.50", never a number.')
    currency: str = Field(pattern=CURRENCY_PATTERN, description="ISO-4217 code, e.g. USD.")


class Envelope(BaseModel):
    """One published billing event; each event type narrows ``type``, ``schema_version`` and
    ``payload``."""

    model_config = _CONTRACT

    event_id: UuidString = Field(
        description="Derived from the account id and version: the same event always has the "
        "same id, however often it is published. Drop duplicates by it."
    )
    type: str = Field(description="The event type, e.g. ChargePosted.")
    schema_version: int = Field(description="The version of this contract the record follows.")
    tenant_id: str
    account_id: UuidString
    account_version: int = Field(ge=1, description="1 for the account's first event, and so on.")
    position: Annotated[int, Field(ge=1)] | None = Field(
        description="Place in the notification log (the relay's order); null when the "
        "envelope was read from an account's history rather than published."
    )
    effective_on: DateString = Field(description="The business date of the event.")
    recorded_at: DateTimeString = Field(description="When the event was recorded, with offset.")
    actor: str = Field(description="Who made the entry.")
    correlation_id: str = Field(description="The id of the request that made the entry.")
    reason: str | None
    event_hash: HashString = Field(description="SHA-256 (hex) of the event in the hash chain.")
    previous_hash: HashString = Field(
        description="The account's previous event_hash; 64 zeros for its first event."
    )
    payload: BaseModel


def type_name(event_class: type) -> str:
    """The published type of an event class: the class part of its topic (see
    ``services.envelope.event_type``, which answers the same for an instance)."""
    return get_topic(event_class).rpartition(":")[2]


def event_classes() -> list[type[Account.Event]]:
    """Every event class of the Account aggregate (``Created`` is ``Opened`` by another name)."""
    found = {
        value
        for value in vars(Account).values()
        if isinstance(value, type)
        and issubclass(value, Account.Event)
        and value is not Account.Event
    }
    return sorted(found, key=type_name)


def _literal(value: object) -> Any:
    return Literal[value]  # a Literal of a value known only at run time


class _Derivation:
    """Turns domain types into contract types, one model per domain dataclass."""

    def __init__(self) -> None:
        self.models: dict[type, type[BaseModel]] = {}

    def annotation(self, hint: Any, where: str) -> Any:
        origin = typing.get_origin(hint)
        arguments = typing.get_args(hint)
        if hint is DomainMoney:
            return Money
        if hint is Decimal:
            return DecimalString
        if hint is datetime:
            return DateTimeString
        if hint is date:
            return DateString
        if hint is UUID:
            return UuidString
        if hint in (str, int, bool):
            return hint
        if origin in (typing.Union, types.UnionType) and type(None) in arguments:
            (inner,) = (argument for argument in arguments if argument is not type(None))
            return self.annotation(inner, where) | None
        if origin in (list, tuple, Sequence) and arguments:
            if origin is tuple and (len(arguments) != 2 or arguments[1] is not Ellipsis):
                raise TypeError(f"{where}: a fixed-length tuple has no published form")
            return list[self.annotation(arguments[0], where)]  # type: ignore[misc]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            return self.model_of(hint)
        if origin is dict and arguments == (str, Any):
            # Free-form JSON a command's model produced (an approval request's arguments):
            # strings, whole numbers, booleans, nulls, lists and objects, never floats.
            return dict[str, JsonValue]
        raise TypeError(
            f"{where}: {hint!r} has no published form; teach services.event_contract how the "
            "hash chain's canonical JSON writes it"
        )

    def model_of(self, dataclass_type: type) -> type[BaseModel]:
        if dataclass_type not in self.models:
            name = dataclass_type.__name__
            if any(model.__name__ == name for model in self.models.values()):
                raise TypeError(f"two domain dataclasses are called {name}; rename one")
            self.models[dataclass_type] = self.fields_model(
                name, dataclass_type, [f.name for f in dataclasses.fields(dataclass_type)], None
            )
        return self.models[dataclass_type]

    def fields_model(
        self, name: str, owner: type, field_names: list[str], doc: str | None
    ) -> type[BaseModel]:
        # Descriptions are not taken from the domain's docstrings: rewording one would
        # change a published schema.
        hints = typing.get_type_hints(owner)
        fields: dict[str, Any] = {
            field: (self.annotation(hints[field], f"{owner.__qualname__}.{field}"), ...)
            for field in field_names
        }
        return create_model(name, __config__=_CONTRACT, __doc__=doc, **fields)

    def payload_model(self, event_class: type) -> type[BaseModel]:
        """The model of what ``domain.hash_chain.payload_of`` returns, less ``originator_topic``."""
        published = [
            f.name
            for f in dataclasses.fields(event_class)
            if f.name not in ENVELOPE_FIELDS and f.name not in NOT_PUBLISHED
        ]
        name = type_name(event_class)
        doc = f"The fields of Account.{event_class.__name__}, as the domain records them."
        return self.fields_model(f"{name}Payload", event_class, published, doc)


@cache
def _envelope_models() -> dict[str, type[Envelope]]:
    derivation = _Derivation()
    models: dict[str, type[Envelope]] = {}
    for event_class in event_classes():
        name = type_name(event_class)
        models[name] = create_model(
            name,
            __base__=Envelope,
            __doc__=f"The published form of Account.{event_class.__name__}.",
            type=(_literal(name), Field(description="The event type.")),
            schema_version=(_literal(SCHEMA_VERSION), Field(description="The contract version.")),
            payload=(derivation.payload_model(event_class), ...),
        )
    return models


def envelope_models() -> dict[str, type[Envelope]]:
    """The model of each published event type, by type name."""
    return dict(_envelope_models())


class _ContractJsonSchema(GenerateJsonSchema):
    # Property titles ("Charge Id") only repeat the property's name; models keep theirs.
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _required_sorted(schema: Any) -> Any:
    # The wire form sorts keys, so the order of a dataclass's fields is not part of the
    # contract; sorting "required" keeps reordering them from changing a published schema.
    if isinstance(schema, dict):
        return {
            key: sorted(value) if key == "required" else _required_sorted(value)
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_required_sorted(item) for item in schema]
    return schema


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(schema_generator=_ContractJsonSchema)
    return {"$schema": JSON_SCHEMA_DIALECT, **_required_sorted(schema)}


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema (Draft 2020-12) of each published event type, by type name."""
    return {name: json_schema(model) for name, model in _envelope_models().items()}


def validate(document: Mapping[str, Any]) -> Envelope:
    """A published record (as ``json.loads`` reads it) as its type's model; raises
    ``UnknownEventType`` for a type or version the contract does not know, and pydantic's
    ``ValidationError`` (a ``ValueError`` too) when the record breaks its type's contract."""
    if not isinstance(document, Mapping):
        raise UnknownEventType(
            None,
            f"An event record is a JSON object, not {type(document).__name__}.",
            field="type",
        )
    version = document.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise UnknownEventType(
            document.get("type"),
            f"Schema version {version!r} is not this contract's; it reads version {SCHEMA_VERSION}.",
            field="schema_version",
        )
    kind = document.get("type")
    model = _envelope_models().get(kind) if isinstance(kind, str) else None
    if model is None:
        raise UnknownEventType(
            kind,
            f"{kind!r} is not a published event type of schema version {SCHEMA_VERSION}; "
            f"known types: {', '.join(_envelope_models())}.",
            field="type",
        )
    return model.model_validate(document)


# ------------------------------------------------------------------ the committed files


def schema_text(schema: Mapping[str, Any]) -> str:
    """A schema as committed: pretty-printed, sorted keys, ending in a newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def version_folder(root: Path, version: int = SCHEMA_VERSION) -> Path:
    return root / f"v{version}"


def schema_files() -> dict[str, str]:
    """What the current version's folder must hold: file name → text."""
    return {f"{name}.json": schema_text(schema) for name, schema in json_schemas().items()}


def differences(root: Path) -> list[str]:
    """How the committed files of the current version differ from the models, one line each."""
    folder = version_folder(root)
    expected = schema_files()
    committed = {path.name for path in folder.glob("*.json")} if folder.is_dir() else set()
    lines = [f"{folder / name}: missing" for name in sorted(expected.keys() - committed)]
    lines += [
        f"{folder / name}: no such event type" for name in sorted(committed - expected.keys())
    ]
    lines += [
        f"{folder / name}: differs from the model"
        for name in sorted(expected.keys() & committed)
        if (folder / name).read_text(encoding="utf-8") != expected[name]
    ]
    return lines


def write(root: Path, *, overwrite: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the current version's missing schema files; (written, refused). A file that
    exists with other content is a published schema and is left alone unless ``overwrite``."""
    folder = version_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    refused: list[Path] = []
    for name, text in schema_files().items():
        path = folder / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if path.exists() and not overwrite:
            refused.append(path)
            continue
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written, refused


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.event_contract",
        description="Write the JSON Schema of every published event type into "
        f"<folder>/v{SCHEMA_VERSION}/ (the current schema version).",
    )
    parser.add_argument("folder", type=Path, help="e.g. schemas/events")
    parser.add_argument("--check", action="store_true", help="only report what differs")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace files that differ: only for a schema version not yet published",
    )
    arguments = parser.parse_args(argv)
    if arguments.check:
        found = differences(arguments.folder)
        for line in found:
            print(line, file=sys.stderr)
        return 1 if found else 0
    written, refused = write(arguments.folder, overwrite=arguments.overwrite)
    for path in written:
        print(f"wrote {path}")
    if refused:
        for path in refused:
            print(f"refused to change {path}", file=sys.stderr)
        print(
            "A published schema is never edited: a changed event type needs a new schema version "
            "(raise SCHEMA_VERSION in services/envelope.py and run this again).",
            file=sys.stderr,
        )
        return 1
    stale = [line for line in differences(arguments.folder) if line.endswith("no such event type")]
    for line in stale:
        print(line, file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
