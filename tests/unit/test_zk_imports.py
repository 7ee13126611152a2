"""`svcctl zk …` and `svcctl --help` stay fast: they never import docker or python_on_whales."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("docker", "python_on_whales")

# Run the real CLI in-process in a child interpreter, then report which modules got loaded.
PROBE = """
import sys
sys.argv = ["svcctl", *{args!r}]
from svcctl.cli.main import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize("args", [
    ["--help"],
    ["zk", "--help"],
    ["zk", "ls", "--help"],
    # A real zk command path (no ensemble at this address: it fails fast, after the imports it needs).
    ["--zk", "127.0.0.1:9", "zk", "ls", "/services"],
    ["--zk", "127.0.0.1:9", "zk", "tree", "/"],
])
def test_zk_commands_do_not_import_docker(args):
    code = PROBE.format(args=args, heavy=HEAVY)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    line = [l for l in proc.stdout.splitlines() if l.startswith("HEAVY=")]
    assert line, proc.stdout + proc.stderr
    assert line[-1] == "HEAVY=", f"svcctl {' '.join(args)} imported {line[-1][6:]}"
    if args[-1] == "/services" or args[-1] == "/":
        assert "no ZooKeeper member answers" in proc.stderr
