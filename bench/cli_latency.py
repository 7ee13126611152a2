"""How instant a one-shot command feels: median wall time of `svcctl zk ls /services` against two
references measured in the same run, interleaved so that all three see the same machine load:

- a bare kazoo script doing the same (import, connect, list, close): the floor for a Python
  client; target svcctl <= 1.5x it;
- ZooKeeper's own `zkCli.sh ls /services` run in the zoo1 container: target svcctl >= 4x faster.

Uses the stack of the environment (SVCCTL_PROJECT, SVCCTL_ZK, SVCCTL_ZK_PORTS); the ensemble must
be up (`svcctl cluster up`). Usage: python bench/cli_latency.py [--runs N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

from svcctl.compose import container_prefix  # noqa: E402
from svcctl.config import Settings  # noqa: E402

SVCCTL = str(Path(sys.executable).with_name("svcctl"))
ZKCLI = "zkCli.sh"  # on PATH in our zookeeper image (/usr/local/bin → the Debian package's script)
PATH = "/services"
MAX_VS_KAZOO = 1.5
MIN_VS_ZKCLI = 4.0

BARE_KAZOO = """
import sys
from kazoo.client import KazooClient
client = KazooClient(hosts=sys.argv[1], timeout=10)
client.start(timeout=5)
print("\\n".join(sorted(client.get_children(sys.argv[2]))))
client.stop()
client.close()
"""


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - start, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    if shutil.which("docker") is None:
        print("docker CLI missing", file=sys.stderr)
        return 1
    settings = Settings()
    zoo1 = f"{container_prefix(settings.project)}zoo1"
    commands = {
        "svcctl zk ls": [SVCCTL, "zk", "ls", PATH],
        "bare kazoo script": [sys.executable, "-c", BARE_KAZOO, settings.zk, PATH],
        f"zkCli.sh ls (in {zoo1})": ["docker", "exec", zoo1, ZKCLI, "-server", "127.0.0.1:2181", "ls", PATH],
    }
    # Warm-up (page cache, .pyc) and a sanity check that all three answer.
    for name, cmd in commands.items():
        _, proc = timed(cmd)
        if proc.returncode != 0:
            print(f"{name} failed ({proc.returncode}):\n{proc.stdout[-500:]}{proc.stderr[-500:]}", file=sys.stderr)
            return 1
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so all three see the same machine load
        for name, cmd in commands.items():
            times[name].append(timed(cmd)[0])
    medians = {name: statistics.median(values) for name, values in times.items()}
    ours, bare, zkcli = medians.values()
    width = max(map(len, commands))
    for name, values in times.items():
        print(f"{name:<{width}}  median {medians[name] * 1000:7.1f} ms  (min {min(values) * 1000:.1f}, runs {args.runs})")
    vs_bare, vs_zkcli = ours / bare, zkcli / ours
    print(f"svcctl / bare kazoo: {vs_bare:.2f}x (target <= {MAX_VS_KAZOO}x: {'met' if vs_bare <= MAX_VS_KAZOO else 'MISSED'})")
    print(f"zkCli.sh / svcctl:   {vs_zkcli:.1f}x faster (target >= {MIN_VS_ZKCLI}x: {'met' if vs_zkcli >= MIN_VS_ZKCLI else 'MISSED'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
