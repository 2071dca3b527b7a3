"""The process-level tier: the same stream over HTTP while the real processes are killed.

``ar serve`` (without its own projector), ``ar project`` and ``ar relay`` run as separate
processes on a scratch PostgreSQL database and a fresh topic. Each round's commands are sent
at once over HTTP, one client thread each, with an ``Idempotency-Key``; a client that gets no
answer (connection refused or cut), a 502/503/504 or a ``concurrent_update`` sends the same
request again until it has a definitive one. A 500 is a finding (and retried).

During a round, on a seeded schedule, one of these happens while requests are in flight:

- ``kill_server``, ``kill_projector``, ``kill_relay``: SIGKILL, then the process is started
  again at once;
- ``terminate_backends``: every connection to the scratch database is terminated
  (``pg_terminate_backend``), as when PostgreSQL restarts, without touching other databases;
- ``refuse_connections``: the scratch database refuses new connections for a moment
  (``ALTER DATABASE ... ALLOW_CONNECTIONS false``) and its connections are terminated;
- ``kafka_stop`` and ``pg_restart`` (only when asked for: they stop the broker and the
  cluster every test on the machine shares): the local broker is stopped for a moment, or
  PostgreSQL stopped and started, and always started again.

At the end the projector and the relay must catch up, then the checks of the in-process tier
run: the store, every account read back, the read models against the shadow, ``verify`` and
the topic.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from bench.scratch import scratch_database
from projections.runner import tracked_positions
from services.api_keys import Role
from services.bootstrap import bootstrap
from services.relay_positions import relay_position
from services.settings import Settings
from tests.simulation.generator import TENANTS, Cmd
from tests.simulation.harness import Report, Simulation, _Ack, _rounds

REPO = Path(__file__).resolve().parents[2]
ROUTES = {
    "post_charge": "charges",
    "issue_invoice": "invoices",
    "receive_payment": "payments",
    "issue_credit_note": "credit-notes",
    "refund_credit": "refunds",
    "write_off": "write-offs",
}
CHAOS = ("kill_server", "kill_projector", "kill_relay", "terminate_backends", "refuse_connections")
#: A client gives up on a command after this many tries (about a minute of retrying).
HTTP_TRIES = 300
RETRY_PAUSE = 0.2
CATCH_UP_SECONDS = 120.0
#: A process that ends sooner than this after its start failed to start (not a finding).
STARTING_SECONDS = 8.0


class Stack:
    """``ar serve``, ``ar project`` and ``ar relay`` as child processes of the simulation."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.settings = settings
        self.logs = logs
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "AR_DATABASE_URL": settings.database_url.get_secret_value(),  # type: ignore[union-attr]
            "AR_DATA_DIR": str(settings.data_dir),
            "AR_HOST": "127.0.0.1",
            "AR_PORT": str(self.port),
            "AR_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "AR_KAFKA_TOPIC": settings.kafka_topic,
            "AR_LOG_LEVEL": "WARNING",
            "AR_PROJECTOR_POLL_SECONDS": "0.1",
            "AR_RELAY_POLL_SECONDS": "0.1",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def start(self, name: str) -> None:
        # ``ar`` of this work tree (not whichever one the environment installed).
        ar = [sys.executable, "-c", "from services.cli import app; app(prog_name='ar')"]
        args = [*ar, name, "--no-projector"] if name == "serve" else [*ar, name]
        with self._lock, (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                args, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
            )
            self.started_at[name] = time.monotonic()
        if name == "serve":
            self.wait_serving()

    def exited(self) -> dict[str, float]:
        """The processes that ended on their own, with how long each had run."""
        with self._lock:
            return {
                name: time.monotonic() - self.started_at[name]
                for name, proc in self.procs.items()
                if proc.poll() is not None
            }

    def tail(self, name: str, chars: int = 600) -> str:
        """The end of a process's log, for a finding about it."""
        try:
            return (self.logs / f"{name}.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill(self, name: str) -> None:
        with self._lock:
            proc = self.procs[name]
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)

    def wait_serving(self) -> None:
        for _ in range(600):
            if self.procs["serve"].poll() is not None:
                # It could not start (the database refused it at that moment): a supervisor
                # starts it again.
                with (self.logs / "serve.log").open("ab") as log:
                    self.procs["serve"] = subprocess.Popen(
                        self.procs["serve"].args, env=self.env, stdout=log, stderr=log, cwd=REPO
                    )
            with (
                contextlib.suppress(OSError, http.client.HTTPException),
                urllib.request.urlopen(f"{self.base}/health", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.1)
        msg = f"ar serve did not answer on {self.base}; see {self.logs / 'serve.log'}"
        raise RuntimeError(msg)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


class ProcessSimulation(Simulation):
    """The stream over HTTP against real processes, with process-level faults."""

    def __init__(
        self,
        cmds: Sequence[Cmd],
        *,
        seed: int,
        server_url: str,
        kafka_bootstrap: str,
        chaos_rate: float = 0.4,
        kafka_outages: bool = False,
        pg_restarts: bool = False,
    ) -> None:
        super().__init__(
            cmds, seed=seed, server_url=server_url, fault_rate=0, kafka_bootstrap=kafka_bootstrap
        )
        self.chaos_rng = random.Random(seed * 7919 + 1)
        self.chaos_rate = chaos_rate
        self.chaos = [
            *CHAOS,
            *(["kafka_stop"] if kafka_outages else []),
            *(["pg_restart"] if pg_restarts else []),
        ]
        self.keys: dict[str, str] = {}

    def run(self) -> Report:
        started = time.monotonic()
        with (
            scratch_database(self.server_url, "simproc") as url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            settings = Settings(
                data_dir=Path(tmp),
                database_url=url,
                kafka_bootstrap=self.kafka_bootstrap or "127.0.0.1:1",
                kafka_topic=f"receivables.simproc.{self.seed}.{uuid.uuid4().hex[:8]}",
                log_level="CRITICAL",
            )
            setup = bootstrap(settings)
            for tenant in TENANTS:
                issued = setup.keys.create(name=f"sim-{tenant}", tenant_id=tenant, role=Role.clerk)
                self.keys[tenant] = issued.secret
            setup.close()
            stack = Stack(settings, Path(tmp))
            try:
                for name in ("serve", "project", "relay"):
                    stack.start(name)
                for _, cmds in _rounds(self.cmds):
                    self._known = {k for k, a in self.shadow.accounts.items() if not a.untracked}
                    acks, refusals = self._send_over_http(stack, cmds)
                    self._check_acks(acks)
                    self._check_refusals(refusals)
                    self._supervise(stack)
                self._wait_caught_up(stack)
            finally:
                stack.stop_all()
            self._final_checks(settings)
        self.report.seconds = time.monotonic() - started
        return self.report

    # --- one round over HTTP ----------------------------------------------------------------

    def _send_over_http(
        self, stack: Stack, cmds: list[Cmd]
    ) -> tuple[list[_Ack], list[tuple[Cmd, str]]]:
        fault = None
        if self.chaos_rng.random() < self.chaos_rate:
            fault = self.chaos_rng.choice(self.chaos)
        delay = self.chaos_rng.uniform(0, 0.05)
        acks: list[_Ack] = []
        refusals: list[tuple[Cmd, str]] = []
        with ThreadPoolExecutor(max_workers=len(cmds)) as pool:
            answers = [pool.submit(self._send, stack, cmd) for cmd in cmds]
            if fault is not None:
                time.sleep(delay)
                self._inject(stack, fault)
            for cmd, answer in zip(cmds, answers, strict=True):
                kind, value = answer.result()
                if kind == "ack":
                    acks.append(_Ack(cmd, value))
                elif kind == "refused":
                    refusals.append((cmd, value))
        return acks, refusals

    def _send(self, stack: Stack, cmd: Cmd) -> tuple[str, Any]:
        if cmd.kind == "open_account":
            url = f"{stack.base}/v1/accounts"
            body = {"account_number": cmd.account, **cmd.body}
        else:
            url = f"{stack.base}/v1/accounts/{quote(cmd.account, safe='')}/{ROUTES[cmd.kind]}"
            body = cmd.body
        data = json.dumps(body).encode()
        headers = {
            "Authorization": f"Bearer {self.keys[cmd.tenant]}",
            "Idempotency-Key": cmd.key,
            "Content-Type": "application/json",
        }
        for attempt in range(HTTP_TRIES):
            if attempt:
                self.report.retries += 1
                time.sleep(RETRY_PAUSE)
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    status, text, replayed = (
                        answer.status,
                        answer.read(),
                        answer.headers.get("Idempotent-Replayed"),
                    )
            except urllib.error.HTTPError as error:
                try:
                    status, text, replayed = error.code, error.read(), None
                except (OSError, http.client.HTTPException) as cut:
                    # The connection was cut while the refusal's body came: no answer either.
                    self.history[cmd.n].append(f"no answer ({type(cut).__name__})")
                    continue
            except (OSError, http.client.HTTPException) as error:
                self.history[cmd.n].append(f"no answer ({type(error).__name__})")
                continue
            try:
                document = json.loads(text) if text else {}
            except ValueError:
                document = {"code": f"not JSON: {text[:80]!r}"}
            code = str(document.get("code", ""))
            self.history[cmd.n].append(f"{status} {code}".strip())
            if 200 <= status < 300:
                if replayed == "true":
                    self.report.replayed += 1
                return "ack", document
            if status in (502, 503, 504) or code == "concurrent_update":
                continue
            if status >= 500:
                self._find("answers", "server_error", f"{status} {code}: {text[:200]!r}", cmd)
                continue
            return "refused", code or str(status)
        self._find("answers", "no_answer", f"no definitive answer after {HTTP_TRIES} tries", cmd)
        return "gave_up", None

    # --- faults -----------------------------------------------------------------------------

    def _inject(self, stack: Stack, fault: str) -> None:
        self.report.faults[fault] += 1
        if fault.startswith("kill_"):
            name = {"kill_server": "serve", "kill_projector": "project", "kill_relay": "relay"}
            stack.kill(name[fault])
            stack.start(name[fault])
        elif fault == "kafka_stop":
            try:
                _local("kafka", "stop")
                time.sleep(2)
            finally:
                _local("kafka", "start")
        elif fault == "pg_restart":
            try:
                _local("postgres", "stop")
            finally:
                _local("postgres", "start")
        else:
            _terminate_backends(stack.settings, refuse=fault == "refuse_connections")

    def _supervise(self, stack: Stack) -> None:
        """Start again what ended on its own, as a supervisor would. Ending while starting (the
        database refused it at that moment) is how ``ar`` reports an absent database; ending
        after it was up is a finding: a running process rides out a database outage."""
        for name, ran in stack.exited().items():
            if ran > STARTING_SECONDS:
                self._find(
                    "answers",
                    "process_exited",
                    f"ar {name} ended on its own after {ran:.0f} s: {stack.tail(name, 300)!r}",
                )
            else:
                self.report.faults[f"{name}_failed_to_start"] += 1
            stack.start(name)

    def _wait_caught_up(self, stack: Stack) -> None:
        reader = bootstrap(stack.settings)
        try:
            deadline = time.monotonic() + CATCH_UP_SECONDS
            while time.monotonic() < deadline:
                head = reader.app.recorder.max_notification_id() or 0
                projected = min(tracked_positions(reader.db).values(), default=0)
                relayed = relay_position(reader.db)
                if projected >= head and relayed >= head:
                    return
                self._supervise(stack)
                time.sleep(0.5)
        finally:
            reader.close()
        alive = {name: proc.poll() is None for name, proc in stack.procs.items()}
        self._find(
            "read_models",
            "not_caught_up",
            f"after {CATCH_UP_SECONDS:.0f} s: head {head}, projector at {projected}, relay at"
            f" {relayed}; running {alive}; project.log: {stack.tail('project')!r};"
            f" relay.log: {stack.tail('relay')!r}",
        )


def _terminate_backends(settings: Settings, *, refuse: bool) -> None:
    """Cut every connection to the scratch database (and, with ``refuse``, refuse new ones for
    a moment): what a PostgreSQL restart does to it, without touching anyone else's."""
    url = settings.database_url.get_secret_value()  # type: ignore[union-attr]
    name = url.rsplit("/", 1)[-1].split("?")[0]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if refuse:
            conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'",
                (name,),
            )
            if refuse:
                time.sleep(1.0)
        finally:
            if refuse:
                conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def _local(service: str, command: str) -> None:
    """Stop or start a service of ``deploy/local`` (shared with every test on the machine)."""
    subprocess.run(
        [str(REPO / f"deploy/local/{service}.sh"), command],
        check=True,
        capture_output=True,
        timeout=180,
    )
