import os
import subprocess
import sys
from pathlib import Path

import docker.errors
import kazoo.exceptions
import pytest
import requests.exceptions

from svcctl.errors import (
    EXIT_CODES,
    BadInputError,
    CheckFailedError,
    ConflictError,
    DockerUnavailableError,
    NotFoundError,
    SvcctlError,
    WaitTimeoutError,
    ZooKeeperUnavailableError,
    from_foreign,
)

SVCCTL = str(Path(sys.executable).with_name("svcctl"))


def test_each_error_has_its_own_exit_code():
    codes = [
        EXIT_CODES[c]
        for c in (
            SvcctlError,
            BadInputError,
            DockerUnavailableError,
            ZooKeeperUnavailableError,
            WaitTimeoutError,
            ConflictError,
            NotFoundError,
            CheckFailedError,
        )
    ]
    assert codes == [1, 2, 3, 4, 5, 6, 7, 8]


def test_one_line_names_cause_and_fix():
    assert ConflictError("port 2181 is in use", "free it").one_line() == "port 2181 is in use; fix: free it"


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["--zk", "bad host:1", "cluster", "status"], 2, "bad ZooKeeper address"),
        (["--zk", "h:99999", "cluster", "status"], 2, "port must be 1-65535"),
        (["--project-dir", "/nonexistent", "build"], 7, "not an svcctl project directory"),
        # Usage errors get the same one line (not Click's usage block).
        (["zk", "ls", "--bogus"], 2, "no such option: --bogus; fix: see `svcctl zk ls --help`"),
        (["nocmd"], 2, "no such command 'nocmd'"),
        (["call", "service_2", "--interval", "-1"], 2, "invalid value for '--interval'"),
        (["gateway", "--port", "70000"], 2, "invalid value for '--port'"),
        (["registrator", "run", "-ip", "a/b", "zookeeper://127.0.0.1:2181"], 2, "-ip 'a/b' is not an IP address"),
    ],
)
def test_cli_boundary_prints_one_line_and_exit_code(args, code, words):
    proc = subprocess.run([SVCCTL, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("svcctl: error: ") and words in lines[0]


def test_status_without_an_ensemble_reports_members_down():
    # Ports 1-3 on loopback: nothing listens there, so every member refuses at once.
    env = {**os.environ, "SVCCTL_PROJECT": "svcctl-nothing", "SVCCTL_ZK_PORTS": "1,2,3"}
    proc = subprocess.run([SVCCTL, "cluster", "status", "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 8  # status answers (mode down) and reports no quorum
    assert '"mode": "down"' in proc.stdout
    assert "Traceback" not in proc.stderr


def test_no_engine_is_one_line_exit_3(tmp_path):
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/no.sock"}
    proc = subprocess.run([SVCCTL, "build", "zookeeper"], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("svcctl: error: no Docker engine answers") and "doctor --fix" in proc.stderr


@pytest.mark.parametrize(
    "exc, kind, words",
    [
        (
            kazoo.exceptions.ConnectionLoss(),
            ZooKeeperUnavailableError,
            "lost the connection to ZooKeeper (ConnectionLoss)",
        ),
        (kazoo.exceptions.NoAuthError(), SvcctlError, "ZooKeeper refused the request: NoAuthError"),
        (docker.errors.APIError("500 Server Error: boom"), SvcctlError, "the Docker engine refused"),
        (requests.exceptions.ConnectionError("refused"), DockerUnavailableError, "lost the Docker engine"),
        (subprocess.TimeoutExpired(["docker", "info"], 10), WaitTimeoutError, "took too long"),
        (PermissionError(13, "Permission denied"), SvcctlError, "PermissionError"),
        (ValueError("boom"), SvcctlError, "unexpected ValueError: boom"),
    ],
)
def test_foreign_exceptions_become_one_line_domain_errors(exc, kind, words):
    # The real libraries' classes (imported here, as the command that raised would have).
    error = from_foreign(exc)
    assert type(error) is kind
    assert words in error.one_line() and "fix:" in error.one_line() and "\n" not in error.one_line()
