"""The foundation end to end: images, `cluster up` with quorum, idempotence, leader failover,
port conflicts and `cluster down` — in a project of its own so it can take its ensemble down."""

from __future__ import annotations

import io
import json
import socket

from svcctl.config.settings import registrator_image
from tests.support import ROOT, TEST_PROJECT, TEST_ZK_PORTS, free_ports, run_svcctl, svcctl_env, wait_for

# Derived from the test project's, so two checkouts testing on one engine never collide.
PROJECT = f"{TEST_PROJECT}-lifecycle"
PORTS = tuple(int(p) + 3000 for p in TEST_ZK_PORTS.split(","))  # 15181-15183 by default
# The project's own tag of the registrator image, so the test can "rebuild" it.
REGISTRATOR_IMAGE = f"{PROJECT}/registrator:e2e"
ENV = svcctl_env(
    SVCCTL_PROJECT=PROJECT,
    SVCCTL_ZK_PORTS=",".join(map(str, PORTS)),
    SVCCTL_ZK=",".join(f"127.0.0.1:{p}" for p in PORTS),
    SVCCTL_REGISTRATOR_IMAGE=REGISTRATOR_IMAGE,
)


def build_registrator_variant(engine, variant: str) -> str:
    """A new image id under REGISTRATOR_IMAGE, as a rebuild of the registrator would give."""
    dockerfile = f"FROM {registrator_image()}\nLABEL io.svcctl.e2e.variant={variant}\n".encode()
    image, _ = engine.images.build(fileobj=io.BytesIO(dockerfile), tag=REGISTRATOR_IMAGE, rm=True)
    return image.id


def members(data) -> list[dict]:
    return data["members"] if isinstance(data, dict) else data


def status(env=ENV) -> list[dict]:
    proc = run_svcctl("cluster", "status", "--json", env=env, check=False)
    return members(json.loads(proc.stdout))


def modes(nodes: list[dict]) -> dict[str, str]:
    return {n["container"]: n["mode"] for n in nodes}


def project_containers(engine, project: str):
    return engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})


def project_volumes(engine, project: str):
    return engine.volumes.list(filters={"label": f"com.docker.compose.project={project}"})


def test_build_is_a_cache_hit_the_second_time(images):
    results = json.loads(run_svcctl("build", "zookeeper", "--json").stdout)
    assert results[0]["name"] == "zookeeper" and results[0]["cached"] is True
    assert results[0]["size_bytes"] > 0


def test_cluster_lifecycle(engine, images):
    built = [build_registrator_variant(engine, "1")]
    try:
        nodes = members(json.loads(run_svcctl("cluster", "up", "--json", "--timeout", "180", env=ENV).stdout))
        assert sorted(n["mode"] for n in nodes) == ["follower", "follower", "leader"]
        assert [n["member"] for n in nodes] == [f"127.0.0.1:{p}" for p in PORTS]
        assert all(n["state"] == "running" and n["zxid"].startswith("0x") for n in nodes)

        # Every client port is published on loopback only.
        for container in project_containers(engine, PROJECT):
            for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
                assert all(b["HostIp"] == "127.0.0.1" for b in bindings or [])

        # `cluster up` twice is harmless: exit 0 and nothing restarted.
        started = {c.name: c.attrs["State"]["StartedAt"] for c in project_containers(engine, PROJECT)}
        run_svcctl("cluster", "up", env=ENV)
        again = {c.name: c.attrs["State"]["StartedAt"] for c in project_containers(engine, PROJECT)}
        assert again == started

        # A rebuilt image: `cluster up` recreates the containers running the old one (here the
        # registrators), like `docker compose up`, and leaves the members running.
        new_image = build_registrator_variant(engine, "2")
        built.append(new_image)
        proc = run_svcctl("cluster", "up", env=ENV)
        assert "recreated" in proc.stderr and "registrator1" in proc.stderr
        after = {c.name: c for c in project_containers(engine, PROJECT)}
        registrators = [name for name in after if "registrator" in name]
        assert len(registrators) == 3
        assert all(after[name].image.id == new_image for name in registrators)
        assert all(
            after[name].attrs["State"]["StartedAt"] == started[name] for name in after if name not in registrators
        )

        # Kill the leader: the two others elect a new one and `status` shows it.
        leader = next(n["container"] for n in nodes if n["mode"] == "leader")
        engine.containers.get(leader).kill()
        seen: dict[str, str] = {}

        def new_leader() -> str | None:
            seen.update(modes(status()))
            return next((name for name, mode in seen.items() if mode == "leader" and name != leader), None)

        elected = wait_for(new_leader, f"a new leader after killing {leader} (modes: {seen})", timeout=90, interval=0.5)
        assert seen[elected] == "leader" and seen[leader] != "leader"

        # The killed member comes back (restart policy or `cluster up`) and rejoins as follower.
        run_svcctl("cluster", "up", "--timeout", "180", env=ENV)
        assert sorted(modes(status()).values()) == ["follower", "follower", "leader"]
        text = run_svcctl("cluster", "status", env=ENV).stdout
        assert "leader" in text and text.count("follower") == 2

        # down keeps the data volumes; down --volumes removes them.
        run_svcctl("cluster", "down", env=ENV)
        assert not project_containers(engine, PROJECT)
        assert len(project_volumes(engine, PROJECT)) == 6
    finally:
        run_svcctl("cluster", "down", "--volumes", env=ENV, check=False)
        for image_id in built:  # the first one is untagged by now: remove it by id
            engine.images.remove(image_id, force=True)
    assert not project_volumes(engine, PROJECT)


def test_port_in_use_is_refused_before_anything_starts(engine, images):
    ports = tuple(p + 100 for p in PORTS)
    env = svcctl_env(
        SVCCTL_PROJECT=f"{TEST_PROJECT}-portbusy",
        SVCCTL_ZK_PORTS=",".join(map(str, ports)),
        SVCCTL_ZK=",".join(f"127.0.0.1:{p}" for p in ports),
    )
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", ports[1]))
        squatter.listen()
        try:
            proc = run_svcctl("cluster", "up", env=env, check=False)
            assert proc.returncode == 6, proc.stderr
            assert "Traceback" not in proc.stderr
            assert f"port {ports[1]} on 127.0.0.1 is in use" in proc.stderr.splitlines()[0]
            assert not project_containers(engine, f"{TEST_PROJECT}-portbusy")
        finally:
            run_svcctl("cluster", "down", "--volumes", env=env, check=False)


def test_cluster_up_before_build_names_the_missing_images_and_creates_nothing(engine):
    """`cluster up` with an image not built: one line naming each missing image and the build
    that makes it, exit 7, and nothing of the project on the engine (Compose would have made
    the network and six volumes before failing on the pull)."""
    project = f"{TEST_PROJECT}-nobuild"
    ports = free_ports(3)
    env = svcctl_env(
        SVCCTL_PROJECT=project,
        SVCCTL_ZK_PORTS=",".join(map(str, ports)),
        SVCCTL_ZK=",".join(f"127.0.0.1:{p}" for p in ports),
        SVCCTL_ZK_IMAGE="svcctl-test/never-built-zookeeper:0",
    )
    try:
        proc = run_svcctl("cluster", "up", env=env, check=False)
        assert proc.returncode == 7, proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        assert "image not built: zookeeper (svcctl-test/never-built-zookeeper:0)" in proc.stderr
        assert "`svcctl build zookeeper`" in proc.stderr
        assert not project_containers(engine, project)
        assert not project_volumes(engine, project)
        assert not engine.networks.list(filters={"label": f"com.docker.compose.project={project}"})
        assert not (ROOT / ".svcctl" / "clusters" / f"{project}.mode").exists()  # no mode recorded either
    finally:
        run_svcctl("cluster", "down", "--volumes", env=env, check=False)


def test_status_of_a_project_whose_members_do_not_answer():
    # cluster commands check the project's own members (SVCCTL_ZK_PORTS), whatever --zk says:
    # a project of its own on ports nothing listens on, so the test holds in any order.
    ports = free_ports(3)
    env = svcctl_env(
        SVCCTL_PROJECT=f"{TEST_PROJECT}-absent",
        SVCCTL_ZK_PORTS=",".join(map(str, ports)),
        SVCCTL_ZK=",".join(f"127.0.0.1:{p}" for p in ports),
    )
    proc = run_svcctl("cluster", "status", "--json", env=env, check=False)
    assert proc.returncode == 8, proc.stderr
    nodes = members(json.loads(proc.stdout))
    assert [n["member"] for n in nodes] == [f"127.0.0.1:{p}" for p in ports]
    assert {(n["mode"], n["state"]) for n in nodes} == {("down", "absent")}
    assert "no quorum" in proc.stderr
