"""A cluster over three simulated Docker hosts, end to end: quorum across hosts, per-host
scaling registered with the host's address, HTTP through those addresses, the engines refusing an
outsider (TLS client certificates only), a host's crash and
return, `ps --all-hosts` against ZooKeeper, the same cluster secured (TLS+ACL over hosts), and
`hosts down` leaving nothing behind.
The hosts and the ensemble start once per run (the `hosts_cluster` fixture); the tests run in
file order and the last one takes everything down. Observers are independent: the docker SDK on
each host's engine and kazoo on the members."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.helpers_services import http_answer
from tests.support import HOSTS_IMAGES, HOSTS_PROJECT, LOADED_MACHINE_SLACK_S, ROOT, run_svcctl, wait_for

SESSION_TIMEOUT = 10.0  # the registrators' -session-timeout (compose/hosts.yml)
CRASH_BOUND = SESSION_TIMEOUT + 2.0 + LOADED_MACHINE_SLACK_S


@pytest.fixture(scope="module")
def hosts_zk(hosts_cluster):
    from svcctl.config.settings import parse_zk_hosts
    from svcctl.zk.client import zk_session

    with zk_session(parse_zk_hosts(hosts_cluster.zk), connect_timeout=30) as client:
        yield client


def engine(hosts_cluster, name: str):
    """A client of one host's engine through its Docker context (TLS, the context's certificate)."""
    import os

    from svcctl.config.engines import context_endpoint
    from svcctl.docker.engine import client_for

    return client_for(context_endpoint(name, os.environ), timeout=30)


def published(hosts_cluster, name: str) -> dict[str, str]:
    """`<host address>:<port>` -> container id for each running service_2 container on that host."""
    found = {}
    for container in engine(hosts_cluster, name).containers.list(
        filters={"label": f"com.docker.compose.project={HOSTS_PROJECT}"}
    ):
        for binding in container.attrs["NetworkSettings"]["Ports"].get("80/tcp") or []:
            found[f"{binding['HostIp']}:{binding['HostPort']}"] = container.id
    return found


def children(zk, service: str = "service_2") -> set[str]:
    from kazoo.exceptions import NoNodeError

    try:
        return set(zk.get_children(f"/services/{service}"))
    except NoNodeError:
        return set()


def of_host(nodes: set[str], address: str) -> set[str]:
    return {n for n in nodes if n.startswith(f"{address}:")}


def test_quorum_across_hosts(hosts_cluster):
    status = json.loads(run_svcctl("cluster", "status", "--json", env=hosts_cluster.env).stdout)
    members = status["members"]
    assert [m["host"] for m in members] == hosts_cluster.names
    assert [m["member"] for m in members] == [f"{hosts_cluster.addresses[n]}:2181" for n in hosts_cluster.names]
    assert sorted(m["mode"] for m in members) == ["follower", "follower", "leader"]
    assert all(m["state"] == "running" for m in members)

    # Two registrators per host, one of them the active writer of that host's engine. Quorum is
    # what `cluster up` waits for; a registrator contends once its own session is up: wait for that.
    def roles() -> dict[str, list[str]]:
        rows = json.loads(run_svcctl("cluster", "status", "--json", env=hosts_cluster.env).stdout)["registrators"]
        return {
            name: sorted(r["role"] for r in rows if r["container"].startswith(f"{name}-"))
            for name in hosts_cluster.names
        }

    wait_for(
        lambda: all(found == ["active", "standby"] for found in roles().values()),
        "one active and one standby registrator on every host",
        timeout=60,
    )
    # Later commands find the members without --zk: the layout is recorded.
    layout = json.loads((ROOT / ".svcctl" / f"cluster-{HOSTS_PROJECT}.json").read_text())
    assert [h["context"] for h in layout["hosts"]] == hosts_cluster.names


def _engine_version(address: str, port: int, context: ssl.SSLContext | None) -> str:
    """What GET /version on a host's engine port gives this caller: the engine's version, or
    the refusal (the exception's class and text)."""
    connection = (
        http.client.HTTPSConnection(address, port, context=context, timeout=10)
        if context
        else http.client.HTTPConnection(address, port, timeout=10)
    )
    try:
        connection.request("GET", "/version")
        response = connection.getresponse()
        body = response.read()
        return json.loads(body)["Version"] if response.status == 200 else f"HTTP {response.status}"
    except (OSError, ValueError, KeyError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        connection.close()


def _tls_as(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # the engine's name is not the question here: its client check is
    context.load_verify_locations(str(ca))
    if cert:
        context.load_cert_chain(str(cert), str(key))
    return context


def test_host_engines_refuse_an_outsider(hosts_cluster, tmp_path):
    """A process of this machine reaches every host's bridge address. As an outsider it has the
    engines' public ca.pem and no client key of ours: no engine answers it — no plain TCP port,
    no TLS session without a client certificate, none with a certificate of another CA — while
    the Docker context's identity (the positive control) does."""
    from svcctl.security.pki import engine_pki_dir, ensure_engine_pki

    pki = engine_pki_dir(ROOT / ".svcctl", HOSTS_PROJECT)
    stranger, _ = ensure_engine_pki(
        tmp_path / "stranger", {"stranger": "127.0.0.1"}
    )  # the outsider's own CA and client certificate
    client = pki / "client"
    for name, address in hosts_cluster.addresses.items():
        control = _engine_version(address, 2376, _tls_as(pki / "ca.pem", client / "cert.pem", client / "key.pem"))
        assert control[:1].isdigit(), (name, control)
        attempts = {
            "plain 2375 (Docker's unauthenticated port)": _engine_version(address, 2375, None),
            "plain HTTP on 2376": _engine_version(address, 2376, None),
            "TLS with the CA, no client certificate": _engine_version(address, 2376, _tls_as(pki / "ca.pem")),
            "TLS with a client certificate of another CA": _engine_version(
                address,
                2376,
                _tls_as(pki / "ca.pem", stranger.client_dir / "cert.pem", stranger.client_dir / "key.pem"),
            ),
        }
        answered = {attempt: result for attempt, result in attempts.items() if result[:1].isdigit()}
        assert answered == {}, (name, answered)
        assert "ConnectionRefusedError" in attempts["plain 2375 (Docker's unauthenticated port)"]
        assert attempts["plain HTTP on 2376"] == "HTTP 400"  # Go's TLS server answering a plain request
    # The keys stay this user's: an outsider of another uid reads none of them (the contexts'
    # copies of the client key included).
    import os

    from svcctl.config.engines import context_endpoint

    contexts = [Path(context_endpoint(name, os.environ).tls_dir) / "key.pem" for name in hosts_cluster.names]
    for key in [pki / "ca-key.pem", client / "key.pem", *(pki / "engines").glob("*/key.pem"), *contexts]:
        assert key.stat().st_mode & 0o077 == 0, key


def test_scale_per_host_registers_the_host_address(hosts_cluster, hosts_zk):
    host2, host3 = hosts_cluster.names[1], hosts_cluster.names[2]
    run_svcctl("--context", host2, "scale", "service_2", "2", env=hosts_cluster.env)
    run_svcctl("--context", host3, "scale", "service_2", "1", env=hosts_cluster.env)
    on2, on3 = published(hosts_cluster, host2), published(hosts_cluster, host3)
    assert len(on2) == 2 and len(on3) == 1
    assert all(key.startswith(hosts_cluster.addresses[host2] + ":") for key in on2)
    wait_for(
        lambda: children(hosts_zk) == set(on2) | set(on3),
        f"ZooKeeper to hold exactly {sorted(on2) + sorted(on3)}",
        timeout=30,
    )
    engine_id = engine(hosts_cluster, host2).info()["ID"]
    for key, container_id in on2.items():
        data, _ = hosts_zk.get(f"/services/service_2/{key}")
        ours = json.loads(data)["svcctl"]
        assert ours["engine_id"] == engine_id and ours["container_id"] == container_id
    # Each instance answers from this machine at the address ZooKeeper gives.
    for key in children(hosts_zk):
        assert wait_for(lambda key=key: _answers(key), f"http://{key}/ to answer", timeout=30)


def _answers(endpoint: str) -> bool:
    try:
        return http_answer(endpoint) == "This is Service 2."
    except OSError:
        return False


def test_ps_all_hosts_agrees_with_zookeeper(hosts_cluster, hosts_zk):
    report = json.loads(run_svcctl("ps", "--all-hosts", "--json", env=hosts_cluster.env).stdout)
    instances = report["instances"]
    assert report["hosts_down"] == []
    assert {i["host"] for i in instances} == set(hosts_cluster.names[1:])
    assert all(i["registered"] == "yes" for i in instances), instances
    assert {i["znode"].rsplit("/", 1)[1] for i in instances} == children(hosts_zk)


def test_the_live_view_over_hosts_shows_every_host(hosts_cluster, hosts_zk):
    """`svcctl ui` on the cluster over hosts: its snapshot (what the page draws, from /api/state)
    has the three members with their hosts and one leader, every host's registrators, the
    registry's instances equal to ZooKeeper's, Docker's side from every host with no difference,
    and the hosts' engine events in its stream (a container started on host 1 shows there)."""
    from svcctl.net import direct_opener
    from tests.support import stable_port_pair, svcctl_server

    port = stable_port_pair(f"{HOSTS_PROJECT}-ui", 6000, 1000)
    url = f"http://127.0.0.1:{port}/api/state"

    def state() -> dict:
        with direct_opener().open(url, timeout=5) as response:
            return json.loads(response.read())

    try:
        with svcctl_server(["ui", "--port", str(port)], url, env=hosts_cluster.env):
            zk_children = children(hosts_zk)
            wait_for(
                lambda: {i["address"] for i in state()["services"].get("service_2", [])} == zk_children,
                "the page's service_2 instances == ZooKeeper's",
                timeout=30,
            )
            snapshot = wait_for(lambda: (s := state())["members"] and s["docker"] and s, "the polled panels")
            assert snapshot["over_hosts"] is True
            assert [m["host"] for m in snapshot["members"]] == hosts_cluster.names
            assert sorted(m["mode"] for m in snapshot["members"]) == ["follower", "follower", "leader"]
            ids = {r["container"] for r in snapshot["registrators"]}
            assert {f"{n}-registrator{i}" for n in hosts_cluster.names for i in (1, 2)} <= ids
            assert {r["host"] for r in snapshot["docker"]} == set(hosts_cluster.names[1:])
            assert snapshot["differences"] == {}, snapshot["differences"]
            run_svcctl("--context", hosts_cluster.names[0], "scale", "service_2", "1", env=hosts_cluster.env)
            host1 = hosts_cluster.names[0]
            wait_for(
                lambda: any(e["source"] == "docker" and e["text"].endswith(f"on {host1}") for e in state()["events"]),
                f"an engine event of {host1} in the stream",
                timeout=30,
            )
    finally:
        run_svcctl("--context", hosts_cluster.names[0], "scale", "service_2", "0", env=hosts_cluster.env, check=False)


def test_host_crash_and_return(hosts_cluster, hosts_zk):
    from svcctl.config.settings import parse_zk_hosts
    from svcctl.zk.client import zk_session

    host3 = hosts_cluster.names[2]
    address3 = hosts_cluster.addresses[host3]
    before = children(hosts_zk)
    theirs, others = of_host(before, address3), before - of_host(before, address3)
    assert theirs and others
    run_svcctl("hosts", "stop", host3, env=hosts_cluster.env)
    crashed_at = time.monotonic()
    # Exactly host3's registrations go, within the session timeout + 2 s; the others stay.
    while of_host(children(hosts_zk), address3):
        assert others <= children(hosts_zk), "another host's registration went with host3"
        assert time.monotonic() - crashed_at <= CRASH_BOUND, (
            f"{sorted(of_host(children(hosts_zk), address3))} still there {CRASH_BOUND}s after the crash"
        )
        time.sleep(0.1)
    gone_after = time.monotonic() - crashed_at
    assert children(hosts_zk) == others
    # Two of three members keep the quorum: writes still commit.
    survivors = ",".join(f"{hosts_cluster.addresses[n]}:2181" for n in hosts_cluster.names[:2])
    with zk_session(parse_zk_hosts(survivors), connect_timeout=15) as writer:
        path = writer.create("/e2e-hosts-quorum-", b"x", sequence=True, ephemeral=True)
        assert writer.exists(path)
    status = json.loads(run_svcctl("cluster", "status", "--json", env=hosts_cluster.env, check=False).stdout)
    modes = {m["host"]: m["mode"] for m in status["members"]}
    assert sorted(modes[n] for n in hosts_cluster.names[:2]) == ["follower", "leader"] and modes[host3] == "down"
    print(f"host3's registrations gone {gone_after:.1f}s after the crash")

    # The return: the member rejoins and the instance (restart policy) registers again, no command.
    run_svcctl("hosts", "start", host3, env=hosts_cluster.env)
    wait_for(
        lambda: of_host(children(hosts_zk), address3),
        f"{address3}'s instance registered again",
        timeout=90,
        interval=0.2,
    )
    assert set(published(hosts_cluster, host3)) == of_host(children(hosts_zk), address3)
    assert children(hosts_zk) >= others

    def rejoined():
        nodes = json.loads(run_svcctl("cluster", "status", "--json", env=hosts_cluster.env, check=False).stdout)[
            "members"
        ]
        return sorted(m["mode"] for m in nodes) == ["follower", "follower", "leader"]

    wait_for(rejoined, "host3's member back in the quorum", timeout=90, interval=1.0)


def test_fault_scenario_host_crash_loses_no_request(hosts_cluster, hosts_zk):
    """`scenario run host-crash`, three times in a row: a follower's host killed under the
    consumers' load. Every request is answered (the other hosts' instances), the crashed host's
    registrations go with its registrators' sessions, and after the host's return ZooKeeper
    equals Docker on every host."""
    for attempt in range(1, 4):
        host_crash_run(hosts_cluster, hosts_zk, attempt)


def host_crash_run(hosts_cluster, zk, attempt: int) -> None:
    proc = run_svcctl("scenario", "run", "host-crash", "--json", env=hosts_cluster.env, check=False, timeout=600)
    report = json.loads(proc.stdout)
    run = report["faults"][0]
    assert proc.returncode == 0 and report["ok"], (attempt, run["problems"])
    assert run["scenario"] == "host-crash" and run["victim"] in hosts_cluster.names
    assert run["gateway"]["sent"] > 100 and run["gateway"]["failed"] == 0, (attempt, run["gateway"])
    assert run["cache_calls"]["sent"] > 0 and run["cache_calls"]["failed"] == 0, (attempt, run["cache_calls"])
    crashed = hosts_cluster.addresses[run["victim"]]
    theirs = of_host(set(run["instances_before"]), crashed)
    assert theirs and set(run["instances_before"]) - theirs  # instances on the crashed host and on survivors
    assert run["max_missing_s"] == 0 and all(a not in run["missing_s"] for a in theirs)
    assert run["converge_s"] is not None and run["unroutable_s"] is not None
    # Afterwards: every host's instance registered again and UP in the gateway.
    on_hosts = set().union(*(published(hosts_cluster, n) for n in hosts_cluster.names))
    assert set(run["haproxy"]) == on_hosts and set(run["haproxy"].values()) == {"UP"}
    wait_for(lambda: children(zk) == on_hosts, f"ZooKeeper to hold exactly {sorted(on_hosts)}", timeout=30)
    print(
        f"host-crash run {attempt} ({run['victim']}): gateway {run['gateway']['sent']} sent / "
        f"{run['gateway']['failed']} failed, "
        f"cache {run['cache_calls']['sent']} / {run['cache_calls']['failed']}, out of the cache "
        f"{run['unroutable_s']}s, "
        f"ZooKeeper == Docker {run['converge_s']}s after the crash, {run['seconds']}s in all"
    )


def registrator_ids(hosts_cluster, name: str) -> dict[str, str]:
    return {c.name: c.id for c in engine(hosts_cluster, name).containers.list(filters={"name": f"{name}-registrator"})}


def volume_files(hosts_cluster, name: str, volume: str) -> dict[str, tuple[int, int, bytes]]:
    """file -> (uid, mode, content) of a volume on one host's engine, read through a container
    that never starts."""
    import io
    import tarfile

    client = engine(hosts_cluster, name)
    image = next(i for i in client.images.list() if any(t.startswith("svcctl/zookeeper:") for t in i.tags))
    reader = client.containers.create(
        image.id,
        command=["true"],
        entrypoint=[],
        network_mode="none",
        volumes={volume: {"bind": "/v", "mode": "ro"}},
        labels={"SERVICE_IGNORE": "true"},
    )
    try:
        stream, _ = reader.get_archive("/v/.")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            return {
                m.name.rsplit("/", 1)[-1]: (m.uid, m.mode & 0o777, tar.extractfile(m).read())
                for m in tar.getmembers()
                if m.isfile()
            }
    finally:
        reader.remove(force=True)


def test_secured_over_hosts(hosts_cluster):
    """`cluster up --hosts … --secure`: TLS and ACLs over three hosts, one registrator identity
    per host (each host writes under service nodes another made), the walkthrough over TLS, an
    outsider with ca.pem refused at every member, one host's identity rotated without touching
    the others, and the host-crash fault over TLS. The open cluster goes first (a cluster never
    changes mode in place)."""
    from kazoo.exceptions import NoAuthError
    from kazoo.handlers.threading import KazooTimeoutError
    from kazoo.security import make_acl

    from tests.e2e.helpers_secure import PKI, tls_client

    env = hosts_cluster.env
    contexts = ",".join(hosts_cluster.names)
    refused = run_svcctl("cluster", "up", "--hosts", contexts, "--secure", env=env, check=False)
    assert (
        refused.returncode != 0
        and "cannot become TLS+ACL in place" in refused.stderr
        and "Traceback" not in refused.stderr
    )
    run_svcctl("cluster", "down", "--volumes", env=env, timeout=300)
    up = run_svcctl("cluster", "up", "--hosts", contexts, "--secure", "--timeout", "180", env=env, timeout=400)
    assert "security: TLS+ACL" in up.stdout
    for name in hosts_cluster.names:
        run_svcctl("--context", name, "scale", "service_2", "1", env=env)
    zk = tls_client("reader:cli", hosts=hosts_cluster.zk)
    try:
        on_hosts = set().union(*(published(hosts_cluster, n) for n in hosts_cluster.names))
        assert all(of_host(on_hosts, a) for a in hosts_cluster.addresses.values())
        # Every host's instance registered under the one service node, whoever created it.
        wait_for(lambda: children(zk) == on_hosts, f"ZooKeeper to hold exactly {sorted(on_hosts)}", timeout=60)
        for key in children(zk):
            assert wait_for(lambda key=key: _answers(key), f"http://{key}/ to answer", timeout=30)
        listed = run_svcctl("zk", "ls", "/services/service_2", env=env).stdout.split()
        assert set(listed) == on_hosts
        identities = {f"CN=svcctl-registrator@{n}" for n in hosts_cluster.names}
        acl, _ = zk.get_acls("/services/service_2")
        assert {a.id.id for a in acl if a.id.scheme == "x509" and a.perms == 31} == identities
        assert [(a.id.scheme, a.perms) for a in acl if a.id.scheme == "world"] == [("world", 1)]
        # cluster status tells the hosts' registrators apart by identity.
        rows = json.loads(run_svcctl("cluster", "status", "--json", env=env).stdout)["registrators"]
        for name in hosts_cluster.names:
            assert {
                r["identity"] for r in rows if r["container"].startswith(f"{name}-") and r["role"] != "unknown"
            } == {f"CN=svcctl-registrator@{name}"}
        # A reader holds a session but writes nothing.
        for attempt in (
            lambda: zk.create("/services/service_2/6.6.6.6:66", b"x"),
            lambda: zk.delete(f"/services/service_2/{sorted(on_hosts)[0]}"),
            lambda: zk.set_acls("/services", [make_acl("world", "anyone", all=True)]),
            lambda: zk.create("/planted", b"x"),
        ):
            with pytest.raises(NoAuthError):
                attempt()
    finally:
        zk.stop()
        zk.close()
    # An outsider with only ca.pem opens no session at any member.
    for name in hosts_cluster.names:
        with pytest.raises(KazooTimeoutError):
            tls_client(hosts=f"{hosts_cluster.addresses[name]}:2181", start_timeout=4)
    # Each host's part of the PKI, never another host's keys nor a CA key, on its engine's
    # volumes, read back from that engine: owned by the containers' uid, keys 0600.
    assert sorted(p.name for p in (PKI / "hosts").iterdir() if p.name in hosts_cluster.names) == sorted(
        hosts_cluster.names
    )
    from svcctl.config.settings import container_uid_from_env
    from svcctl.security.pki import container_owner

    owner = container_owner(container_uid_from_env())[0]
    secrets = {path.read_bytes(): path for path in PKI.rglob("*key.pem")}
    for name in hosts_cluster.names:
        for part, source in (
            ("member", PKI / "hosts" / name / "member"),
            ("registrator", PKI / "hosts" / name / "registrator"),
        ):
            shipped = volume_files(hosts_cluster, name, f"{HOSTS_PROJECT}-pki-{part}")
            assert set(shipped) == {p.name for p in source.glob("*.pem")}, (name, part)
            for file, (uid, mode, data) in shipped.items():
                assert uid == owner and data == (source / file).read_bytes(), (name, part, file)
                if file.endswith("key.pem"):
                    assert mode == 0o600 and secrets[data].parent == source, (name, part, file)

    # One host's identity re-issued: its registrators recreated on the new key, the others untouched.
    host2 = hosts_cluster.names[1]
    before = {n: registrator_ids(hosts_cluster, n) for n in hosts_cluster.names}
    old_cert = (PKI / "hosts" / host2 / "registrator" / "cert.pem").read_bytes()
    rotated = json.loads(run_svcctl("pki", "rotate", "--host", host2, "--json", env=env, timeout=300).stdout)
    assert rotated == {"host": host2, "subject": f"CN=svcctl-registrator@{host2}", "rotated": True}
    assert (PKI / "hosts" / host2 / "registrator" / "cert.pem").read_bytes() != old_cert
    after = {n: registrator_ids(hosts_cluster, n) for n in hosts_cluster.names}
    assert set(after[host2]) == set(before[host2]) and not set(after[host2].values()) & set(before[host2].values())
    assert all(after[n] == before[n] for n in hosts_cluster.names if n != host2)
    bad = run_svcctl("pki", "rotate", "--host", "nohost", env=env, check=False)
    assert bad.returncode == 2 and "is not a host of project" in bad.stderr

    # The walkthrough over TLS on one host's engine (only there a registrator of the cluster
    # watches); on this machine's engine it is refused with the fix.
    walk = run_svcctl("--context", hosts_cluster.names[0], "scenario", "run", "all", "--json", env=env, timeout=300)
    report = json.loads(walk.stdout)
    assert report["ok"] and [s["converged"] for s in report["steps"]] == [True] * 4
    elsewhere = run_svcctl("scenario", "run", "all", env=env, check=False)
    assert elsewhere.returncode == 2 and f"--context {hosts_cluster.names[0]} scenario run all" in elsewhere.stderr

    # The host-crash fault over TLS: no request lost, the registry converges.
    zk = tls_client("reader:cli", hosts=hosts_cluster.zk)
    try:
        wait_for(
            lambda: of_host(children(zk), hosts_cluster.addresses[host2]),
            f"{host2}'s instance registered again after the rotation",
            timeout=60,
        )
        host_crash_run(hosts_cluster, zk, 1)
    finally:
        zk.stop()
        zk.close()


def test_hosts_join_one_swarm_with_three_managers(hosts_cluster):
    """`hosts up 3 --swarm`: the running hosts form one swarm, 3 managers (one leads raft), each
    node ready and labelled with its host's name; a service pinned by that label runs on that
    host; `hosts ls` shows the roles; a second `--swarm` changes nothing."""
    env = hosts_cluster.env

    def up() -> list[dict]:
        proc = run_svcctl("hosts", "up", "3", "--swarm", "--images", HOSTS_IMAGES, "--json", env=env, timeout=900)
        return json.loads(proc.stdout)

    hosts = up()
    assert {h["name"]: h["swarm_role"] for h in hosts} == dict(
        zip(hosts_cluster.names, ["leader", "manager", "manager"], strict=True)
    )
    assert {h["swarm_state"] for h in hosts} == {"ready"}
    first = engine(hosts_cluster, hosts_cluster.names[0])
    nodes = {n.id: n.attrs for n in first.nodes.list()}
    assert sorted(a["Description"]["Hostname"] for a in nodes.values()) == sorted(hosts_cluster.names)
    assert all(a["Spec"]["Labels"].get("io.svcctl.host") == a["Description"]["Hostname"] for a in nodes.values())
    target = hosts_cluster.names[2]
    from svcctl.toolkit.images import PHP_SERVICE_2

    service = first.services.create(
        PHP_SERVICE_2.tag,  # on every host already, and it runs as it is
        name="svcctl-e2e-pinned",
        constraints=[f"node.labels.io.svcctl.host == {target}"],
        labels={"SERVICE_IGNORE": "true"},
        env=["SERVICE_IGNORE=true"],
    )
    try:
        wait_for(
            lambda: [t for t in service.tasks() if t["Status"]["State"] == "running"],
            timeout=60,
            what="the pinned task to run",
        )
        [task] = [t for t in service.tasks() if t["Status"]["State"] == "running"]
        assert nodes[task["NodeID"]]["Description"]["Hostname"] == target
    finally:
        service.remove()
    assert {h["swarm_role"] for h in up()} == {"leader", "manager"}
    assert set(nodes) == {n.id for n in first.nodes.list()}  # nobody joined twice
    table = run_svcctl("hosts", "ls", env=env).stdout.splitlines()
    assert "swarm" in table[0] and all("ready" in line for line in table[2:])


def test_hosts_down_leaves_nothing_behind(hosts_cluster):
    import docker

    env = hosts_cluster.env
    run_svcctl("cluster", "down", "--volumes", env=env)
    assert not (ROOT / ".svcctl" / f"cluster-{HOSTS_PROJECT}.json").exists()
    for name in hosts_cluster.names:  # the cluster's volumes, its shipped PKI among them, go with it
        left = [v.name for v in engine(hosts_cluster, name).volumes.list() if v.name.startswith(HOSTS_PROJECT)]
        assert left == [], (name, left)
    run_svcctl("hosts", "down", env=env)
    outer = docker.from_env()
    label = {"label": f"io.svcctl.hosts.project={HOSTS_PROJECT}"}
    assert outer.containers.list(all=True, filters=label) == []
    assert outer.volumes.list(filters=label) == []
    assert [n.name for n in outer.networks.list(names=[f"{HOSTS_PROJECT}-hosts"])] == []
    contexts = subprocess.run(
        ["docker", "context", "ls", "--format", "{{.Name}}"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [c for c in contexts if c.startswith(f"{HOSTS_PROJECT}-host")]
    from svcctl.security.pki import engine_pki_dir

    assert not engine_pki_dir(ROOT / ".svcctl", HOSTS_PROJECT).exists()
    assert json.loads(run_svcctl("hosts", "ls", "--json", env=env).stdout) == []
