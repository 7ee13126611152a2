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
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from svcctl.config.settings import Settings
from svcctl.ensemble.project import container_prefix

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


class Run:
    """One run of a command: wall time, and CPU time (user + sys of the process and its
    children) which a shared, loaded machine disturbs far less."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        start = time.perf_counter()
        stdout, stderr = proc.communicate(timeout=120)
        self.wall = time.perf_counter() - start
        self.returncode, self.stdout, self.stderr = proc.returncode, stdout, stderr
        # communicate() reaped it: its rusage is in RUSAGE_CHILDREN, read as a difference.


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, Run]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = Run(cmd, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return run.wall, cpu, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument(
        "--secure", action="store_true", help="also the one-shot on the secured twin (TLS+ACL), beside the open figure"
    )
    args = parser.parse_args()
    if shutil.which("docker") is None:
        print("docker CLI missing", file=sys.stderr)
        return 1
    settings = Settings.from_environ(os.environ)
    zoo1 = f"{container_prefix(settings.project)}zoo1"
    commands = {
        "svcctl zk ls": [SVCCTL, "zk", "ls", PATH],
        "bare kazoo script": [sys.executable, "-c", BARE_KAZOO, settings.zk, PATH],
        f"zkCli.sh ls (in {zoo1})": ["docker", "exec", zoo1, ZKCLI, "-server", "127.0.0.1:2181", "ls", PATH],
    }
    # Warm-up (page cache, .pyc) and a sanity check that all three answer.
    for name, cmd in commands.items():
        _, _, run = timed(cmd)
        if run.returncode != 0:
            print(f"{name} failed ({run.returncode}):\n{run.stdout[-500:]}{run.stderr[-500:]}", file=sys.stderr)
            return 1
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):  # interleaved, so all three see the same machine load
        for name, cmd in commands.items():
            wall, cpu, _ = timed(cmd)
            walls[name].append(wall)
            cpus[name].append(cpu)
    wall_med = {name: statistics.median(values) for name, values in walls.items()}
    cpu_med = {name: statistics.median(values) for name, values in cpus.items()}
    width = max(map(len, commands))
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; {args.runs} runs each, interleaved "
        "(CPU: user + sys of the process, which a loaded machine disturbs less)"
    )
    for name in commands:
        print(
            f"{name:<{width}}  wall median {wall_med[name] * 1000:7.1f} ms (min {min(walls[name]) * 1000:6.1f})"
            f"   CPU median {cpu_med[name] * 1000:7.1f} ms"
        )
    ours, bare, zkcli = commands
    vs_bare, vs_zkcli = wall_med[ours] / wall_med[bare], wall_med[zkcli] / wall_med[ours]
    cpu_vs_bare = cpu_med[ours] / cpu_med[bare]
    print(
        f"svcctl / bare kazoo: wall {vs_bare:.2f}x, CPU {cpu_vs_bare:.2f}x (target <= {MAX_VS_KAZOO}x: "
        f"{'met' if vs_bare <= MAX_VS_KAZOO else 'MISSED'} by wall)"
    )
    # zkCli.sh's JVM runs in the container, not as our child: only wall time compares.
    print(
        f"zkCli.sh / svcctl:   wall {vs_zkcli:.1f}x faster (target >= {MIN_VS_ZKCLI}x: "
        f"{'met' if vs_zkcli >= MIN_VS_ZKCLI else 'MISSED'})"
    )
    if args.secure:
        return secure_latency(commands["svcctl zk ls"], args.runs)
    return 0


TARGET_SECURE_RATIO = 1.5


def secure_latency(cmd: list[str], runs: int) -> int:
    """The one-shot on the secured twin (TLS handshake, client certificate) interleaved with
    the open one: target within TARGET_SECURE_RATIO of it."""
    from bench.secure_stack import ensure_secure_cluster

    env = ensure_secure_cluster()
    _, _, warm = timed(cmd, env)
    if warm.returncode != 0:
        print(f"svcctl zk ls on the secured twin failed:\n{warm.stderr}", file=sys.stderr)
        return 1
    walls: dict[str, list[float]] = {"open": [], "TLS+ACL": []}
    cpus: dict[str, list[float]] = {"open": [], "TLS+ACL": []}
    for _ in range(runs):  # interleaved, so both see the same machine load
        for name, run_env in (("open", None), ("TLS+ACL", env)):
            wall, cpu, _ = timed(cmd, run_env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    for name in walls:
        print(
            f"svcctl zk ls, {name:<8} wall median {statistics.median(walls[name]) * 1000:7.1f} ms   CPU median "
            f"{statistics.median(cpus[name]) * 1000:7.1f} ms"
        )
    ratio = statistics.median(walls["TLS+ACL"]) / statistics.median(walls["open"])
    cpu_ratio = statistics.median(cpus["TLS+ACL"]) / statistics.median(cpus["open"])
    print(
        f"TLS+ACL / open: wall {ratio:.2f}x, CPU {cpu_ratio:.2f}x (target <= {TARGET_SECURE_RATIO}x: "
        f"{'met' if ratio <= TARGET_SECURE_RATIO else 'MISSED'} by wall)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
