"""Helpers shared by the tests. End-to-end tests run the real engine, Compose and a real 3-node ensemble in
a project of their own (SVCCTL_TEST_PROJECT, ports SVCCTL_TEST_ZK_PORTS), so they never touch a
user's `svcctl` stack. In CI (CI=true) a missing engine fails the run instead of skipping."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVCCTL = str(Path(sys.executable).with_name("svcctl"))
TEST_PROJECT = os.environ.get("SVCCTL_TEST_PROJECT", "svcctl-test")
TEST_ZK_PORTS = os.environ.get("SVCCTL_TEST_ZK_PORTS", "12181,12182,12183")
TEST_ZK = ",".join(f"127.0.0.1:{p}" for p in TEST_ZK_PORTS.split(","))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PASSED_THROUGH = (
    "SVCCTL_REGISTRATOR_IMAGE",
    "SVCCTL_GATEWAY_IMAGE",
    "SVCCTL_DIND_IMAGE",
    "SVCCTL_ZK_IMAGE",
    "SVCCTL_DOCKER_PROXY_IMAGE",
    "SVCCTL_PROMETHEUS_IMAGE",
)


def stable_port_pair(name: str, base: int, span: int = 5000) -> int:
    """The first of two adjacent ports derived from `name`, so that two checkouts testing on one
    machine do not collide and a re-run finds the same ports. Callers keep `base + 2 * span` at or
    below 32768: Linux hands out ports from 32768 up to outgoing connections, and a fixed port in
    that range is sometimes taken by one (a CI run failed on exactly that)."""
    return base + zlib.crc32(name.encode()) % span * 2


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 right now (the kernel's choice)."""
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


# The test gateway's port and stats port (20000-29998).
GATEWAY_PORT = stable_port_pair(TEST_PROJECT, 20000)
GATEWAY_STATS_PORT = GATEWAY_PORT + 1
# A failover's bound is the session timeout plus ZooKeeper's 2 s tick. An e2e run on a loaded
# machine adds scheduling delay to every step it times, so a test asserts the mechanism (the
# session expiry, not a later resync or nothing) with this much more; the figures themselves are
# the benchmarks' (bench/failover.py, bench/hosts.py).
LOADED_MACHINE_SLACK_S = 5.0


def fake_checkout(root: Path) -> Path:
    """A minimal svcctl checkout under `root` (what find_project_dir and state_dir recognise)."""
    (root / "compose").mkdir(parents=True)
    (root / "compose" / "zookeeper.yml").write_text("services: {}\n")
    (root / "cli" / "svcctl").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'svcctl'\n")
    return root


def unique(prefix: str = "e2e") -> str:
    """A name no other test run uses, so tests never see each other's nodes or containers."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0, interval: float = 0.1) -> object:
    """Poll until `condition()` is truthy and return its value; fail naming `what` otherwise."""
    from svcctl.wait import poll_until

    value = poll_until(condition, bool, time.monotonic() + timeout, interval)
    if not value:
        raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
    return value


def svcctl_env(**extra: str) -> dict[str, str]:
    # The image tags pass through: a second checkout testing on the same engine builds and runs
    # its own images (registrator, gateway, simulated hosts, zookeeper, docker-proxy).
    env = {k: v for k, v in os.environ.items() if not k.startswith("SVCCTL_") or k in PASSED_THROUGH}
    env.update(
        SVCCTL_PROJECT=TEST_PROJECT,
        SVCCTL_ZK_PORTS=TEST_ZK_PORTS,
        SVCCTL_ZK=TEST_ZK,
        SVCCTL_PROJECT_DIR=str(ROOT),
    )
    env.update(extra)
    return env


def run_svcctl(
    *args: str, check: bool = True, timeout: float = 600, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `svcctl` console script as a user would."""
    proc = subprocess.run(
        [SVCCTL, *args], capture_output=True, text=True, timeout=timeout, env=env or svcctl_env(), input=input
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"svcctl {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def run_json(*args: str, **kwargs) -> object:
    return json.loads(run_svcctl(*args, "--json", **kwargs).stdout)


# --- the simulated hosts (tests/e2e/test_hosts.py) ------------------------------------------------

HOSTS_PROJECT = f"{TEST_PROJECT}-hosts"
HOSTS_IMAGES = (
    "zookeeper,registrator,java_service_1,php_service_2,docker-proxy"  # what the hosts tests run: loaded once per run
)


def hosts_env(**extra: str) -> dict[str, str]:
    """The hosts project's environment, without SVCCTL_ZK: its commands find the members in the
    layout `cluster up --hosts` records."""
    env = svcctl_env(SVCCTL_PROJECT=HOSTS_PROJECT, **extra)
    env.pop("SVCCTL_ZK", None)
    return env


class HostsCluster:
    """The hosts as `hosts up --json` described them: name (= Docker context), address, engine."""

    def __init__(self, env: dict[str, str], hosts: list[dict]) -> None:
        self.env = env
        self.hosts = hosts
        self.names = [h["name"] for h in hosts]
        self.addresses = {h["name"]: h["address"] for h in hosts}
        self.engines = {h["name"]: h["engine"] for h in hosts}
        self.zk = ",".join(f"{h['address']}:2181" for h in hosts)


@contextmanager
def svcctl_server(args: list[str], ready_url: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """`svcctl ARGS` in the background (a server: `ui`, a foreground gateway) until `ready_url`
    answers 200; stopped (SIGTERM, then SIGKILL after 20 s) when the block ends."""
    from svcctl.net import answers_ok

    proc = subprocess.Popen(
        [SVCCTL, *args], env=env or svcctl_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        wait_for(lambda: answers_ok(ready_url) or proc.poll() is not None, f"svcctl {args[0]} to answer", timeout=60)
        assert proc.poll() is None, f"svcctl {' '.join(args)} exited {proc.returncode}:\n{proc.stdout.read()}"
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
