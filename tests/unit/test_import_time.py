"""One-shot commands start instantly: `svcctl --help` and the zk, discover and call paths never
import docker, python_on_whales or pydantic (typer >= 0.29 and python-on-whales would bring it),
nor a command module other than their own (the root group loads them lazily)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("docker", "python_on_whales", "pydantic", "pydantic_core")
COMMAND_MODULES = (
    "build",
    "cluster",
    "completion",
    "demo",
    "discover",
    "doctor",
    "logs",
    "registrator",
    "scenario",
    "services",
    "zk",
)

# Run the real CLI in-process in a child interpreter, then report which modules got loaded.
PROBE = """
import sys
sys.argv = ["svcctl", *{args!r}]
from svcctl.cli.main import main
try:
    main()
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
commands = sorted(
    m.rsplit(".", 1)[1]
    for m in sys.modules
    if m.rsplit(".", 1)[0] == "svcctl.cli" and m.rsplit(".", 1)[1] in {modules!r}
)
print("HEAVY=" + ",".join(loaded))
print("COMMANDS=" + ",".join(commands))
"""

# No ensemble answers at this address: each command fails fast, after the imports it needs.
NOWHERE = ["--zk", "127.0.0.1:9"]


@pytest.mark.parametrize(
    "args, own_module",
    [
        (["--help"], ""),
        (["version"], ""),
        (["zk", "--help"], "zk"),
        (["zk", "ls", "--help"], "zk"),
        ([*NOWHERE, "zk", "ls", "/services"], "zk"),
        ([*NOWHERE, "zk", "tree", "/"], "zk"),
        ([*NOWHERE, "zk", "get", "/services"], "zk"),
        ([*NOWHERE, "discover"], "discover"),
        ([*NOWHERE, "call", "service_1", "-n", "1"], "discover"),
    ],
)
def test_one_shot_paths_stay_light(args, own_module):
    code = PROBE.format(args=args, heavy=HEAVY, modules=COMMAND_MODULES)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    lines = dict(line.split("=", 1) for line in proc.stdout.splitlines() if line.startswith(("HEAVY=", "COMMANDS=")))
    assert "HEAVY" in lines, proc.stdout + proc.stderr
    assert lines["HEAVY"] == "", f"svcctl {' '.join(args)} imported {lines['HEAVY']}"
    assert lines["COMMANDS"] == own_module, f"svcctl {' '.join(args)} loaded command modules {lines['COMMANDS']!r}"
    if args[:1] == NOWHERE[:1]:
        assert "ZooKeeper" in proc.stderr and "127.0.0.1:9" in proc.stderr, proc.stderr
