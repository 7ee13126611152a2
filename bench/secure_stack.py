"""The secured twin of the bench's stack, for the `--secure` runs of the benchmarks: project
`<SVCCTL_PROJECT>-secure` on the ZooKeeper ports + 2000, brought up with `svcctl cluster up
--secure` (a no-op when it runs), so the open and the secured figures come from the same run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVCCTL = str(Path(sys.executable).with_name("svcctl"))


def secure_env() -> dict[str, str]:
    sys.path.insert(0, str(ROOT / "cli"))
    from svcctl.config.settings import DEFAULT_PROJECT, zk_ports_from_env

    project = os.environ.get("SVCCTL_PROJECT", DEFAULT_PROJECT)
    ports = [p + 2000 for p in zk_ports_from_env()]
    return {
        **os.environ,
        "SVCCTL_PROJECT": f"{project}-secure",
        "SVCCTL_ZK_PORTS": ",".join(map(str, ports)),
        "SVCCTL_ZK": ",".join(f"127.0.0.1:{p}" for p in ports),
        "SVCCTL_PROJECT_DIR": str(ROOT),
    }


def ensure_secure_cluster() -> dict[str, str]:
    """Bring the secured twin up (idempotent) and return the environment that addresses it."""
    env = secure_env()
    print(
        f"secured twin: project {env['SVCCTL_PROJECT']}, ZooKeeper {env['SVCCTL_ZK']} (svcctl cluster up --secure)",
        flush=True,
    )
    proc = subprocess.run(
        [SVCCTL, "cluster", "up", "--secure", "--timeout", "180"], env=env, capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        raise SystemExit(f"svcctl cluster up --secure failed:\n{proc.stderr}")
    return env


def secure_kazoo(env: dict[str, str]):
    """A started TLS client as the registrator identity: the benches create the service node they
    watch, with the registrators' ACL (all for them, read for anyone), so they can prune it."""
    from kazoo.client import KazooClient
    from kazoo.security import make_acl

    pki = ROOT / ".svcctl" / "pki"
    acl = [make_acl("x509", "CN=svcctl-registrator", all=True), make_acl("world", "anyone", read=True)]
    client = KazooClient(
        hosts=env["SVCCTL_ZK"],
        timeout=10,
        use_ssl=True,
        ca=str(pki / "ca.pem"),
        certfile=str(pki / "registrator" / "cert.pem"),
        keyfile=str(pki / "registrator" / "key.pem"),
        default_acl=acl,
    )
    client.start(timeout=15)
    return client
