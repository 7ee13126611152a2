"""Median wall time of `svcctl zk ls /services` against ZooKeeper's own `zkCli.sh ls /services`
run inside a zookeeper container, in the same run. Targets: svcctl ≤ 0.2 s and ≥ 3× faster.

Uses the stack of the environment (SVCCTL_PROJECT, SVCCTL_ZK, SVCCTL_ZK_PORTS); the ensemble must
be up (`svcctl cluster up`). --secure: also the one-shot `svcctl zk ls /services` on the secured
twin (bench/secure_stack.py; TLS handshake and client certificate included), interleaved with the
open one; target: within 1.5x of the open figure.
Usage: python bench/cli_latency.py [--runs N] [--secure]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svcctl.compose import container_prefix  # noqa: E402
from svcctl.config import DEFAULT_PROJECT  # noqa: E402

SVCCTL = str(Path(sys.executable).with_name("svcctl"))
ZKCLI = "zkCli.sh"  # on PATH in our zookeeper image (/usr/local/bin → the Debian package's script)


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    return time.perf_counter() - start, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--secure", action="store_true", help="also on the secured twin (TLS+ACL), beside the open figure")
    args = parser.parse_args()
    project = os.environ.get("SVCCTL_PROJECT", DEFAULT_PROJECT)
    zoo1 = f"{container_prefix(project)}zoo1"
    ours_cmd = [SVCCTL, "zk", "ls", "/services"]
    theirs_cmd = ["docker", "exec", zoo1, ZKCLI, "-server", "127.0.0.1:2181", "ls", "/services"]
    if shutil.which("docker") is None:
        print("docker CLI missing", file=sys.stderr)
        return 1
    # Warm-up (page cache, .pyc) and a sanity check that both answer the same listing.
    _, ours = timed(ours_cmd)
    _, theirs = timed(theirs_cmd)
    if ours.returncode != 0 or theirs.returncode != 0:
        print(f"a command failed:\n{ours.stderr}\n{theirs.stdout[-500:]}{theirs.stderr[-500:]}", file=sys.stderr)
        return 1
    ours_times, theirs_times = [], []
    for _ in range(args.runs):  # interleaved, so both see the same machine load
        ours_times.append(timed(ours_cmd)[0])
        theirs_times.append(timed(theirs_cmd)[0])
    m_ours, m_theirs = statistics.median(ours_times), statistics.median(theirs_times)
    ratio = m_theirs / m_ours
    print(f"children of /services: {ours.stdout.split()}")
    print(f"svcctl zk ls /services          median {m_ours * 1000:7.1f} ms  (min {min(ours_times) * 1000:.1f}, runs {args.runs})")
    print(f"zkCli.sh ls /services (in {zoo1}) median {m_theirs * 1000:7.1f} ms  (min {min(theirs_times) * 1000:.1f}, runs {args.runs})")
    print(f"ratio: svcctl is {ratio:.1f}x faster; targets: <= 200 ms {'met' if m_ours <= 0.2 else 'MISSED'}, "
          f">= 3x {'met' if ratio >= 3 else 'MISSED'}")
    if args.secure:
        return secure_latency(ours_cmd, args.runs)
    return 0


TARGET_SECURE_RATIO = 1.5


def secure_latency(cmd: list[str], runs: int) -> int:
    from bench.secure_stack import ensure_secure_cluster

    env = ensure_secure_cluster()
    _, warm = timed(cmd, env)
    if warm.returncode != 0:
        print(f"svcctl zk ls on the secured twin failed:\n{warm.stderr}", file=sys.stderr)
        return 1
    open_times, secure_times = [], []
    for _ in range(runs):  # interleaved, so both see the same machine load
        open_times.append(timed(cmd, None)[0])
        secure_times.append(timed(cmd, env)[0])
    m_open, m_secure = statistics.median(open_times), statistics.median(secure_times)
    ratio = m_secure / m_open
    print(f"svcctl zk ls /services, open     median {m_open * 1000:7.1f} ms  (min {min(open_times) * 1000:.1f}, runs {runs})")
    print(f"svcctl zk ls /services, TLS+ACL  median {m_secure * 1000:7.1f} ms  (min {min(secure_times) * 1000:.1f}, runs {runs}; "
          f"TLS handshake, client certificate)")
    print(f"ratio TLS+ACL / open: {ratio:.2f}x; target <= {TARGET_SECURE_RATIO}x {'met' if ratio <= TARGET_SECURE_RATIO else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
