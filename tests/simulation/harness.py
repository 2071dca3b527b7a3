"""Runs a command stream against the real stack and checks every invariant of issue 12.

The in-process tier: two ``Receivables`` instances (two writers, each with its own group
committer and cache) on one scratch PostgreSQL database, their recorders wrapped by
``faults.FaultyRecorder``. Each round's commands are submitted at once (so batches form and
the two instances race on busy accounts); a client whose command failed with anything but a
refusal sends it again, same key and body, until it gets a definitive answer — that is how a
lost answer resolves.

Checked after every round (``Finding.stage`` "answers"):
    every 2xx answer's version, recorded events, balance and unapplied credit equal the
    shadow's, taking acknowledged commands in the version order the product answered; a
    command the shadow must refuse was not acknowledged; a command it must accept was not
    refused; a replay equals the first answer; a reused key with another body is refused;
    nothing but an injected fault, a 503 or a concurrent update asks the client to retry.
Checked at the end:
    "store": the stored events have no version gap and hold exactly the acknowledged
    commands (one event each), the idempotency keys on file are exactly the acknowledged
    ones, and every account read back by a fresh instance equals the shadow (balance,
    unapplied credit, version, open items);
    "read_models": the projector catches up, its balances and open items equal the shadow,
    and ``verify`` (rebuild and compare, hash chains) finds nothing;
    "kafka": the relay publishes every event once, each account's events in one partition
    in version order.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from structlog.testing import capture_logs

from bench.scratch import scratch_database
from domain.account import Account
from domain.errors import DomainError
from domain.provenance import Provenance
from projections.catalogue import read_models
from projections.runner import Projector
from projections.verify import verify
from services.api.accounts import OpenAccountRequest
from services.app import Receivables
from services.bootstrap import Runtime, bootstrap, eventsourcing_env
from services.commands import command_models
from services.errors import ConcurrentUpdate, ServiceError
from services.group_commit import Outcome
from services.settings import Settings
from tests.simulation.faults import FaultyRecorder
from tests.simulation.generator import Cmd
from tests.simulation.shadow import MINOR_PLACES, AccountShadow, Shadow, Verdict
from tests.simulation.topic import check_topic, relay_everything

STAGES = ("answers", "store", "read_models", "kafka")
#: A client gives up on a command after this many tries without a definitive answer.
MAX_TRIES = 8
#: How long a client waits for one answer before it counts the product as hung.
ANSWER_SECONDS = 60.0
META = Provenance(actor="simulation", correlation_id="simulation")


@dataclass(frozen=True)
class Finding:
    stage: str
    kind: str
    detail: str
    cmd: int | None = None

    def matches(self, what: str) -> bool:
        """Whether this finding is of kind ``what``, or says ``what`` (an error's name)."""
        return what == self.kind or what in self.detail.split(" [tries:")[0]

    def line(self) -> str:
        at = f" (command #{self.cmd})" if self.cmd is not None else ""
        return f"[{self.stage}] {self.kind}{at}: {self.detail}"


@dataclass
class Report:
    seed: int
    commands: int
    findings: list[Finding] = field(default_factory=list)
    acknowledged: int = 0
    replayed: int = 0
    refused: int = 0
    refusals: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    #: The faults each idempotency key's saves met (both instances).
    faulted: dict[str, list[str]] = field(default_factory=dict)
    events: int = 0
    published: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        kinds = Counter(f.kind for f in self.findings)
        return (
            f"seed {self.seed}: {self.commands} commands, {self.acknowledged} acknowledged"
            f" ({self.replayed} replays), {self.refused} refused, {self.retries} retries;"
            f" faults injected: {faults}; {self.events} events stored, {self.published}"
            f" published; findings: {dict(kinds) or 0}; {self.seconds:.1f} s"
            f"\n  refusals: {dict(self.refusals.most_common())}"
        )


@dataclass
class _Ack:
    cmd: Cmd
    body: dict[str, Any]


class Simulation:
    """One run of a stream on a fresh database."""

    def __init__(
        self,
        cmds: Sequence[Cmd],
        *,
        seed: int,
        server_url: str,
        fault_rate: float = 0.03,
        kafka_bootstrap: str | None = None,
        until: str = "kafka",
        stop_at: str | None = None,
    ) -> None:
        self.cmds = list(cmds)
        self.seed = seed
        self.server_url = server_url
        self.fault_rate = fault_rate
        self.kafka_bootstrap = kafka_bootstrap
        self.until = until
        #: Stop sending once a finding of this kind is made (shrinking needs no more).
        self.stop_at = stop_at
        self.report = Report(seed=seed, commands=len(self.cmds))
        self.shadow = Shadow()
        self.acked: dict[tuple[str, str], _Ack] = {}
        self.faults: list[FaultyRecorder] = []
        self.models = command_models()
        self._known: set[tuple[str, str]] = set()
        #: What each try of each command got, to explain a finding about it.
        self.history: dict[int, list[str]] = defaultdict(list)

    # --- running --------------------------------------------------------------------------

    def run(self) -> Report:
        started = time.monotonic()
        with (
            # The product logs every failed batch with its traceback; thousands of them,
            # rendered, would cost minutes. Kept in memory instead, unrendered.
            capture_logs(),
            scratch_database(self.server_url, "sim") as url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            settings = Settings(
                data_dir=Path(tmp),
                database_url=url,
                kafka_bootstrap=self.kafka_bootstrap or "127.0.0.1:1",
                kafka_topic=f"receivables.sim.{self.seed}.{uuid.uuid4().hex[:8]}",
                log_level="CRITICAL",
            )
            with self._instances(settings) as apps:
                for _, cmds in _rounds(self.cmds):
                    self._round(apps, cmds)
                    if self._stopped():
                        break
            for faults in self.faults:
                self.report.faults.update(faults.injected)
                for key, kinds in faults.by_key.items():
                    self.report.faulted.setdefault(key, []).extend(kinds)
            if not self._stopped() and self._wants("store"):
                self._final_checks(settings)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _stopped(self) -> bool:
        return self.stop_at is not None and any(
            f.matches(self.stop_at) for f in self.report.findings
        )

    def _wants(self, stage: str) -> bool:
        return STAGES.index(stage) <= STAGES.index(self.until)

    def _find(self, stage: str, kind: str, detail: str, cmd: Cmd | None = None) -> None:
        if cmd is not None and stage == "answers":
            detail += f" [tries: {'; '.join(self.history[cmd.n])}]"
        self.report.findings.append(Finding(stage, kind, detail, cmd.n if cmd else None))

    @contextlib.contextmanager
    def _instances(self, settings: Settings) -> Iterator[list[Receivables]]:
        first = bootstrap(settings)
        second = Receivables(env=eventsourcing_env(settings))
        apps = [first.app, second]
        for i, app in enumerate(apps):
            self.faults.append(FaultyRecorder(self.seed * 2 + i, self.fault_rate).install(app))
        try:
            yield apps
        finally:
            for app in apps:
                app.close()

    # --- one round --------------------------------------------------------------------------

    def _submit(self, app: Receivables, cmd: Cmd) -> Future[Outcome]:
        if cmd.kind == "open_account":
            request = OpenAccountRequest.model_validate_json(
                json.dumps({"account_number": cmd.account, **cmd.body})
            )
            return app.submit_open_account(
                tenant_id=cmd.tenant,
                account_number=request.account_number,
                name=request.name,
                currency=request.currency,
                opened_on=request.opened_on,
                payment_terms_days=request.payment_terms_days,
                meta=META,
                idempotency_key=cmd.key,
            )
        command = self.models[cmd.kind].model_validate_json(json.dumps(cmd.body))
        return app.submit(
            tenant_id=cmd.tenant,
            account_number=cmd.account,
            command=command,
            meta=META,
            idempotency_key=cmd.key,
        )

    def _round(self, apps: list[Receivables], cmds: list[Cmd]) -> None:
        # Accounts acknowledged before the round: an ordinary command on one of them must be
        # accepted whatever the round's other commands do.
        self._known = {k for k, a in self.shadow.accounts.items() if not a.untracked}
        acks, refusals = self._send_round(apps, cmds)
        self._check_acks(acks)
        self._check_refusals(refusals)

    def _send_round(
        self, apps: list[Receivables], cmds: list[Cmd]
    ) -> tuple[list[_Ack], list[tuple[Cmd, str]]]:
        """Send the round's commands at once; retry each until it has a definitive answer."""
        acks: list[_Ack] = []
        refusals: list[tuple[Cmd, str]] = []
        pending = list(cmds)
        tries: Counter[int] = Counter()
        while pending:
            sent: list[tuple[Cmd, Future[Outcome] | None]] = []
            for cmd in pending:
                tries[cmd.n] += 1
                try:
                    sent.append((cmd, self._submit(apps[cmd.instance], cmd)))
                except (ValidationError, ValueError):
                    self.history[cmd.n].append(f"app{cmd.instance}: invalid request")
                    refusals.append((cmd, "invalid_request"))
            retry: list[Cmd] = []
            for cmd, future in sent:
                assert future is not None
                try:
                    outcome = future.result(timeout=ANSWER_SECONDS)
                except FutureTimeout:
                    self._find("answers", "hung", "no answer within a minute", cmd)
                    continue
                except Exception as error:
                    self.history[cmd.n].append(f"app{cmd.instance}: {_named(error)}")
                    verdict = self._classify(error, cmd)
                    if verdict is None:
                        retry.append(cmd)
                        continue
                    refusals.append((cmd, verdict))
                    continue
                self.history[cmd.n].append(
                    f"app{cmd.instance}: {'replayed' if outcome.replayed else 'acknowledged'}"
                    f" version {outcome.body.get('version')}"
                )
                if outcome.replayed:
                    self.report.replayed += 1
                acks.append(_Ack(cmd, outcome.body))
            pending = []
            for cmd in retry:
                if tries[cmd.n] >= MAX_TRIES:
                    self._find(
                        "answers", "no_answer", f"still failing after {MAX_TRIES} tries", cmd
                    )
                else:
                    self.report.retries += 1
                    pending.append(cmd)
        return acks, refusals

    def _classify(self, error: BaseException, cmd: Cmd) -> str | None:
        """A refusal's code, or None when the client should send the command again."""
        if isinstance(error, DomainError):
            return error.code
        if isinstance(error, ServiceError):
            if isinstance(error, ConcurrentUpdate) or error.status >= 500:
                return None
            return error.code
        if not any(f.caused(error) for f in self.faults):
            self._find("answers", "server_error", f"{type(error).__name__}: {error}"[:300], cmd)
        return None

    def _check_acks(self, acks: list[_Ack]) -> None:
        def order(ack: _Ack) -> tuple[str, str, int]:
            return (ack.cmd.tenant, ack.cmd.account, int(ack.body.get("version", 0)))

        for ack in sorted(acks, key=order):
            cmd = ack.cmd
            self.report.acknowledged += 1
            earlier = self.acked.get((cmd.tenant, cmd.key))
            if earlier is not None:
                if _request(earlier.cmd) != _request(cmd):
                    self._find(
                        "answers",
                        "key_reuse_accepted",
                        f"key {cmd.key} was first used by #{earlier.cmd.n} with another request",
                        cmd,
                    )
                elif _figures(earlier.body) != _figures(ack.body):
                    self._find(
                        "answers",
                        "replay_differs",
                        f"first answer {_figures(earlier.body)}, replay {_figures(ack.body)}",
                        cmd,
                    )
                continue
            self.acked[(cmd.tenant, cmd.key)] = ack
            self._apply(ack)

    def _apply(self, ack: _Ack) -> None:
        cmd, body = ack.cmd, ack.body
        before = self.shadow.get(cmd.tenant, cmd.account)
        if before is not None and before.untracked:
            return
        verdict = self.shadow.judge(cmd.tenant, cmd.account, cmd.kind, cmd.body)
        if verdict.outcome == "refuse":
            self._find("answers", "accepted_must_refuse", verdict.reason, cmd)
            self.shadow.forget(cmd.tenant, cmd.account)
            return
        expected = (before.version if before is not None else 0) + 1
        if body.get("version") != expected:
            self._find(
                "answers",
                "version",
                f"answered version {body.get('version')}, the shadow expects {expected}"
                " (a gap, or a command applied twice)",
                cmd,
            )
        recorded = [r.get("version") for r in body.get("recorded", [])]
        if recorded != [body.get("version")]:
            self._find("answers", "recorded", f"recorded {recorded} for one command", cmd)
        after = verdict.after
        if after is not None:
            wrong = _differences(after, body)
            if wrong:
                self._find("answers", "wrong_answer", wrong, cmd)
        self.shadow.accept(cmd.tenant, cmd.account, verdict)

    def _check_refusals(self, refusals: list[tuple[Cmd, str]]) -> None:
        for cmd, code in refusals:
            self.report.refused += 1
            self.report.refusals[code] += 1
            earlier = self.acked.get((cmd.tenant, cmd.key))
            if earlier is not None and earlier.cmd.round == cmd.round:
                # Sent at the same moment as the acknowledged one, and maybe answered before it
                # was stored: a refusal is not recorded, so it may differ from the answer.
                continue
            if earlier is not None:
                if _request(earlier.cmd) == _request(cmd):
                    self._find(
                        "answers",
                        "retry_refused",
                        f"a retry of #{earlier.cmd.n} was refused ({code}) instead of replayed"
                        f" (#{earlier.cmd.n}: {'; '.join(self.history[earlier.cmd.n])})",
                        cmd,
                    )
                elif code not in ("idempotency_key_reused", "invalid_request"):
                    self._find(
                        "answers",
                        "key_reuse_code",
                        f"a reused key was refused with {code}, not idempotency_key_reused",
                        cmd,
                    )
                continue
            verdict: Verdict = self.shadow.judge(cmd.tenant, cmd.account, cmd.kind, cmd.body)
            known = cmd.kind == "open_account" or (cmd.tenant, cmd.account) in self._known
            if verdict.outcome == "accept" and verdict.certain and known and not cmd.tags:
                self._find("answers", "valid_refused", f"refused with {code}", cmd)

    # --- the end ----------------------------------------------------------------------------

    def _final_checks(self, settings: Settings) -> None:
        reader = bootstrap(settings)  # a fresh instance: nothing cached from the run
        try:
            self._check_store(reader)
            if self._wants("read_models"):
                self._check_read_models(reader)
            if self._wants("kafka") and self.kafka_bootstrap:
                self._check_kafka(reader)
        finally:
            reader.close()

    def _tracked(self) -> Iterator[AccountShadow]:
        return (a for a in self.shadow.accounts.values() if not a.untracked)

    def _check_store(self, reader: Runtime) -> None:
        app = reader.app
        table = app.recorder.events_table_name  # type: ignore[attr-defined]
        rows = reader.db.query(f"SELECT originator_id, originator_version FROM {table}")
        versions: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            versions[str(row["originator_id"])].append(int(row["originator_version"]))
        self.report.events = len(rows)
        ids = {str(Account.id_for(a.tenant, a.number)): a for a in self.shadow.accounts.values()}
        for account_id, found in versions.items():
            found.sort()
            if found != list(range(1, len(found) + 1)):
                self._find("store", "version_gap", f"account {account_id} has versions {found}")
            account = ids.get(account_id)
            if account is None:
                self._find("store", "stored_unacknowledged", f"account {account_id} {found}")
            elif not account.untracked and len(found) != account.version:
                self._find(
                    "store",
                    "stored_count",
                    f"{account.tenant}/{account.number}: {len(found)} events stored,"
                    f" {account.version} commands acknowledged",
                )
        keys = {
            (r["tenant_id"], r["idempotency_key"]): r
            for r in reader.db.query(
                "SELECT tenant_id, idempotency_key, response FROM idempotency_keys"
            )
        }
        for key, ack in self.acked.items():
            on_file = keys.get(key)
            if on_file is None:
                self._find(
                    "store", "key_missing", f"key {key[1]} acknowledged, not on file", ack.cmd
                )
            elif _figures(json.loads(on_file["response"])) != _figures(ack.body):
                self._find("store", "key_answer", f"key {key[1]} holds another answer", ack.cmd)
        for key in keys.keys() - self.acked.keys():
            self._find("store", "key_unacknowledged", f"key {key[1]} on file, never acknowledged")
        for account in self._tracked():
            try:
                found_account = app.get_account(account.tenant, account.number)
            except Exception as error:
                self._find(
                    "store",
                    "unreadable",
                    f"{account.tenant}/{account.number}: {type(error).__name__}: {error}",
                )
                continue
            wrong = _differences(
                account,
                {
                    "version": found_account.version,
                    "balance": str(found_account.balance.amount),
                    "unapplied_credit": str(found_account.unapplied_credit.amount),
                },
            )
            items = {
                n: int(i.outstanding.amount.scaleb(_places(account)))
                for n, i in found_account.items.items()
                if i.outstanding.is_positive
            }
            if items != account.open_items():
                wrong += f" open items {items}, shadow {account.open_items()}"
            if wrong:
                self._find("store", "read_back", f"{account.tenant}/{account.number}: {wrong}")

    def _check_read_models(self, reader: Runtime) -> None:
        projector = Projector(reader.app, reader.db, read_models())
        try:
            projector.catch_up()
        except Exception as error:
            self._find("read_models", "projector_stopped", f"{type(error).__name__}: {error}"[:300])
        rows = {
            (r["tenant_id"], r["account_number"]): r
            for r in reader.db.query(
                "SELECT tenant_id, account_number, balance_minor, unapplied_credit_minor,"
                " last_version FROM account_balances"
            )
        }
        for account in self._tracked():
            row = rows.get((account.tenant, account.number))
            expected = (account.balance, account.credit, account.version)
            found = (
                (
                    int(row["balance_minor"]),
                    int(row["unapplied_credit_minor"]),
                    int(row["last_version"]),
                )
                if row
                else None
            )
            if found != expected:
                self._find(
                    "read_models",
                    "balances_differ",
                    f"{account.tenant}/{account.number}: (balance, credit, version) {found},"
                    f" shadow {expected}",
                )
        open_terms: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
        for r in reader.db.query(
            "SELECT tenant_id, account_number, item_number,"
            " sum(amount_minor - reduced_minor) AS open_minor FROM open_item_terms"
            " GROUP BY tenant_id, account_number, item_number"
        ):
            if int(r["open_minor"]) > 0:
                open_terms[(r["tenant_id"], r["account_number"])][r["item_number"]] = int(
                    r["open_minor"]
                )
        for account in self._tracked():
            found_items = open_terms.get((account.tenant, account.number), {})
            if found_items != account.open_items():
                self._find(
                    "read_models",
                    "open_items_differ",
                    f"{account.tenant}/{account.number}: open items {found_items},"
                    f" shadow {account.open_items()}",
                )
        try:
            result = verify(reader.app, reader.db)
        except Exception as error:
            self._find("read_models", "verify_failed", f"{type(error).__name__}: {error}"[:300])
            return
        for discrepancy in result.discrepancies[:5]:
            self._find("read_models", "verify", str(discrepancy)[:300])

    def _check_kafka(self, reader: Runtime) -> None:
        try:
            relay_everything(reader)
        except Exception as error:
            self._find("kafka", "relay_stopped", f"{type(error).__name__}: {error}"[:300])
            return
        problems, self.report.published = check_topic(reader)
        for problem in problems:
            self._find("kafka", "topic", problem)


def _named(error: BaseException) -> str:
    """The error's type, and for a conflict given up on, what the store refused each time."""
    cause = error.__cause__
    if isinstance(error, ConcurrentUpdate) and cause is not None:
        return f"{type(error).__name__} ({type(cause).__name__}: {str(cause)[:120]})"
    return type(error).__name__


def _rounds(cmds: Sequence[Cmd]) -> list[tuple[int, list[Cmd]]]:
    rounds: dict[int, list[Cmd]] = defaultdict(list)
    for cmd in cmds:
        rounds[cmd.round].append(cmd)
    return sorted(rounds.items())


def _request(cmd: Cmd) -> tuple[str, str, str]:
    return (cmd.account, cmd.kind, json.dumps(cmd.body, sort_keys=True))


def _figures(body: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(body.get(k) for k in ("account_number", "version", "balance", "unapplied_credit"))


def _places(account: AccountShadow) -> int:
    return MINOR_PLACES[account.currency]


def _differences(account: AccountShadow, body: dict[str, Any]) -> str:
    """What differs between the shadow's account and an answer's figures ('' when nothing)."""
    wrong = []
    if body.get("version") != account.version:
        wrong.append(f"version {body.get('version')} (shadow {account.version})")
    for name, minor in (("balance", account.balance), ("unapplied_credit", account.credit)):
        expected = account.as_money(minor)
        try:
            found = Decimal(str(body.get(name)))
        except ArithmeticError:
            found = None
        if found != expected:
            wrong.append(f"{name} {body.get(name)} (shadow {expected})")
    return "; ".join(wrong)


def run(
    cmds: Sequence[Cmd],
    *,
    seed: int,
    server_url: str,
    fault_rate: float = 0.03,
    kafka_bootstrap: str | None = None,
    until: str = "kafka",
    stop_at: str | None = None,
) -> Report:
    """Run ``cmds`` on a fresh database and check everything up to stage ``until``."""
    return Simulation(
        cmds,
        seed=seed,
        server_url=server_url,
        fault_rate=fault_rate,
        kafka_bootstrap=kafka_bootstrap,
        until=until,
        stop_at=stop_at,
    ).run()
