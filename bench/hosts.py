"""The cluster over simulated Docker hosts, timed (not a test: it prints numbers and ratios).

1. `svcctl hosts up 3` (engines in containers, contexts, the images loaded) and
   `svcctl cluster up --hosts` to quorum, each timed from the command's start to its exit.
2. Registration latency on host 2 (the engine's `start` event -> the znode, through that host's
   registrator and the ensemble spread over the three hosts) beside the same figure on this
   machine's engine with the local ensemble, measured in the same run: p99 and their ratio.

The local reference needs the local cluster up (`svcctl cluster up`, SVCCTL_PROJECT/SVCCTL_ZK as
for bench/registration.py). The hosts run in a project of their own, `<SVCCTL_PROJECT>-bench`,
removed at the end unless --keep.

Usage: SVCCTL_PROJECT=... SVCCTL_ZK=... python bench/hosts.py [--containers 30] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from registration import latency_run, percentile, stack_project, warm_up  # noqa: E402

from testbed.tiny import LABEL, TINY_TAG, build_tiny, remove_all  # noqa: E402

SVCCTL = str(Path(sys.executable).with_name("svcctl"))
HOST_IMAGES = "zookeeper,registrator"


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.monotonic()
    proc = subprocess.run([SVCCTL, *args], capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"svcctl {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return seconds, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--containers", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="leave the hosts and their cluster running")
    args = parser.parse_args()

    import docker
    from kazoo.client import KazooClient

    from svcctl.config.engines import context_endpoint
    from svcctl.config.settings import DEFAULT_PROJECT, default_zk_connect, parse_zk_hosts
    from svcctl.docker.engine import client_for
    from svcctl.zk.client import zk_session

    project = f"{os.environ.get('SVCCTL_PROJECT', DEFAULT_PROJECT)}-bench"
    env = {**os.environ, "SVCCTL_PROJECT": project}
    env.pop("SVCCTL_ZK", None)  # the hosts' commands find their members in the recorded layout
    local = docker.from_env(timeout=120)
    build_tiny(local)
    local_zk = KazooClient(hosts=os.environ.get("SVCCTL_ZK") or default_zk_connect(), timeout=10)
    local_zk.start(timeout=15)
    owner = f"bench-{uuid.uuid4().hex[:6]}"
    print(
        f"engine {local.version()['Version']}, {os.cpu_count()} cores, hosts project {project}, label {LABEL}={owner}"
    )
    try:
        up_s, out = timed(["hosts", "up", "3", "--images", HOST_IMAGES, "--json"], env)
        hosts = json.loads(out)
        print(f"hosts up 3 (engines, contexts, images {HOST_IMAGES}): {up_s:.1f} s")
        contexts = [h["name"] for h in hosts]
        cluster_s, _ = timed(["cluster", "up", "--hosts", ",".join(contexts), "--timeout", "300"], env)
        print(f"cluster up --hosts to quorum: {cluster_s:.1f} s")

        host2 = hosts[1]
        remote = client_for(context_endpoint(host2["name"], os.environ), timeout=120)
        saved = subprocess.run(["docker", "save", TINY_TAG], capture_output=True, check=True).stdout
        remote.images.load(saved)
        try:
            with zk_session(
                parse_zk_hosts(",".join(f"{h['address']}:2181" for h in hosts)), connect_timeout=30
            ) as hosts_zk:
                local_project, hosts_project = stack_project(), stack_project(project)
                warm_up(local, local_zk, owner, project=local_project)
                warm_up(remote, hosts_zk, owner, project=hosts_project)
                local_up, _ = latency_run(
                    local, local_zk, args.containers, owner, label="local engine: ", project=local_project
                )
                remote_up, _ = latency_run(
                    remote,
                    hosts_zk,
                    args.containers,
                    owner,
                    address=host2["address"],
                    label=f"{host2['name']}: ",
                    project=hosts_project,
                )
        finally:
            remove_all(remote, owner)
        local_p99, remote_p99 = percentile(local_up, 99), percentile(remote_up, 99)
        print(
            f"registration p99 (start event -> znode): host {remote_p99:.1f} ms vs local {local_p99:.1f} ms "
            f"| ratio host/local = {remote_p99 / local_p99:.2f}"
        )
    finally:
        remove_all(local, owner)
        local_zk.stop()
        local_zk.close()
        if not args.keep:
            subprocess.run([SVCCTL, "cluster", "down", "--volumes"], env=env)
            subprocess.run([SVCCTL, "hosts", "down"], env=env)


if __name__ == "__main__":
    main()
