"""The Swarm layout's pure parts: the stack file, the layout it records, which ensemble runs it, how
a swarm task is known (project, service, slot, default name, address), the sample services as
swarm services, and which faults a swarm runs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from svcctl.config.layout import COMPOSE, SWARM, ClusterLayout, HostMember
from svcctl.config.settings import Settings
from svcctl.docker.containers import container_view, project_service_number
from svcctl.ensemble import current
from svcctl.ensemble.hosts import HostsEnsemble
from svcctl.ensemble.swarm import StackContainer, SwarmEnsemble, current_container, registrator_id, stack_spec
from svcctl.errors import BadInputError
from svcctl.registry.model import container_registrations
from svcctl.security.mode import SecurityPolicy
from svcctl.walkthrough import faults
from svcctl.walkthrough.samples import SERVICES
from svcctl.walkthrough.swarm_services import service_spec

pytestmark = pytest.mark.unit


def swarm_layout() -> ClusterLayout:
    hosts = tuple(HostMember(f"p-host{i}", f"tcp://10.0.0.{10 + i}:2376", f"10.0.0.{10 + i}", i) for i in (1, 2, 3))
    return ClusterLayout("p", hosts, SWARM)


def test_the_stack_pins_one_member_per_node_and_runs_a_registrator_on_every_node():
    spec = stack_spec(swarm_layout(), "svcctl/zookeeper:3.8", "svcctl/registrator:0.1", "com.docker.stack.namespace=p")
    assert spec["networks"] == {"hostnet": {"external": True, "name": "host"}}
    members = [spec["services"][f"zoo{i}"] for i in (1, 2, 3)]
    assert [m["deploy"]["placement"]["constraints"] for m in members] == [
        [f"node.labels.io.svcctl.host == p-host{i}"] for i in (1, 2, 3)
    ]
    assert [m["environment"]["ZOO_MY_ID"] for m in members] == ["1", "2", "3"]
    servers = "server.1=10.0.0.11:2888:3888;2181 server.2=10.0.0.12:2888:3888;2181 server.3=10.0.0.13:2888:3888;2181"
    assert {m["environment"]["ZOO_SERVERS"] for m in members} == {servers}
    assert all(m["networks"] == ["hostnet"] and m["labels"] == {"SERVICE_IGNORE": "true"} for m in members)
    assert members[1]["volumes"] == ["zoo2-data:/data", "zoo2-datalog:/datalog"]
    assert set(spec["volumes"]) == {f"zoo{i}-{kind}" for i in (1, 2, 3) for kind in ("data", "datalog")}
    registrator = spec["services"]["registrator"]
    assert registrator["deploy"]["mode"] == "global"
    assert registrator["command"][0] == "-swarm-node-ip"
    assert registrator["command"][-1] == "zookeeper://10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181/services"
    assert registrator["environment"] == {
        "SVCCTL_REGISTRATOR_ID": "{{.Node.Hostname}}-registrator",
        "SVCCTL_LABEL_FILTER": "com.docker.stack.namespace=p",  # a named project's tasks only
    }
    assert registrator["volumes"] == ["/var/run/docker.sock:/var/run/docker.sock:ro"]
    json.dumps(spec)  # the stack file is JSON (which YAML reads)
    assert registrator_id("p-host2") == "p-host2-registrator"


def test_the_layout_records_its_orchestrator_and_older_layouts_are_compose():
    layout = swarm_layout()
    assert layout.on_swarm and ClusterLayout.from_dict(layout.to_dict()) == layout
    legacy = layout.to_dict()
    legacy.pop("orchestrator")
    assert ClusterLayout.from_dict(legacy).orchestrator == COMPOSE and not ClusterLayout.from_dict(legacy).on_swarm


def test_a_swarm_layout_or_flag_chooses_the_swarm_ensemble():
    settings = Settings(zk="127.0.0.1:2181", project="p")
    chosen = current.ensemble(settings, ["a", "b", "c"], swarm=True)
    assert isinstance(chosen, SwarmEnsemble) and chosen.contexts == ("a", "b", "c")
    assert isinstance(current.ensemble(replace(settings, layout=swarm_layout())), SwarmEnsemble)
    compose = replace(swarm_layout(), orchestrator=COMPOSE)
    assert isinstance(current.ensemble(replace(settings, layout=compose)), HostsEnsemble)


def test_secure_mode_on_a_swarm_is_refused_before_anything_starts():
    ensemble = SwarmEnsemble(Settings(zk="127.0.0.1:2181", project="p", layout=swarm_layout()))
    with pytest.raises(BadInputError, match="secure mode is not available on Swarm") as refused:
        ensemble.up(SecurityPolicy.SECURED)
    assert "--hosts" in refused.value.fix and "--secure" in refused.value.fix


def task_labels(namespace: str, service: str, slot: str) -> dict[str, str]:
    return {
        "com.docker.stack.namespace": namespace,
        "com.docker.swarm.service.name": f"{namespace}_{service}",
        "com.docker.swarm.task.name": f"{namespace}_{service}.{slot}.abcdef",
    }


def test_a_task_is_its_stacks_service_with_its_slot_and_compose_labels_still_win():
    assert project_service_number(task_labels("p", "service_2", "3")) == ("p", "service_2", 3)
    assert project_service_number(task_labels("p", "registrator", "nodeid42")) == ("p", "registrator", None)
    compose = {"com.docker.compose.project": "q", "com.docker.compose.service": "zoo1"}
    assert project_service_number({**compose, "com.docker.compose.container-number": "2"}) == ("q", "zoo1", 2)
    assert project_service_number({"com.docker.swarm.service.name": "lonely"}) == (None, None, None)
    assert project_service_number({}) == (None, None, None)


def inspect_of(labels: dict[str, str], env: list[str], image: str = "registry:5000/team/php_service_2:1.0") -> dict:
    return {
        "Id": "c" * 64,
        "Name": "/p_service_2.1.abcdef",
        "State": {"Running": True, "Status": "running"},
        "Config": {"Image": image, "Labels": labels, "Env": env, "Hostname": "cccccccccccc"},
        "HostConfig": {},
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "30001"}]}},
    }


def test_a_task_without_service_name_registers_under_its_swarm_service_name():
    [plain] = container_registrations(inspect_of(task_labels("p", "web", "1"), [])).registrations
    assert plain.name == "p_web"
    [named] = container_registrations(inspect_of(task_labels("p", "web", "1"), ["SERVICE_NAME=web"])).registrations
    assert named.name == "web"
    [container] = container_registrations(inspect_of({}, [])).registrations
    assert container.name == "php_service_2"


def test_a_tasks_ports_bound_everywhere_are_shown_on_its_nodes_address():
    view = container_view(inspect_of(task_labels("p", "service_2", "1"), ["SERVICE_80_NAME=service_2"]))
    assert view.ports == {"80/tcp": [("0.0.0.0", 30001)]}
    on_node = view.published_on("10.0.0.12")
    assert on_node.ports == {"80/tcp": [("10.0.0.12", 30001)]}
    assert (on_node.project, on_node.compose_service, on_node.number) == ("p", "service_2", 1)
    bound = replace(view, ports={"80/tcp": [("127.0.0.1", 30001)]})
    assert bound.published_on("10.0.0.12").ports == bound.ports  # a chosen address is kept


def test_a_sample_service_is_a_swarm_service_in_the_projects_namespace():
    spec = service_spec("p", SERVICES["service_2"])
    assert (spec.name, spec.image, spec.namespace, spec.target_ports) == (
        "p_service_2",
        "php_service_2:1.0",
        "p",
        (80,),
    )
    assert spec.env == (("SERVICE_80_NAME", "service_2"),)
    assert service_spec("p", SERVICES["service_1"]).env == (("SERVICE_NAME", "service_1"),)


def test_the_container_that_counts_is_the_running_one():
    containers = [
        StackContainer("p_zoo1.1.old", "zoo1", "exited", "300"),
        StackContainer("p_zoo2.1.a", "zoo2", "exited", "100"),
        StackContainer("p_zoo1.1.new", "zoo1", "running", "200"),
        StackContainer("p_zoo2.1.b", "zoo2", "exited", "300"),
    ]
    assert current_container(containers, "zoo1").name == "p_zoo1.1.new"
    assert current_container(containers, "zoo2").name == "p_zoo2.1.b"  # none runs: the newest
    assert current_container(containers, "zoo3") is None and current_container(None, "zoo1") is None


def test_only_a_swarm_runs_the_rolling_update():
    assert [f.name for f in faults.parse_faults("faults", over_hosts=True, on_swarm=True)] == [
        "host-crash",
        "rolling-update",
    ]
    assert [f.name for f in faults.parse_faults("faults", over_hosts=True)] == ["host-crash"]
    with pytest.raises(BadInputError, match="needs a cluster on a swarm"):
        faults.parse_faults("rolling-update", over_hosts=True)
