"""What an operator types first: -h anywhere, --version."""

from __future__ import annotations

import subprocess

from svcctl import __version__
from tests.support import SVCCTL


def svcctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SVCCTL, *args], capture_output=True, text=True, timeout=60)


def test_dash_h_is_help_at_every_level():
    for args in (("-h",), ("cluster", "-h"), ("cluster", "up", "-h"), ("zk", "ls", "-h")):
        proc = svcctl(*args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert proc.stdout.startswith("Usage: svcctl"), args
        assert proc.stdout == svcctl(*args[:-1], "--help").stdout


def test_version_flag_prints_the_version_and_nothing_else():
    proc = svcctl("--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{__version__}\n", "")
    # Eager: printed before the settings are read, so a broken environment does not hide it.
    broken = subprocess.run(
        [SVCCTL, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"SVCCTL_PROJECT": "Not Valid", "PATH": ""},
    )
    assert (broken.returncode, broken.stdout) == (0, f"{__version__}\n")
