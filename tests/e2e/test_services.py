"""`svcctl up|scale|stop|ps` against the real engine, Compose and ensemble (with its registrators):
every assertion compares ZooKeeper's real state with Docker's real port mappings."""

from __future__ import annotations

from tests.e2e.helpers_services import (
    answers_through_zookeeper,
    docker_endpoints,
    payload,
    wait_for,
    zk_children,
    zk_matches_docker,
)
from tests.support import run_json, run_svcctl


def test_unknown_service_and_negative_scale_are_refused():
    for args in (("up", "service_9"), ("stop", "nope"), ("scale", "service_9", "1"), ("scale", "service_2", "-1")):
        proc = run_svcctl(*args, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "service_1, service_2" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr


def test_up_registers_each_service_and_ps_agrees_with_zookeeper(services, engine, zk):
    run_svcctl("up", "service_1", "service_2")
    for name in ("service_1", "service_2"):
        wait_for(lambda name=name: zk_matches_docker(zk, engine, name), f"ZooKeeper to match Docker for {name}")

    rows = wait_for(
        lambda: (lambda r: r if r and all(i["registered"] == "yes" for i in r) else None)(run_json("ps")),
        "ps to show every container registered",
    )
    assert sorted(r["service"] for r in rows) == ["service_1", "service_2"]
    for row in rows:
        mine = docker_endpoints(engine, row["service"], project_only=True)
        endpoint = f"127.0.0.1:{row['host_port']}"
        # ps's port is Docker's real mapping, its znode is really in ZooKeeper, and the
        # registration's payload names this very container.
        assert endpoint in mine
        assert row["znode"] == f"/services/{row['service']}/{endpoint}"
        assert zk.exists(row["znode"])
        body = payload(zk, row["service"], endpoint)
        assert mine[endpoint].startswith(body["ContainerID"])
        assert body["Name"] == row["service"] and body["PublicPort"] == row["host_port"]
        assert row["state"] == "running"
        # The service answers its text at the address found in ZooKeeper.
        wait_for(
            lambda row=row, endpoint=endpoint: answers_through_zookeeper(zk, row["service"], endpoint),
            f"{endpoint} to answer",
        )


def test_up_is_idempotent(services, engine, zk):
    run_svcctl("up", "service_2")
    first = wait_for(lambda: docker_endpoints(engine, "service_2", project_only=True), "service_2 to run")
    run_svcctl("up", "service_2")
    assert docker_endpoints(engine, "service_2", project_only=True) == first
    wait_for(lambda: zk_matches_docker(zk, engine, "service_2"), "ZooKeeper to match Docker")


def test_scale_to_three_and_back_to_one(services, engine, zk):
    run_svcctl("scale", "service_2", "3")
    three = wait_for(
        lambda: (lambda e: e if len(e) == 3 else None)(docker_endpoints(engine, "service_2", project_only=True)),
        "3 instances",
    )
    wait_for(lambda: zk_matches_docker(zk, engine, "service_2"), "3 registrations")
    assert set(three) <= set(zk_children(zk, "service_2") or [])
    assert len(set(three.values())) == 3  # one registration per container
    for endpoint in three:
        wait_for(
            lambda endpoint=endpoint: answers_through_zookeeper(zk, "service_2", endpoint), f"{endpoint} to answer"
        )

    run_svcctl("scale", "service_2", "1")
    one = wait_for(
        lambda: (lambda e: e if len(e) == 1 else None)(docker_endpoints(engine, "service_2", project_only=True)),
        "1 instance",
    )
    wait_for(lambda: zk_matches_docker(zk, engine, "service_2"), "2 registrations to go")
    children = set(zk_children(zk, "service_2") or [])
    assert set(one) <= children
    assert not (set(three) - set(one)) & children  # the removed instances' nodes are gone
    rows = [r for r in run_json("ps") if r["service"] == "service_2"]
    assert [r["registered"] for r in rows] == ["yes"]


def test_scale_to_zero_removes_the_service_node(services, engine, zk):
    run_svcctl("scale", "service_2", "2")
    wait_for(
        lambda: (
            len(docker_endpoints(engine, "service_2", project_only=True)) == 2
            and zk_matches_docker(zk, engine, "service_2")
        ),
        "2 registrations",
    )
    run_svcctl("scale", "service_2", "0")
    assert docker_endpoints(engine, "service_2", project_only=True) == {}
    wait_for(lambda: zk_matches_docker(zk, engine, "service_2"), "registrations to go")
    if not docker_endpoints(engine, "service_2"):  # no other stack on this engine runs one
        assert zk_children(zk, "service_2") is None
    assert [r for r in run_json("ps") if r["service"] == "service_2"] == []


def test_stop_and_start_again_gives_a_new_port_and_node(services, engine, zk):
    run_svcctl("up", "service_1")
    (old,) = wait_for(lambda: docker_endpoints(engine, "service_1", project_only=True), "service_1 to run")
    wait_for(lambda: old in (zk_children(zk, "service_1") or []), "the first registration")
    old_id = payload(zk, "service_1", old)["ContainerID"]

    run_svcctl("stop", "service_1")
    wait_for(lambda: old not in (zk_children(zk, "service_1") or []), "the old node to go")
    wait_for(lambda: zk_matches_docker(zk, engine, "service_1"), "ZooKeeper to match Docker after stop")

    run_svcctl("up", "service_1")
    (new,) = wait_for(lambda: docker_endpoints(engine, "service_1", project_only=True), "service_1 to run again")
    wait_for(lambda: new in (zk_children(zk, "service_1") or []), "the new registration")
    assert new != old  # a fresh container on a new random port
    assert old not in (zk_children(zk, "service_1") or [])
    assert payload(zk, "service_1", new)["ContainerID"] != old_id
    wait_for(lambda: answers_through_zookeeper(zk, "service_1", new), f"{new} to answer")


def test_ps_cross_checks_instead_of_assuming(services, engine, zk):
    """A running, published container of this project that the registrator ignores
    (SERVICE_IGNORE) has no registration: ps must say "no" for it and "yes" for its sibling."""
    from tests.support import TEST_PROJECT

    run_svcctl("up", "service_2")
    (registered,) = wait_for(lambda: docker_endpoints(engine, "service_2", project_only=True), "service_2 to run")
    wait_for(lambda: registered in (zk_children(zk, "service_2") or []), "its registration")
    ignored = engine.containers.run(
        "php_service_2:1.0",
        detach=True,
        name=f"{TEST_PROJECT}-service_2-ignored",
        environment={"SERVICE_80_NAME": "service_2", "SERVICE_IGNORE": "true"},
        labels={
            "com.docker.compose.project": TEST_PROJECT,
            "com.docker.compose.service": "service_2",
            "com.docker.compose.container-number": "99",
        },
        ports={"80/tcp": ("127.0.0.1", None)},
    )
    try:
        ignored.reload()
        port = int(ignored.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
        rows = {r["container"]: r for r in run_json("ps") if r["service"] == "service_2"}
        assert rows[ignored.name]["host_port"] == port
        assert rows[ignored.name]["registered"] == "no"
        assert not zk.exists(f"/services/service_2/127.0.0.1:{port}")
        others = [r for name, r in rows.items() if name != ignored.name]
        assert [(r["host_port"], r["registered"]) for r in others] == [(int(registered.rsplit(":", 1)[1]), "yes")]
    finally:
        ignored.remove(force=True)
