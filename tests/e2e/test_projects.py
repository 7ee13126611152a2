"""Two projects on one engine: the suite's own (SVCCTL_TEST_PROJECT) and a second one started here
with no SVCCTL_ZK_PORTS, on the ports svcctl derives from its name. Each ensemble holds only its
own project's containers while the other's run beside them, and `scenario run all` passes in
both; `doctor` checks the second project's own members and its fix names the project. The
second project is removed with its data at the end."""

from __future__ import annotations

import json

import pytest

from svcctl.config.settings import project_zk_ports
from tests.support import TEST_PROJECT, TEST_ZK, run_svcctl, svcctl_env

OTHER = f"{TEST_PROJECT}-other"
OTHER_PORTS = project_zk_ports(OTHER)
OTHER_ZK = ",".join(f"127.0.0.1:{p}" for p in OTHER_PORTS)
PROJECT_LABEL = "com.docker.compose.project"


def other_env() -> dict[str, str]:
    """The second project as a user would name it: SVCCTL_PROJECT alone, ports and --zk derived."""
    env = svcctl_env(SVCCTL_PROJECT=OTHER)
    env.pop("SVCCTL_ZK_PORTS", None)
    env.pop("SVCCTL_ZK", None)
    return env


@pytest.fixture(scope="module")
def other_cluster(images, cluster):
    """The second project's ensemble and registrators beside the suite's; down with its volumes."""
    try:
        run_svcctl("cluster", "up", "--timeout", "180", env=other_env())
        yield OTHER_ZK
    finally:
        run_svcctl("cluster", "down", "--volumes", check=False, env=other_env(), timeout=300)


def kazoo(hosts: str):
    from kazoo.client import KazooClient

    client = KazooClient(hosts=hosts, timeout=10)
    client.start(timeout=15)
    return client


def registered_projects(hosts: str) -> dict[str, list[str | None]]:
    """sample service -> the Compose project of each registration's container, read from the
    payloads with kazoo (not through svcctl); a service without a node is left out."""
    from kazoo.exceptions import NoNodeError

    client = kazoo(hosts)
    try:
        out: dict[str, list[str | None]] = {}
        for service in ("service_1", "service_2"):
            if client.exists(f"/services/{service}") is None:
                continue
            out[service] = []
            for child in client.get_children(f"/services/{service}"):
                try:
                    data, _ = client.get(f"/services/{service}/{child}")
                except NoNodeError:
                    continue
                stamp = json.loads(data).get("svcctl") or {}
                out[service].append(stamp.get("compose_project"))
        return out
    finally:
        client.stop()
        client.close()


def running_service_2(engine, project: str) -> int:
    return len(
        engine.containers.list(
            filters={
                "status": "running",
                "label": [f"{PROJECT_LABEL}={project}", "com.docker.compose.service=service_2"],
            }
        )
    )


def scenario_all(env: dict[str, str] | None = None) -> dict:
    proc = run_svcctl("scenario", "run", "all", "--timeout", "60", "--json", env=env, check=False, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return json.loads(proc.stdout)


def test_a_named_project_without_ports_gets_its_own_and_doctor_checks_those(engine):
    assert not set(OTHER_PORTS) & {2181, 2182, 2183, *map(int, TEST_ZK.replace("127.0.0.1:", "").split(","))}
    proc = run_svcctl("doctor", "--json", env=other_env(), check=False, timeout=120)
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    zookeeper = checks["zookeeper"]
    # Before its cluster is up (or after, when its members answer): its own members, its own fix.
    assert OTHER_ZK in zookeeper["detail"] or zookeeper["ok"], zookeeper
    assert zookeeper["fix"] == f"svcctl --project {OTHER} cluster up"


def test_two_projects_each_register_only_their_own_containers(engine, services, other_cluster):
    # The members publish the derived ports; the registrators are scoped to their project.
    for n, port in enumerate(OTHER_PORTS, start=1):
        member = engine.containers.get(f"{OTHER}-zoo{n}")
        assert member.attrs["NetworkSettings"]["Ports"]["2181/tcp"][0]["HostPort"] == str(port)
    for project in (TEST_PROJECT, OTHER):
        for n in (1, 2, 3):
            registrator = engine.containers.get(f"{project}-registrator{n}")
            env = dict(item.split("=", 1) for item in registrator.attrs["Config"]["Env"] if "=" in item)
            assert env["SVCCTL_LABEL_FILTER"] == f"{PROJECT_LABEL}={project}"
            if project == OTHER:  # connected to its own members
                assert f"zookeeper://{OTHER_ZK}/services" in registrator.attrs["Args"]
    status = json.loads(run_svcctl("doctor", "--json", env=other_env(), check=False, timeout=120).stdout)
    zookeeper = next(c for c in status if c["name"] == "zookeeper")
    assert zookeeper["ok"] and zookeeper["detail"].startswith("3/3"), zookeeper

    # The suite's walkthrough, then the other project's while the suite's two service_2 run.
    ours = scenario_all()
    assert ours["ok"] is True
    assert running_service_2(engine, TEST_PROJECT) == 2
    theirs = scenario_all(other_env())
    assert theirs["ok"] is True
    step3 = theirs["steps"][2]
    assert step3["project_running"] == 2 and len(step3["zookeeper"]["service_2"]) == 2
    assert all(name.startswith(f"{OTHER}-") for name in step3["docker"]["service_2"].values())

    # Both stacks run two service_2 now; each ensemble holds exactly its own two.
    assert running_service_2(engine, OTHER) == 2
    assert registered_projects(TEST_ZK) == {"service_2": [TEST_PROJECT, TEST_PROJECT]}
    assert registered_projects(OTHER_ZK) == {"service_2": [OTHER, OTHER]}

    # The suite's walkthrough again, the other stack's instances running beside it: still passes,
    # with two children in step 3, not four.
    again = scenario_all()
    assert again["ok"] is True and len(again["steps"][2]["zookeeper"]["service_2"]) == 2
    assert registered_projects(TEST_ZK) == {"service_2": [TEST_PROJECT, TEST_PROJECT]}


def test_a_foreign_registration_fails_the_scenario(engine, services, other_cluster, zk):
    """A registration of the other project's container written into the suite's ensemble (what
    an unscoped registrator did) fails the step as foreign, naming whose container it is."""
    run_svcctl("scale", "service_2", "1", env=other_env())
    (container,) = engine.containers.list(
        filters={"status": "running", "label": [f"{PROJECT_LABEL}={OTHER}", "com.docker.compose.service=service_2"]}
    )
    port = container.attrs["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"]
    path = f"/services/service_2/127.0.0.1:{port}"
    body = {
        "Name": "service_2",
        "IP": "127.0.0.1",
        "PublicPort": int(port),
        "PrivatePort": 80,
        "ContainerID": container.id[:12],
        "Tags": [],
        "Attrs": {},
        "svcctl": {"container_id": container.id, "container_name": container.name, "compose_project": OTHER},
    }
    zk.create(path, json.dumps(body).encode(), makepath=True)
    try:
        proc = run_svcctl("scenario", "run", "2", "--timeout", "5", check=False, timeout=300)
        assert proc.returncode == 8, proc.stdout + proc.stderr
        assert (
            f"foreign in ZooKeeper: {path} is container {container.name} of compose project {OTHER}, "
            f"not of project {TEST_PROJECT}"
        ) in proc.stderr
    finally:
        from kazoo.exceptions import NoNodeError

        try:
            zk.delete(path)
        except NoNodeError:
            pass
        run_svcctl("stop", "service_2", env=other_env(), check=False)
