"""Scenario expectation and diff logic, and the `ps` cross-check, as pure functions."""

from __future__ import annotations

import dataclasses
import json

import pytest

from svcctl.consumer.cache import get_instance, parse_instance
from svcctl.docker.containers import ContainerView, container_view
from svcctl.errors import BadInputError
from svcctl.registry.payload import RegistrationPayload
from svcctl.walkthrough.samples import SERVICES, validate_services
from svcctl.walkthrough.scenarios import (
    STEPS,
    StepResult,
    diff_registrations,
    docker_expectation,
    failures,
    foreign_children,
    format_diff,
    observation,
    parse_selection,
    step_problems,
    target_count,
)
from svcctl.walkthrough.services import (
    cross_check,
    registration_key,
    sample_service_of,
    validate_scale,
)


def inspect_json(
    name: str,
    env: list[str],
    ports: dict | None,
    status: str = "running",
    project: str = "svcctl",
    service: str | None = None,
    number: int = 1,
    labels: dict | None = None,
    cid: str | None = None,
) -> dict:
    """A trimmed `docker inspect` document with the fields registration depends on."""
    compose_labels = {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service or name.rsplit("-", 1)[0].split("-")[-1],
        "com.docker.compose.container-number": str(number),
    }
    return {
        "Id": cid or (name.encode().hex() * 8)[:64],
        "Name": "/" + name,
        "State": {"Status": status, "Health": {"Status": "healthy"}},
        "Config": {"Env": ["PATH=/usr/bin", *env], "Labels": {**compose_labels, **(labels or {})}},
        "NetworkSettings": {"Ports": ports or {}},
    }


def svc1(port: int, n: int = 1, status: str = "running", project: str = "svcctl") -> ContainerView:
    bindings = {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]} if status == "running" else {}
    return container_view(
        inspect_json(f"{project}-service_1-{n}", ["SERVICE_NAME=service_1"], bindings, status, project, "service_1", n)
    )


def svc2(port: int, n: int = 1, status: str = "running", project: str = "svcctl") -> ContainerView:
    bindings = {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]} if status == "running" else {}
    return container_view(
        inspect_json(
            f"{project}-service_2-{n}", ["SERVICE_80_NAME=service_2"], bindings, status, project, "service_2", n
        )
    )


# --- Docker's view -----------------------------------------------------------------------------


def test_container_view_reads_inspect_json():
    view = svc1(32791)
    assert view.name == "svcctl-service_1-1"
    assert view.ports == {"8080/tcp": [("127.0.0.1", 32791)]}
    assert view.env["SERVICE_NAME"] == "service_1"
    assert (view.project, view.compose_service, view.number, view.health) == ("svcctl", "service_1", 1, "healthy")


def test_unpublished_port_has_no_registration_key():
    view = container_view(inspect_json("x-service_1-1", ["SERVICE_NAME=service_1"], {"8080/tcp": None}))
    assert view.ports == {"8080/tcp": []}
    assert registration_key(view, SERVICES["service_1"]) is None


def test_wildcard_host_ip_is_advertised_as_loopback():
    view = container_view(
        inspect_json(
            "x-service_2-1", ["SERVICE_80_NAME=service_2"], {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32800"}]}
        )
    )
    assert registration_key(view, SERVICES["service_2"]) == "127.0.0.1:32800"


@pytest.mark.parametrize(
    "env,labels,expected",
    [
        (["SERVICE_NAME=service_1"], {}, "service_1"),
        (["SERVICE_80_NAME=service_2"], {}, "service_2"),
        (["SERVICE_NAME=other"], {}, None),
        ([], {}, None),
        # a label wins over env, as in registrator
        (["SERVICE_NAME=service_1"], {"SERVICE_NAME": "renamed"}, None),
        ([], {"SERVICE_NAME": "service_1"}, "service_1"),
        # the port-scoped key is more specific than SERVICE_NAME
        (["SERVICE_80_NAME=elsewhere", "SERVICE_NAME=service_2"], {}, None),
        # ignored containers are not registered, so Docker's expectation leaves them out
        (["SERVICE_NAME=service_1", "SERVICE_IGNORE=true"], {}, None),
        (["SERVICE_80_NAME=service_2", "SERVICE_80_IGNORE=1"], {}, None),
        (["SERVICE_80_NAME=service_2"], {"SERVICE_IGNORE": "yes"}, None),
    ],
)
def test_sample_service_of_follows_registrator_naming_keys(env, labels, expected):
    view = container_view(inspect_json("c-x-1", env, {}, labels=labels))
    found = sample_service_of(view)
    assert (found.name if found else None) == expected


def test_docker_expectation_counts_running_containers_of_every_project():
    views = [
        svc1(32791),
        svc2(32796, 1),
        svc2(32797, 2),
        svc2(0, 3, status="exited"),
        svc1(40001, 1, project="other"),  # another stack on the same engine: registered too
        container_view(inspect_json("zoo1", [], {"2181/tcp": [{"HostIp": "127.0.0.1", "HostPort": "2181"}]})),
    ]
    expected = docker_expectation(views)
    assert expected == {
        "service_1": {"127.0.0.1:32791": "svcctl-service_1-1", "127.0.0.1:40001": "other-service_1-1"},
        "service_2": {"127.0.0.1:32796": "svcctl-service_2-1", "127.0.0.1:32797": "svcctl-service_2-2"},
    }


def test_docker_expectation_of_a_named_project_counts_only_its_own_containers():
    views = [svc1(32791), svc2(32796, 1), svc2(40002, 1, project="other"), svc2(40003, 2, project="other")]
    assert docker_expectation(views, "other") == {
        "service_1": {},
        "service_2": {"127.0.0.1:40002": "other-service_2-1", "127.0.0.1:40003": "other-service_2-2"},
    }


# --- foreign children: registrations of containers out of the project's scope -------------------


def registered(view: ContainerView, service: str = "service_2") -> RegistrationPayload:
    """What a registrator writes for the container's sample-service port."""
    from svcctl.registry.model import Registration

    (key, bindings), *_ = view.ports.items()
    reg = Registration(
        service, "127.0.0.1", bindings[0][1], int(key.split("/")[0]), "tcp", view.id, view.id[:12], view.name,
        compose_project=view.project, compose_service=view.compose_service,
    )  # fmt: skip
    return RegistrationPayload.of(reg, "ENGINE", "r1", 1.0)


def test_a_child_naming_another_projects_container_of_the_engine_is_foreign_to_a_named_project():
    ours, theirs = svc2(40002, 1, project="other"), svc2(32796, 1)
    payloads = {
        "service_1": None,
        "service_2": {"127.0.0.1:40002": registered(ours), "127.0.0.1:32796": registered(theirs)},
    }
    assert foreign_children(payloads, [ours, theirs], "other") == {
        "service_2": {"127.0.0.1:32796": "container svcctl-service_2-1 of compose project svcctl, not of project other"}
    }
    # The default project's registrators register every container of the engine: nothing is foreign.
    assert foreign_children(payloads, [ours, theirs], None) == {}


def test_a_named_projects_container_is_foreign_to_the_default_project():
    # A named project's workload carries io.svcctl.scoped=true: its own registrators have it.
    theirs = svc2(40002, 1, project="other")
    theirs = dataclasses.replace(theirs, labels={**theirs.labels, "io.svcctl.scoped": "true"})
    ours = svc2(32796, 1)
    payloads = {"service_2": {"127.0.0.1:40002": registered(theirs), "127.0.0.1:32796": registered(ours)}}
    assert foreign_children(payloads, [theirs, ours], None) == {
        "service_2": {
            "127.0.0.1:40002": "container other-service_2-1 of compose project other, not of the default project "
            "(it is a named project's)"
        }
    }
    assert docker_expectation([theirs, ours], None)["service_2"] == {"127.0.0.1:32796": ours.name}


def test_a_child_naming_a_container_of_another_compose_project_elsewhere_is_foreign():
    gone_ours, gone_theirs = svc2(40002, 1, project="other"), svc2(32796, 1, project="svcctl")
    payloads = {"service_2": {"127.0.0.1:40002": registered(gone_ours), "127.0.0.1:32796": registered(gone_theirs)}}
    # Neither runs on this engine: the other project's is foreign; our own is the diff's (stale).
    assert foreign_children(payloads, [], "other") == {
        "service_2": {"127.0.0.1:32796": "container svcctl-service_2-1 of compose project svcctl, not of project other"}
    }
    assert foreign_children(payloads, [], None) == {}


def test_a_child_naming_no_container_is_left_to_the_diff():
    payloads = {"service_2": {"127.0.0.1:1": None, "127.0.0.1:2": RegistrationPayload.decode(b'{"Name": "x"}')}}
    assert foreign_children(payloads, [svc2(1, 1, project="svcctl")], "other") == {}


def test_a_child_of_a_container_without_compose_project_is_foreign_to_a_named_project():
    plain = container_view(
        inspect_json("plain", ["SERVICE_80_NAME=service_2"], {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9"}]})
    )
    plain = dataclasses.replace(plain, project=None)
    found = foreign_children({"service_2": {"127.0.0.1:9": registered(plain)}}, [plain], "other")
    assert found == {"service_2": {"127.0.0.1:9": "container plain of no compose project, not of project other"}}


def test_another_stack_sharing_the_engine_fails_the_step_with_foreign_children_not_stale_ones():
    # Two children promised, five seen: the other stack's three instances registered in this
    # project's ensemble fail the step, each named with whose container it is.
    ours = [svc2(40002, 1, project="other"), svc2(40003, 2, project="other")]
    theirs = [svc2(32796, 1), svc2(32797, 2), svc2(32798, 3)]
    views = ours + theirs
    payloads = {"service_1": None, "service_2": {f"127.0.0.1:{v.ports['80/tcp'][0][1]}": registered(v) for v in views}}
    seen = observation(views, payloads, "other", "service_2")
    assert seen.running == 2 and sorted(seen.expected["service_2"]) == ["127.0.0.1:40002", "127.0.0.1:40003"]
    diff = seen.diff()
    assert not diff.ok and diff.stale == {} and diff.missing == {}
    problems = step_problems(STEPS[2], 2, seen.running, diff)
    assert problems == [
        f"foreign in ZooKeeper: /services/service_2/127.0.0.1:{port} is container svcctl-service_2-{n} of compose "
        "project svcctl, not of project other"
        for n, port in ((1, 32796), (2, 32797), (3, 32798))
    ]
    # Only its own two registered: the step holds.
    only_ours = {"service_1": None, "service_2": {k: p for k, p in payloads["service_2"].items() if "4000" in k}}
    assert observation(views, only_ours, "other", "service_2").diff().ok
    # The default project expects the whole engine, the other stack's containers too.
    assert not observation(views, only_ours, "svcctl", "service_2").diff().ok
    assert observation(views, payloads, "svcctl", "service_2").diff().ok


# --- diff --------------------------------------------------------------------------------------


def test_diff_equal_is_ok():
    diff = diff_registrations(
        {"service_1": {"127.0.0.1:1"}, "service_2": set()}, {"service_1": ["127.0.0.1:1"], "service_2": None}
    )
    assert diff.ok
    assert diff.to_dict() == {"missing": {}, "stale": {}, "empty_nodes": [], "foreign": {}}


def test_diff_reports_missing_and_stale_per_service():
    diff = diff_registrations(
        {"service_1": {"127.0.0.1:1", "127.0.0.1:2"}, "service_2": {"127.0.0.1:5"}},
        {"service_1": ["127.0.0.1:2", "127.0.0.1:3"], "service_2": None},
    )
    assert not diff.ok
    assert diff.missing == {"service_1": ["127.0.0.1:1"], "service_2": ["127.0.0.1:5"]}
    assert diff.stale == {"service_1": ["127.0.0.1:3"]}
    assert diff.empty_nodes == []


def test_diff_flags_an_empty_service_node_left_behind():
    diff = diff_registrations({"service_1": set()}, {"service_1": []})
    assert diff.empty_nodes == ["service_1"]
    assert not diff.ok


def test_diff_accepts_docker_expectation_mapping():
    expected = docker_expectation([svc1(32791)])
    assert diff_registrations(expected, {"service_1": ["127.0.0.1:32791"], "service_2": None}).ok


def test_diff_stale_service_not_expected_at_all():
    diff = diff_registrations({}, {"service_2": ["127.0.0.1:9"]})
    assert diff.stale == {"service_2": ["127.0.0.1:9"]}


# --- steps -------------------------------------------------------------------------------------


def test_four_steps_in_classic_order():
    assert [(s.number, s.op, s.service) for s in STEPS] == [
        (1, "up", "service_1"),
        (2, "up", "service_2"),
        (3, "scale", "service_2"),
        (4, "stop", "service_1"),
    ]


@pytest.mark.parametrize(
    "text,numbers",
    [("all", [1, 2, 3, 4]), ("1", [1]), ("4", [4]), (" 3 ", [3]), ("1,3", [1, 3]), ("ALL", [1, 2, 3, 4])],
)
def test_parse_selection(text, numbers):
    assert [s.number for s in parse_selection(text)] == numbers


@pytest.mark.parametrize("text", ["0", "5", "x", "", "1,9", "-1"])
def test_parse_selection_refuses_unknown(text):
    with pytest.raises(BadInputError) as info:
        parse_selection(text)
    assert "all" in (info.value.fix or "")


@pytest.mark.parametrize(
    "number,before,target",
    [(1, 0, 1), (1, 2, 2), (2, 0, 1), (3, 0, 2), (3, 5, 2), (4, 3, 0), (4, 0, 0)],
)
def test_target_count(number, before, target):
    assert target_count(STEPS[number - 1], before) == target


def test_step_problems_empty_when_converged():
    step = STEPS[2]
    expected = docker_expectation([svc2(1, 1), svc2(2, 2)])
    diff = diff_registrations(expected, {"service_1": None, "service_2": ["127.0.0.1:1", "127.0.0.1:2"]})
    assert step_problems(step, 2, 2, diff) == []


def test_step_problems_lists_count_missing_stale_and_leftover():
    step = STEPS[3]
    diff = diff_registrations(
        {"service_1": set(), "service_2": {"127.0.0.1:7"}}, {"service_1": [], "service_2": ["127.0.0.1:8"]}
    )
    problems = step_problems(step, 0, 1, diff)
    assert problems == [
        "service_1: 1 instance(s) of this project running, expected 0",
        "missing in ZooKeeper: /services/service_2/127.0.0.1:7",
        "stale in ZooKeeper: /services/service_2/127.0.0.1:8 (no running container publishes it)",
        "left behind: /services/service_1 (empty service node)",
    ]


def test_format_diff_shows_both_sides():
    text = format_diff(
        {"service_1": {"127.0.0.1:1": "c1"}, "service_2": {}}, {"service_1": None, "service_2": []}, ["p"]
    )
    assert text.splitlines() == [
        "p",
        "Docker (running containers):",
        "  service_1: 127.0.0.1:1 (c1)",
        "  service_2: none",
        "ZooKeeper:",
        "  service_1: no node",
        "  service_2: node without children",
    ]


@pytest.fixture
def answering_server():
    """A loopback HTTP server answering `This is Service 2.` to every GET."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"This is Service 2."
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_step_result_ok_needs_convergence_and_right_answers(answering_server):
    port = answering_server
    result = StepResult(step=STEPS[0], target=1, converge_seconds=0.2, seen={"service_1": [f"127.0.0.1:{port}"]})
    assert result.ok
    call = get_instance(parse_instance("service_1", f"127.0.0.1:{port}", None), "/", expected="This is Service 1.")
    assert (call.status, call.body, call.ok) == (200, "This is Service 2.", False)
    assert get_instance(call.instance, "/").ok  # without an expected answer any 2xx will do
    result.calls = [call]
    assert not result.ok
    error = failures([result])
    assert error is not None and error.exit_code == 8 and "did not answer" in error.cause
    assert "expected 'This is Service 1.'" in (error.details or "")
    never = StepResult(step=STEPS[0], target=1, problems=["missing in ZooKeeper: /services/service_1/127.0.0.1:1"])
    assert not never.converged
    assert "did not match" in failures([never]).cause
    assert failures([StepResult(step=STEPS[1], target=1, converge_seconds=0.0)]) is None


def test_a_probe_of_a_closed_port_is_not_ok_and_says_why(answering_server):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    call = get_instance(
        parse_instance("service_2", f"127.0.0.1:{port}", None), "/", timeout=1.0, expected="This is Service 2."
    )
    assert (call.ok, call.status) == (False, None)
    assert "ConnectionRefused" in (call.error or "")
    ok = get_instance(
        parse_instance("service_2", f"127.0.0.1:{answering_server}", None), "/", expected="This is Service 2."
    )
    assert ok.ok and ok.url == f"http://127.0.0.1:{answering_server}/"


# --- ps cross-check and input validation ---------------------------------------------------------


def test_payload_names_a_container_by_full_id_or_short_id():
    cid = "a" * 64

    def names(body: dict) -> bool:
        return RegistrationPayload.decode(json.dumps(body)).names_container(cid)

    assert names({"ContainerID": "aaaaaaaaaaaa", "svcctl": {"container_id": cid}})
    assert not names({"ContainerID": "aaaaaaaaaaaa", "svcctl": {"container_id": "b" * 64}})
    assert names({"ContainerID": "aaaaaaaaaaaa"})  # registrator's payload alone
    assert not names({"ContainerID": "bbbbbbbbbbbb"})
    assert not names({})


def test_cross_check_states():
    view = svc1(32791)
    znode = "/services/service_1/127.0.0.1:32791"
    ours = json.dumps({"ContainerID": view.id[:12], "svcctl": {"container_id": view.id}}).encode()
    service = SERVICES["service_1"]
    assert cross_check(view, service, {znode: ours}).registered == "yes"
    assert cross_check(view, service, {znode: None}).registered == "no"
    assert cross_check(view, service, {}).registered == "no"
    assert cross_check(view, service, {znode: b'{"ContainerID": "ffffffffffff"}'}).registered == "other-container"
    assert cross_check(view, service, {znode: b"not a payload"}).registered == "other-container"
    assert cross_check(view, service, None).registered == "unknown"
    line = cross_check(view, service, {znode: ours})
    # The full id: JSON never shortens it.
    assert (line.host_port, line.znode, line.container_id) == (32791, znode, view.id)
    assert json.loads(json.dumps(line.to_dict()))["registered"] == "yes" and f"{line.registered}" == "yes"
    paused = dataclasses.replace(view, state="paused")  # still published, not serving
    assert cross_check(paused, service, {znode: ours}).registered == "stale"
    assert cross_check(paused, service, {}).registered == "no"
    stopped = cross_check(svc1(0, status="exited"), service, {})
    assert (stopped.registered, stopped.host_port, stopped.znode) == ("no", None, None)


def test_unknown_services_are_refused_with_the_known_list():
    with pytest.raises(BadInputError) as info:
        validate_services(["service_1", "nope", "service_3"])
    assert "'nope'" in info.value.cause and "'service_3'" in info.value.cause
    assert "service_1, service_2" in (info.value.fix or "")
    with pytest.raises(BadInputError):
        validate_services([])
    assert [s.name for s in validate_services(["service_2", "service_1", "service_2"])] == ["service_2", "service_1"]


def test_negative_scale_refused_listing_services():
    with pytest.raises(BadInputError) as info:
        validate_scale("service_2", -1)
    assert "service_1, service_2" in (info.value.fix or "")
    with pytest.raises(BadInputError):
        validate_scale("service_9", 1)
    assert validate_scale("service_2", 0).name == "service_2"


def test_a_listed_container_reads_as_its_inspection_does():
    """The polls list containers (state, health, ports, labels) and take the env from a cached
    inspection: the view must be the one `docker inspect` alone gives."""
    from svcctl.docker.containers import listed_view

    inspect = {
        "Id": "c" * 64,
        "Name": "/svcctl-service_2-1",
        "Config": {
            "Env": ["SERVICE_80_NAME=service_2", "PATH=/bin"],
            "Labels": {
                "com.docker.compose.project": "svcctl",
                "com.docker.compose.service": "service_2",
                "com.docker.compose.container-number": "1",
            },
        },
        "State": {"Status": "running", "Health": {"Status": "healthy"}},
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "32768"}], "443/tcp": None}},
    }
    summary = {
        "Id": "c" * 64,
        "Names": ["/svcctl-service_2-1"],
        "State": "running",
        "Status": "Up 3 minutes (healthy)",
        "Labels": inspect["Config"]["Labels"],
        "Ports": [
            {"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 32768, "Type": "tcp"},
            {"PrivatePort": 443, "Type": "tcp"},
        ],
    }
    assert listed_view(summary, inspect["Config"]) == container_view(inspect)
    starting = listed_view({**summary, "Status": "Up 1 second (health: starting)"}, inspect["Config"])
    assert starting.health == "starting"
