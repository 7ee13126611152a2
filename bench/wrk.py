"""Driving `wrk` (Debian's package) and reading its report; used by bench/gateway.py and the
gateway's e2e tests."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: int  # connect + read + write + timeout
    output: str
    socket_errors_by_kind: str = ""  # wrk's own line, e.g. "connect 0, read 2, write 0, timeout 0"

    @property
    def failed(self) -> int:
        return self.non_2xx + self.socket_errors


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unknown wrk duration {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """wrk's report with `--latency`; its Non-2xx and Socket errors lines appear only when
    there are any."""
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests,
        rate,
        p50,
        p99,
        int(non_2xx.group(1)) if non_2xx else 0,
        sum(int(g) for g in errors.groups()) if errors else 0,
        output,
        errors.group(0).split(": ", 1)[1] if errors else "",
    )


def run_wrk(
    url: str,
    seconds: float,
    headers: dict[str, str] | None = None,
    threads: int = 2,
    connections: int = 16,
    timeout: float = 2.0,
) -> WrkResult:
    """`timeout`: a response slower than this counts as a socket error (wrk's default 2 s)."""
    binary = shutil.which("wrk")
    if binary is None:
        raise SystemExit("wrk is not installed: run `svcctl doctor --fix` (installs Debian's wrk)")
    cmd = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout:g}s",
        "--latency",
    ]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    proc = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()}")
    return parse_wrk(proc.stdout)
