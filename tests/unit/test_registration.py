"""The registration model: naming rules (table-driven, from `docker inspect` output captured on a
real engine, in tests/unit/fixtures/inspect/), payload encoding, and the reconciliation plan."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from svcctl.errors import BadInputError
from svcctl.registry.model import (
    LabelFilter,
    Options,
    Registration,
    container_registrations,
    desired_map,
    image_basename,
    in_scope,
    name_problem,
    plan,
    service_metadata,
    split_tags,
)
from svcctl.registry.payload import RegistrationPayload
from svcctl.zk.znode import ZnodeSnapshot

FIXTURES = Path(__file__).parent / "fixtures" / "inspect"
BASE = "/services"
ENGINE = "ENGINE:ID"


def inspect(name: str, env: list[str] | None = None, labels: dict | None = None, image: str | None = None) -> dict:
    """A captured `docker inspect` document, with env/labels/image added for the case at hand."""
    data = copy.deepcopy(json.loads((FIXTURES / f"{name}.json").read_text()))
    config = data["Config"]
    config["Env"] = list(config.get("Env") or []) + list(env or [])
    config["Labels"] = {**(config.get("Labels") or {}), **(labels or {})}
    if image is not None:
        config["Image"] = image
    return data


def host_port(data: dict, key: str) -> int:
    return int(data["NetworkSettings"]["Ports"][key][0]["HostPort"])


DEFAULT_OPTIONS = Options()


def summary(data: dict, options: Options = DEFAULT_OPTIONS) -> list[tuple]:
    return [
        (r.name, r.ip, r.port, r.private_port, r.protocol, r.tags, dict(r.attrs))
        for r in container_registrations(data, options).registrations
    ]


# --- naming rules, table-driven -------------------------------------------------------------

SINGLE = inspect("single")
MULTI = inspect("multi")
ANY = inspect("anyaddr")
P8080 = host_port(SINGLE, "8080/tcp")
P80, P443, P53 = host_port(MULTI, "80/tcp"), host_port(MULTI, "443/tcp"), host_port(MULTI, "53/udp")
P8081 = host_port(ANY, "8081/tcp")

CASES = [
    # (case id, fixture, env, labels, image, options, expected [(name, ip, port, private, proto, tags, attrs)])
    ("SERVICE_NAME env", "single", [], {}, None, Options(), [("service_1", "127.0.0.1", P8080, 8080, "tcp", (), {})]),
    (
        "image basename when no name",
        "single",
        ["SERVICE_NAME="],
        {},
        "registry.example:5000/team/web:1.2",
        Options(),
        [("web", "127.0.0.1", P8080, 8080, "tcp", (), {})],
    ),
    (
        "label wins over env",
        "single",
        ["SERVICE_NAME=from_env"],
        {"SERVICE_NAME": "from_label"},
        None,
        Options(),
        [("from_label", "127.0.0.1", P8080, 8080, "tcp", (), {})],
    ),
    (
        "SERVICE_<port>_NAME wins over SERVICE_NAME",
        "single",
        ["SERVICE_8080_NAME=by_port"],
        {"SERVICE_NAME": "general"},
        None,
        Options(),
        [("by_port", "127.0.0.1", P8080, 8080, "tcp", (), {})],
    ),
    (
        "several published ports get a -<port> suffix, unpublished skipped, udp tagged",
        "multi",
        [],
        {},
        "nginx:1.25",
        Options(),
        [
            ("nginx-53", "127.0.0.1", P53, 53, "udp", ("udp",), {}),
            ("nginx-80", "127.0.0.1", P80, 80, "tcp", (), {}),
            ("nginx-443", "127.0.0.1", P443, 443, "tcp", (), {}),
        ],
    ),
    (
        "a port-scoped name takes no suffix",
        "multi",
        ["SERVICE_NAME=web", "SERVICE_443_NAME=https"],
        {},
        None,
        Options(),
        [
            ("web-53", "127.0.0.1", P53, 53, "udp", ("udp",), {}),
            ("web-80", "127.0.0.1", P80, 80, "tcp", (), {}),
            ("https", "127.0.0.1", P443, 443, "tcp", (), {}),
        ],
    ),
    (
        "SERVICE_<port>_IGNORE drops one port (the others keep their suffix)",
        "multi",
        ["SERVICE_NAME=web", "SERVICE_53_IGNORE=1"],
        {},
        None,
        Options(),
        [("web-80", "127.0.0.1", P80, 80, "tcp", (), {}), ("web-443", "127.0.0.1", P443, 443, "tcp", (), {})],
    ),
    ("SERVICE_IGNORE drops the container", "multi", ["SERVICE_IGNORE=true"], {}, None, Options(), []),
    ("SERVICE_IGNORE as a label", "single", [], {"SERVICE_IGNORE": "yes"}, None, Options(), []),
    (
        "tags with an escaped comma, other keys become attrs",
        "single",
        [
            "SERVICE_TAGS=blue, v1\\,v2 ,",
            "SERVICE_REGION=eu-west",
            "SERVICE_CHECK_HTTP=/health",
            "SERVICE_ID=custom",
            "OTHER=x",
        ],
        {},
        None,
        Options(),
        [
            (
                "service_1",
                "127.0.0.1",
                P8080,
                8080,
                "tcp",
                ("blue", "v1,v2"),
                {"region": "eu-west", "check_http": "/health"},
            )
        ],
    ),
    (
        "port-scoped attrs only for their port; SERVICE_IGNORE_ME is an attr, not an ignore",
        "multi",
        ["SERVICE_NAME=web", "SERVICE_80_WEIGHT=5", "SERVICE_IGNORE_ME="],
        {},
        None,
        Options(),
        [
            ("web-53", "127.0.0.1", P53, 53, "udp", ("udp",), {"ignore_me": ""}),
            ("web-80", "127.0.0.1", P80, 80, "tcp", (), {"weight": "5", "ignore_me": ""}),
            ("web-443", "127.0.0.1", P443, 443, "tcp", (), {"ignore_me": ""}),
        ],
    ),
    (
        "-ip forces the advertised address",
        "single",
        [],
        {},
        None,
        Options(ip="10.1.2.3"),
        [("service_1", "10.1.2.3", P8080, 8080, "tcp", (), {})],
    ),
    (
        "0.0.0.0 binding advertises the host address; unpublished port skipped",
        "anyaddr",
        [],
        {},
        "svcctl/base:bookworm",
        Options(host_ip="192.0.2.7"),
        [("base", "192.0.2.7", P8081, 8081, "tcp", (), {})],
    ),
    ("-explicit skips containers without a name", "anyaddr", [], {}, None, Options(explicit=True), []),
    (
        "-explicit keeps named ones",
        "single",
        [],
        {},
        None,
        Options(explicit=True),
        [("service_1", "127.0.0.1", P8080, 8080, "tcp", (), {})],
    ),
    (
        "-internal: container IP and exposed port, unpublished ports too",
        "anyaddr",
        ["SERVICE_NAME=svc"],
        {},
        None,
        Options(internal=True),
        [
            ("svc-8081", ANY["NetworkSettings"]["IPAddress"], 8081, 8081, "tcp", (), {}),
            ("svc-9001", ANY["NetworkSettings"]["IPAddress"], 9001, 9001, "tcp", (), {}),
        ],
    ),
    (
        "host network: exposed ports are the host's",
        "hostnet",
        ["SERVICE_NAME=hostsvc"],
        {},
        None,
        Options(host_ip="192.0.2.7"),
        [("hostsvc", "192.0.2.7", 7000, 7000, "tcp", (), {})],
    ),
    ("paused containers are not registered", "paused", ["SERVICE_NAME=p"], {}, None, Options(), []),
    ("stopped containers are not registered", "stopped", ["SERVICE_NAME=s"], {}, None, Options(), []),
]


@pytest.mark.parametrize("case,fixture,env,labels,image,options,expected", CASES, ids=[c[0] for c in CASES])
def test_naming_rules(case, fixture, env, labels, image, options, expected):
    assert summary(inspect(fixture, env, labels, image), options) == expected


@pytest.mark.parametrize(
    "env,labels,reason",
    [
        ([], {"SERVICE_NAME": "a/b"}, "contains '/'"),
        (["SERVICE_NAME=.."], {}, "reserved"),
        (["SERVICE_NAME=bad\tname"], {}, "contains character"),
    ],
)
def test_bad_names_are_refused_with_a_reason(env, labels, reason):
    naming = container_registrations(inspect("single", env, labels))
    assert naming.registrations == []
    assert len(naming.refused) == 1 and reason in naming.refused[0].reason
    assert naming.refused[0].container_name == SINGLE["Name"].lstrip("/")


def test_an_empty_image_name_is_refused_not_registered():
    naming = container_registrations(inspect("single", ["SERVICE_NAME="], {}, image=""))
    assert naming.registrations == [] and naming.refused[0].reason == "empty service name"


def test_compose_labels_and_ids_are_carried():
    (reg,) = container_registrations(SINGLE).registrations
    assert reg.compose_project == "svcctl" and reg.compose_service == "service_1"
    assert (
        reg.container_id == SINGLE["Id"] and reg.container_hostname == SINGLE["Config"]["Hostname"] == SINGLE["Id"][:12]
    )
    assert reg.path(BASE) == f"/services/service_1/127.0.0.1:{P8080}"


@pytest.mark.parametrize(
    "image,name",
    [
        ("nginx", "nginx"),
        ("nginx:1.25", "nginx"),
        ("registry.example:5000/team/web:1.2", "web"),
        ("web@sha256:abcd", "web"),
        ("a/b/c", "c"),
    ],
)
def test_image_basename(image, name):
    assert image_basename(image) == name


@pytest.mark.parametrize(
    "text,tags", [("", []), ("a", ["a"]), ("a,b", ["a", "b"]), ("a\\,b,c", ["a,b", "c"]), (" a , ,b ", ["a", "b"])]
)
def test_split_tags(text, tags):
    assert split_tags(text) == tags


def test_metadata_port_scoped_key_wins_whatever_the_order():
    for env in (["SERVICE_80_NAME=p", "SERVICE_NAME=g"], ["SERVICE_NAME=g", "SERVICE_80_NAME=p"]):
        metadata, from_port = service_metadata(env, {}, "80")
        assert metadata["name"] == "p" and from_port == {"name"}
    metadata, _ = service_metadata(["SERVICE_80_NAME=p", "SERVICE_NAME=g"], {}, "443")
    assert metadata["name"] == "g"


def test_name_problem_accepts_ordinary_names():
    assert name_problem("service_1") is None and name_problem("web-80") is None


# --- payload ---------------------------------------------------------------------------------


def test_payload_has_registrators_keys_exactly_then_ours():
    (reg,) = container_registrations(inspect("single", ["SERVICE_TAGS=a", "SERVICE_X=y"])).registrations
    raw = RegistrationPayload.of(reg, ENGINE, "registrator1", 1700000000.5).encode()
    body = json.loads(raw)
    assert list(body) == ["Name", "IP", "PublicPort", "PrivatePort", "ContainerID", "Tags", "Attrs", "svcctl"]
    assert body["Name"] == "service_1" and body["IP"] == "127.0.0.1"
    assert body["PublicPort"] == P8080 and body["PrivatePort"] == 8080
    assert body["ContainerID"] == SINGLE["Id"][:12]
    assert body["Tags"] == ["a"] and body["Attrs"] == {"x": "y"}
    assert body["svcctl"] == {
        "container_id": SINGLE["Id"],
        "container_name": SINGLE["Name"].lstrip("/"),
        "compose_project": "svcctl",
        "compose_service": "service_1",
        "protocol": "tcp",
        "engine_id": ENGINE,
        "registrator": "registrator1",
        "registered_at": 1700000000.5,
    }
    assert b" " not in raw.replace(b"registered_at", b"")  # compact, like Go's encoding/json


def test_empty_tags_and_attrs_are_a_list_and_an_object_never_null():
    (reg,) = container_registrations(SINGLE).registrations
    body = json.loads(RegistrationPayload.of(reg, ENGINE, "r", 0.0).encode())
    assert body["Tags"] == [] and body["Attrs"] == {}


def test_decode_payload_round_trip_and_garbage():
    (reg,) = container_registrations(SINGLE).registrations
    assert RegistrationPayload.decode(RegistrationPayload.of(reg, ENGINE, "r", 1.0).encode())["Name"] == "service_1"
    decode = RegistrationPayload.decode
    assert decode(b"") is None and decode(b"not json") is None and decode(b"[1]") is None
    assert decode(b"\xff\xfe") is None


def test_same_as_ignores_only_the_registration_time():
    (reg,) = container_registrations(SINGLE).registrations
    a, b = (RegistrationPayload.decode(RegistrationPayload.of(reg, ENGINE, "r", t).encode()) for t in (1.0, 2.0))
    assert a != b and a.same_as(b)
    c = RegistrationPayload.decode(RegistrationPayload.of(reg, ENGINE, "other", 1.0).encode())
    assert not a.same_as(c)


def test_the_encoding_is_byte_for_byte_registrators_then_ours():
    reg = Registration(
        "svc",
        "10.0.0.1",
        32000,
        80,
        "udp",
        "f" * 64,
        "ffffffffffff",
        "web-1",
        "proj",
        "web",
        ("a", "udp"),
        (("k", "v"),),
    )
    assert RegistrationPayload.of(reg, "E", "r1", 1.5).encode() == (
        b'{"Name":"svc","IP":"10.0.0.1","PublicPort":32000,"PrivatePort":80,"ContainerID":"ffffffffffff",'
        b'"Tags":["a","udp"],"Attrs":{"k":"v"},"svcctl":{"container_id":"' + b"f" * 64 + b'","container_name":"web-1",'
        b'"compose_project":"proj","compose_service":"web","protocol":"udp","engine_id":"E","registrator":"r1",'
        b'"registered_at":1.5}}'
    )
    # A decoded payload encodes back to the same bytes (key order kept).
    data = RegistrationPayload.of(reg, "E", "r1", 1.5).encode()
    assert RegistrationPayload.decode(data).encode() == data


def test_the_payload_reads_typed_fields_and_is_a_mapping_of_the_raw_body():
    reg = Registration("svc", "10.0.0.1", 32000, 80, "udp", "f" * 64, "ffffffffffff", "web-1", tags=("udp",))
    payload = RegistrationPayload.decode(RegistrationPayload.of(reg, "E", "r1", 1.5).encode())
    assert (payload.name, payload.ip, payload.public_port, payload.private_port) == ("svc", "10.0.0.1", 32000, 80)
    assert (payload.container_id, payload.container_hostname) == ("f" * 64, "ffffffffffff")
    assert payload.container_name == "web-1"
    assert (payload.engine_id, payload.registrator, payload.registered_at, payload.protocol) == ("E", "r1", 1.5, "udp")
    assert payload.stamped and payload.is_udp and payload.endpoint == ("10.0.0.1", 32000)
    assert payload["Name"] == "svc" and list(payload)[:2] == ["Name", "IP"] and payload == json.loads(payload.encode())
    plain = RegistrationPayload.decode(b'{"Name": "svc", "PublicPort": true, "svcctl": "x"}')
    assert plain.public_port is None and not plain.stamped and plain.protocol == "tcp" and plain.endpoint is None
    assert plain.has_registrator_keys and not plain.wellformed
    assert not RegistrationPayload.decode(b'{"Name": "svc"}').has_registrator_keys


INSTANCE_PATH = "/services/svc/127.0.0.1:1"


def test_a_registration_is_judged_at_the_path_it_names():
    reg = Registration("svc", "127.0.0.1", 1, 80, "tcp", "c" * 64, "", "c")
    payload = RegistrationPayload.decode(RegistrationPayload.of(reg, "E", "r", 0.0).encode())
    assert payload.wellformed  # an empty ContainerID is registrator's own default when it knows none
    assert payload.is_registration_at(INSTANCE_PATH)
    assert not payload.is_registration_at("/services/svc/127.0.0.1:2")
    assert not payload.is_registration_at("/services/other/127.0.0.1:1")
    partial = RegistrationPayload.decode(b'{"Name": "svc", "IP": "127.0.0.1", "PublicPort": 1}')
    assert partial.names_node(INSTANCE_PATH) and not partial.is_registration_at(INSTANCE_PATH)


def test_names_container_by_full_id_short_id_or_hostname():
    full = "a" * 64
    stamped = RegistrationPayload.decode(json.dumps({"ContainerID": "bbbbbbbbbbbb", "svcctl": {"container_id": full}}))
    assert stamped.names_container(full) and not stamped.names_container("b" * 64)  # the full id wins
    short = RegistrationPayload.decode(b'{"ContainerID": "aaaaaaaaaaaa"}')
    assert short.names_container(full) and short.names_container("c" * 64, hostname="aaaaaaaaaaaa")
    assert not short.names_container("c" * 64)
    empty = RegistrationPayload.decode(b"{}")
    assert not empty.names_a_container and not empty.names_container(full)


# --- reconciliation plan ---------------------------------------------------------------------

ME, DEAD, OTHER_HOST = 0x100, 0x200, 0x300


def reg(name: str, port: int, cid: str = "c1") -> Registration:
    return Registration(name, "127.0.0.1", port, 80, "tcp", cid * 8, cid, f"/{cid}")


NO_BODY = {}


def node(
    r: Registration,
    owner: int,
    engine: str = ENGINE,
    version: int = 0,
    registrator: str = "me",
    body: dict | None = NO_BODY,
) -> ZnodeSnapshot:
    if body is NO_BODY:
        data = RegistrationPayload.of(r, engine, registrator, 5.0).encode()
    else:
        data = json.dumps(body).encode() if body is not None else b"not json"
    return ZnodeSnapshot(r.path(BASE), data, version=version, ephemeral_owner=owner)


def run_plan(desired: list[Registration], actual: list[ZnodeSnapshot]) -> list[tuple[str, str]]:
    wanted, _ = desired_map(desired, BASE)
    ops = plan(wanted, {n.path: n for n in actual}, engine_id=ENGINE, registrator_id="me", session_id=ME)
    return [(op.kind, op.path) for op in ops]


A, B, C = reg("svc", 1001), reg("svc", 1002, "c2"), reg("web", 2001, "c3")

PLAN_CASES = [
    ("empty tree: create everything", [A, B], [], [("create", A.path(BASE)), ("create", B.path(BASE))]),
    ("in sync: nothing", [A], [node(A, ME)], []),
    (
        "registered at another time only: nothing",
        [A],
        [node(A, ME, body={**json.loads(RegistrationPayload.of(A, ENGINE, "me", 99.0).encode())})],
        [],
    ),
    ("ours, no longer running: delete", [], [node(A, ME)], [("delete", A.path(BASE))]),
    ("ours, data changed: update", [A], [node(reg("svc", 1001, "zz"), ME)], [("update", A.path(BASE))]),
    (
        "left by a dead registrator of this engine, still running: replace",
        [A],
        [node(A, DEAD, registrator="dead")],
        [("replace", A.path(BASE))],
    ),
    (
        "left by a dead registrator of this engine, gone: delete",
        [],
        [node(A, DEAD, registrator="dead")],
        [("delete", A.path(BASE))],
    ),
    ("another engine's node: never deleted", [], [node(C, OTHER_HOST, engine="OTHER")], []),
    (
        "another engine's node on a path we want: conflict, left alone",
        [C],
        [node(C, OTHER_HOST, engine="OTHER")],
        [("conflict", C.path(BASE))],
    ),
    (
        "a foreign writer's node (no svcctl key): conflict",
        [A],
        [node(A, OTHER_HOST, body={"Name": "svc"})],
        [("conflict", A.path(BASE))],
    ),
    ("a non-JSON node we do not own: left alone", [], [node(A, OTHER_HOST, body=None)], []),
    (
        "mixed: deletes first, then by path",
        [B, C],
        [node(A, ME), node(B, ME)],
        [("delete", A.path(BASE)), ("create", C.path(BASE))],
    ),
]


@pytest.mark.parametrize("case,desired,actual,expected", PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_plan(case, desired, actual, expected):
    assert run_plan(desired, actual) == expected


def test_plan_carries_versions_for_versioned_writes():
    wanted, _ = desired_map([A], BASE)
    (op,) = plan(
        wanted,
        {A.path(BASE): node(A, DEAD, version=7, registrator="dead")},
        engine_id=ENGINE,
        registrator_id="me",
        session_id=ME,
    )
    assert op.kind == "replace" and op.version == 7 and op.registration == A


def test_plan_without_a_session_never_claims_ownership():
    wanted, _ = desired_map([A], BASE)
    ops = plan(wanted, {A.path(BASE): node(A, 0)}, engine_id=ENGINE, registrator_id="me", session_id=0)
    assert [op.kind for op in ops] == ["replace"]


def test_plan_is_idempotent_once_applied():
    # Applying a plan and planning again yields nothing: the fixed point of reconciliation.
    desired = [A, B, C]
    actual = {n.path: n for n in [node(A, DEAD, registrator="dead"), node(reg("old", 9), ME)]}
    wanted, _ = desired_map(desired, BASE)
    for op in plan(wanted, actual, engine_id=ENGINE, registrator_id="me", session_id=ME):
        if op.kind == "delete":
            del actual[op.path]
        elif op.kind in ("create", "replace", "update"):
            actual[op.path] = node(op.registration, ME)
    assert plan(wanted, actual, engine_id=ENGINE, registrator_id="me", session_id=ME) == []


def test_duplicate_paths_are_reported_apart():
    tcp = reg("dns", 53)
    udp = Registration("dns", "127.0.0.1", 53, 53, "udp", "c1" * 8, "c1", "/c1", tags=("udp",))
    wanted, duplicates = desired_map([tcp, udp], BASE)
    assert list(wanted.values()) == [tcp] and duplicates == [udp]


# --- the scope (-label-filter) -----------------------------------------------------------------

PROJECT_LABEL = "com.docker.compose.project"


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("com.docker.compose.project=dev", "com.docker.compose.project", "dev"),
        ("com.docker.stack.namespace", "com.docker.stack.namespace", None),
        ("k=", "k", ""),  # an empty value matches only an empty value, as docker ps --filter
        ("k=a=b", "k", "a=b"),  # the first = splits
    ],
)
def test_label_filter_parses_key_and_value(text, key, value):
    parsed = LabelFilter.parse(text)
    assert (parsed.key, parsed.value) == (key, value) and str(parsed) == text


@pytest.mark.parametrize("text", ["", "=dev", "a key=dev", "   "])
def test_a_bad_label_filter_is_one_error_naming_the_form(text):
    with pytest.raises(BadInputError, match="bad -label-filter") as caught:
        LabelFilter.parse(text)
    assert "KEY=VALUE" in caught.value.fix


def inspect_of_scoped(value: str) -> dict:
    return inspect("single", ["SERVICE_NAME=service_2"], {PROJECT_LABEL: "dev", "io.svcctl.scoped": value})


def test_a_negated_filter_leaves_out_the_containers_carrying_the_label():
    excluded = LabelFilter.parse("!io.svcctl.scoped=true")
    assert (excluded.key, excluded.value, excluded.negated) == ("io.svcctl.scoped", "true", True)
    assert str(excluded) == "!io.svcctl.scoped=true"
    assert in_scope({}, (excluded,)) and in_scope({"io.svcctl.scoped": "false"}, (excluded,))
    assert not in_scope({"io.svcctl.scoped": "true", PROJECT_LABEL: "dev"}, (excluded,))
    assert not in_scope({"k": "v"}, (LabelFilter.parse("!k"),))


def test_the_default_projects_registrators_leave_out_named_projects_workload():
    from svcctl.ensemble.project import registrator_label_filter, scoped_label

    assert registrator_label_filter("svcctl") == "!io.svcctl.scoped=true"
    assert registrator_label_filter("dev") == f"{PROJECT_LABEL}=dev"
    assert registrator_label_filter("dev", "com.docker.stack.namespace") == "com.docker.stack.namespace=dev"
    assert (scoped_label("svcctl"), scoped_label("dev")) == ("false", "true")
    default = Options(label_filters=(LabelFilter.parse(registrator_label_filter("svcctl")),))
    assert not container_registrations(inspect_of_scoped("true"), default).registrations
    assert container_registrations(inspect_of_scoped("false"), default).registrations


def test_in_scope_needs_every_filter_and_no_filter_takes_every_container():
    labels = {PROJECT_LABEL: "dev", "com.docker.compose.service": "service_2"}
    assert in_scope(labels, ())
    assert in_scope(None, ())
    assert in_scope(labels, (LabelFilter(PROJECT_LABEL, "dev"),))
    assert in_scope(labels, (LabelFilter(PROJECT_LABEL),))
    assert not in_scope(labels, (LabelFilter(PROJECT_LABEL, "svcctl"),))
    assert not in_scope(labels, (LabelFilter(PROJECT_LABEL, "dev"), LabelFilter("com.docker.stack.namespace")))
    assert not in_scope({}, (LabelFilter(PROJECT_LABEL, ""),))
    assert in_scope({PROJECT_LABEL: ""}, (LabelFilter(PROJECT_LABEL, ""),))


def test_an_out_of_scope_container_yields_no_registration_and_says_why():
    dev = inspect("single", labels={PROJECT_LABEL: "dev"})
    other = inspect("single", labels={PROJECT_LABEL: "svcctl"})
    unlabelled = inspect("single")
    scoped = Options(label_filters=(LabelFilter(PROJECT_LABEL, "dev"),))
    assert summary(dev, scoped) == summary(dev)  # in scope: the naming rules as without a filter
    assert summary(dev)
    for data in (other, unlabelled):
        naming = container_registrations(data, scoped)
        assert naming.registrations == [] and naming.refused == []
        assert naming.ignored == [f"*: out of scope (-label-filter {PROJECT_LABEL}=dev)"]
    assert summary(other) and summary(unlabelled)  # unscoped: every container of the engine


def test_a_swarm_stack_filter_selects_its_task_containers():
    task = inspect("single", labels={"com.docker.stack.namespace": "shop", "com.docker.swarm.service.name": "shop_web"})
    stack = Options(label_filters=(LabelFilter("com.docker.stack.namespace", "shop"),))
    assert summary(task, stack)
    assert not summary(inspect("single", labels={PROJECT_LABEL: "shop"}), stack)


def test_the_plan_deletes_this_engines_node_of_an_out_of_scope_container_and_no_other_engines():
    # An out-of-scope container is not desired: its node is this engine's (stale here) or
    # another engine's (left alone), whoever wrote it.
    mine, theirs = reg("service_2", 32001), reg("service_2", 32002)
    actual = {
        mine.path(BASE): node(mine, DEAD, registrator="unscoped"),
        theirs.path(BASE): node(theirs, DEAD, engine="OTHER:ENGINE"),
    }
    ops = plan({}, actual, engine_id=ENGINE, registrator_id="me", session_id=ME)
    assert [(op.kind, op.path) for op in ops] == [("delete", mine.path(BASE))]
