"""`svcctl scenario run` against the real engine and ensemble: each step alone and all four in
order; after each, ZooKeeper's real children are compared with Docker's real port mappings (read
here independently), and each service answers its text at the address found in ZooKeeper."""

from __future__ import annotations

import json

import pytest

from tests.e2e.helpers_services import (
    REGISTERS_THE_WHOLE_ENGINE,
    answers_through_zookeeper,
    docker_endpoints,
    wait_for,
    zk_children,
    zk_matches_docker,
)
from tests.support import TEST_PROJECT, run_json, run_svcctl

# Scenario N run alone needs the state the walkthrough would have reached before it.
PRECONDITIONS: dict[int, list[tuple[str, ...]]] = {
    1: [],
    2: [],
    3: [("up", "service_2")],
    4: [("up", "service_1")],
}
# (service, instances of this project after the step)
AFTER: dict[int, tuple[str, int]] = {1: ("service_1", 1), 2: ("service_2", 1), 3: ("service_2", 2), 4: ("service_1", 0)}


def assert_real_state(zk, engine, service: str, instances: int) -> None:
    mine = docker_endpoints(engine, service, project_only=True)
    assert len(mine) == instances
    assert len(set(mine.values())) == instances  # one endpoint per container
    assert zk_matches_docker(zk, engine, service), (zk_children(zk, service), docker_endpoints(engine, service))
    for endpoint in mine:
        wait_for(lambda endpoint=endpoint: answers_through_zookeeper(zk, service, endpoint), f"{endpoint} to answer")


def test_scenario_list():
    listing = run_json("scenario", "list")
    steps = listing["steps"]
    assert [s["number"] for s in steps] == [1, 2, 3, 4]
    assert [f["name"] for f in listing["faults"]] == [
        "registrator-handover",
        "registrator-crash",
        "leader-loss",
        "member-loss",
        "instance-kill",
        "host-crash",
        "rolling-update",
    ]
    swarm_only = {f["name"] for f in listing["faults"] if f["swarm_only"]}
    assert swarm_only == {"rolling-update"}
    assert [s["title"] for s in steps] == [
        "start service_1",
        "start service_2",
        "scale service_2 to 2",
        "stop service_1",
    ]


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_each_scenario_alone(number, services, engine, zk):
    for args in PRECONDITIONS[number]:
        run_svcctl(*args)
    report = run_json("scenario", "run", str(number), "--timeout", "60", timeout=300)
    assert report["ok"] is True, json.dumps(report, indent=1)
    (step,) = report["steps"]
    assert step["step"] == number and step["converged"] and step["problems"] == []
    service, instances = AFTER[number]
    assert step["project_running"] == instances
    # The report's ZooKeeper view is the real one, and it equals Docker's.
    assert sorted(step["zookeeper"][service] or []) == sorted(docker_endpoints(engine, service))
    assert_real_state(zk, engine, service, instances)
    if instances == 0 and not docker_endpoints(engine, service):
        assert zk_children(zk, service) is None  # the empty service node is gone too
    for call in step["calls"]:
        assert call["ok"] and call["status"] == 200, call


def test_all_scenarios_in_order(services, engine, zk):
    proc = run_svcctl("scenario", "run", "all", "--timeout", "60", "--json", timeout=600)
    report = json.loads(proc.stdout)
    assert report["ok"] is True
    assert [s["step"] for s in report["steps"]] == [1, 2, 3, 4]
    assert all(s["ok"] and s["converged"] for s in report["steps"])
    # Step 3's tree had two service_2 children, one per container, and each answered: the test
    # project's own, whatever other stack runs service_2 on the engine (its registrators'
    # scope is the test project).
    step3 = report["steps"][2]
    assert step3["project_running"] == 2
    assert sorted(step3["zookeeper"]["service_2"]) == sorted(step3["docker"]["service_2"])
    ours = [name for name in step3["docker"]["service_2"].values() if name.startswith(f"{TEST_PROJECT}-")]
    assert len(ours) == 2
    if not REGISTERS_THE_WHOLE_ENGINE:
        assert len(step3["zookeeper"]["service_2"]) == 2
    answered = {c["endpoint"] for c in step3["calls"] if c["service"] == "service_2" and c["ok"]}
    assert answered == set(step3["zookeeper"]["service_2"])
    assert any(c["service"] == "service_1" and c["body"] == "It's user 7." for c in step3["calls"])
    # The final real state: service_1 gone (with its node), two service_2 registered and answering.
    assert docker_endpoints(engine, "service_1", project_only=True) == {}
    assert_real_state(zk, engine, "service_1", 0)
    assert_real_state(zk, engine, "service_2", 2)


def test_human_output_draws_the_tree_and_the_answers(services, engine, zk):
    proc = run_svcctl("scenario", "run", "1", "--timeout", "60", timeout=300)
    (endpoint,) = docker_endpoints(engine, "service_1", project_only=True)
    assert "/services\n" in proc.stdout
    assert f"└── {endpoint}" in proc.stdout or f"├── {endpoint}" in proc.stdout
    assert f"GET http://{endpoint}/ -> 200 'This is Service 1.'" in proc.stdout


def test_a_mismatch_prints_the_diff_and_exits_non_zero(services, engine, zk):
    """A stale registration nobody runs makes the step fail: exit 8 and the diff on stderr."""
    stale = "127.0.0.1:9"  # a port no container publishes (privileged, never random)
    path = f"/services/service_1/{stale}"
    zk.create(
        path,
        json.dumps(
            {
                "Name": "service_1",
                "IP": "127.0.0.1",
                "PublicPort": 9,
                "PrivatePort": 8080,
                "ContainerID": "000000000000",
                "Tags": [],
                "Attrs": {},
            }
        ).encode(),
        makepath=True,
    )
    try:
        proc = run_svcctl("scenario", "run", "1", "--timeout", "3", check=False, timeout=300)
        assert proc.returncode == 8, proc.stderr
        assert f"stale in ZooKeeper: {path}" in proc.stderr
        assert "Docker (running containers):" in proc.stderr
        assert "Traceback" not in proc.stderr
    finally:
        from kazoo.exceptions import NoNodeError

        try:
            zk.delete(path)
        except NoNodeError:
            pass
        if not docker_endpoints(engine, "service_1"):
            try:
                zk.delete("/services/service_1")
            except Exception:  # recreated or removed by the registrator meanwhile
                pass


def test_bad_selection_is_refused():
    proc = run_svcctl("scenario", "run", "7", check=False)
    assert proc.returncode == 2
    assert "choose 1, 2, 3, 4 or all" in proc.stderr
