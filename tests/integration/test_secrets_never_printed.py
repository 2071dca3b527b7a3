"""No secret is ever printed: a database password stays out of every message and log line.

``ar`` runs in a subprocess with an ``AR_DATABASE_URL`` holding a recognisable password: several
malformed shapes, a well-formed address nobody listens on, and the real cluster with a wrong
password. Whatever goes wrong, the password is not on stdout or stderr, the command exits
non-zero without a traceback, and the message says what is wrong.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from services.logging import configure_logging, get_logger
from services.settings import LogFormat, Settings
from tests.conftest import REPO

# Short, with short addresses below: pydantic shortens a long input in its errors, which would
# hide the password by luck rather than by design.
PASSWORD = "s3cr3tZ9"


def _ar(database_url: str, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AR_")}
    env |= {
        "AR_DATABASE_URL": database_url,
        "AR_DATA_DIR": str(data_dir),
        "AR_DATABASE_TIMEOUT_SECONDS": "2",
    }
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("database_url", "says"),
    [
        (f"postgresql//ar:{PASSWORD}@127.0.0.1:5432/ar", "postgresql://"),
        (f"postgres-sql://ar:{PASSWORD}@127.0.0.1:5432/ar", "postgresql://"),
        (f"ar:{PASSWORD}@127.0.0.1:5432/ar", "postgresql://"),
        (f"postgresql://ar:{PASSWORD}/x@127.0.0.1:5432/ar", "port"),
        (f"postgresql://ar:{PASSWORD}@127.0.0.1:port/ar", "port"),
        (f"postgresql://ar:{PASSWORD}@127.0.0.1:99999/ar", "port"),
        (f"postgresql://ar:{PASSWORD}@[127.0.0.1/ar", "AR_DATABASE_URL"),
        (f"postgresql://ar:%zz{PASSWORD}@127.0.0.1:5432/ar", "%25"),
        (f"postgresql://ar:{PASSWORD}@127.0.0.1:1/ar", "127.0.0.1:1"),
    ],
    ids=[
        "no-colon",
        "wrong-scheme",
        "no-scheme",
        "slash-in-password",
        "port-not-a-number",
        "port-out-of-range",
        "unclosed-bracket",
        "bad-percent-escape",
        "nobody-listening",
    ],
)
@pytest.mark.parametrize("command", [["keys", "list", "--tenant", "t"], ["serve"]])
def test_a_bad_database_url_is_explained_without_its_password(
    database_url: str, says: str, command: list[str], tmp_path: Path
) -> None:
    done = _ar(database_url, tmp_path, *command)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert PASSWORD not in output
    assert "Traceback" not in output, output
    assert says in output, output


def test_a_wrong_password_is_named_as_the_problem_and_never_printed(
    postgres_url: str, tmp_path: Path
) -> None:
    real = urlsplit(postgres_url)
    wrong = real._replace(netloc=f"{real.username}:{PASSWORD}@{real.hostname}:{real.port}")
    done = _ar(wrong.geturl(), tmp_path, "keys", "list", "--tenant", "t")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert PASSWORD not in output
    assert "Traceback" not in output, output
    assert "password authentication failed" in output, output


@pytest.mark.parametrize("log_format", [LogFormat.json, LogFormat.console])
def test_log_lines_redact_passwords_in_messages_values_and_tracebacks(
    log_format: LogFormat, tmp_path: Path
) -> None:
    stream = io.StringIO()
    configure_logging(Settings(data_dir=tmp_path, log_format=log_format), stream=stream)
    log = get_logger("test.secrets")
    url = f"postgresql://ar:{PASSWORD}@127.0.0.1:5432/ar"
    log.warning(f"connecting to {url}", conninfo=f"host=h user=u password={PASSWORD} dbname=d")
    log.warning("settings", env={"POSTGRES_PASSWORD": PASSWORD})
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        log.exception("failed")
    logging.getLogger("uvicorn.error").error("uvicorn says %s", url)
    printed = stream.getvalue()
    assert PASSWORD not in printed
    assert "cannot reach postgresql://ar:***@127.0.0.1" in printed
    assert "uvicorn says" in printed
