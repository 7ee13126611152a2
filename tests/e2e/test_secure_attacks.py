"""Secure mode against an outsider on the same machine: a local process that has the public
ca.pem and no client key, run against the secured test ensemble (started once per session, with
an outsider racing its start: tests/e2e/conftest.py). Each attack is scripted as the outsider
would run it and must be refused or harmless; where a certificate holder (a reader) could go
further, the test shows what it still cannot do."""

from __future__ import annotations

import calendar
import json
import socket
import ssl
import subprocess
import time

import pytest

from tests.e2e.helpers_registrator import unique
from tests.e2e.helpers_secure import (
    PKI,
    PREFIX,
    READER,
    SECURE_PORTS,
    SECURE_PROJECT,
    SECURE_ZK,
    secure_env,
    session_password,
    tls_client,
    without_time_wait,
)
from tests.support import SVCCTL, run_svcctl

ADMIN_NODES = ("/", "/zookeeper", "/zookeeper/quota")
REGISTRY_ACL = sorted(["x509:CN=svcctl-registrator:31", "world:anyone:1"])
ADMIN_ACL = sorted(["x509:CN=svcctl-admin:31", "world:anyone:1"])


def acl_strings(acls) -> list[str]:
    return sorted(f"{a.id.scheme}:{a.id.id}:{a.perms}" for a in acls)


def outsider_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(str(PKI / "ca.pem"))
    return context


def election_node(engine) -> str:
    return f"/svcctl/registrators/{engine.info()['ID']}"


def registrator_containers(engine):
    return [engine.containers.get(f"{PREFIX}registrator{i}") for i in (1, 2, 3)]


def test_an_outsider_with_the_ca_opens_no_session_on_any_member(secure_cluster):
    from kazoo.client import KazooClient
    from kazoo.handlers.threading import KazooTimeoutError

    for port in SECURE_PORTS:
        # The handshake completes on our side; the member then refuses: certificate required.
        with without_time_wait(socket.create_connection(("127.0.0.1", port), timeout=5)) as raw:
            with outsider_context().wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                sock.settimeout(5)
                with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
                    sock.sendall(b"srvr")
                    sock.recv(64)
        client = KazooClient(hosts=f"127.0.0.1:{port}", use_ssl=True, ca=str(PKI / "ca.pem"), timeout=5)
        with pytest.raises(KazooTimeoutError):
            client.start(timeout=4)  # so no create, set, delete or setACL of any node either
        client.stop()
        client.close()


def test_the_admins_nodes_and_the_registry_refuse_every_write_of_a_certificate_holder(
    secure_cluster, reader_zk, engine
):
    """Beyond the outsider: a reader (a trusted consumer's certificate) writes nothing anywhere,
    not the root, /zookeeper or its quota node, nor the registry's base or election nodes."""
    from kazoo.exceptions import BadArgumentsError, NoAuthError
    from kazoo.security import make_acl

    admin = tls_client("admin")
    try:
        for path in ADMIN_NODES:
            assert acl_strings(admin.get_acls(path)[0]) == ADMIN_ACL, path
        registry_nodes = ["/services", "/svcctl", "/svcctl/registrators", election_node(engine)]
        for path in registry_nodes:
            assert acl_strings(admin.get_acls(path)[0]) == REGISTRY_ACL, path
    finally:
        admin.stop()
        admin.close()
    world_all = [make_acl("world", "anyone", all=True)]
    tried = 0
    for path in (*ADMIN_NODES, *registry_nodes):
        child = f"{path.rstrip('/')}/{unique('forged')}"
        attempts = {
            # a big node: an outsider's way to fill the members' memory
            "create a child": lambda child=child: reader_zk.create(child, b"x" * 512 * 1024),
            "set its data": lambda path=path: reader_zk.set(path, b"forged"),
            "set its ACL": lambda path=path: reader_zk.set_acls(path, world_all),
        }
        if path not in ("/", "/zookeeper"):
            attempts["delete it"] = lambda path=path: reader_zk.delete(path)
        for what, attempt in attempts.items():
            tried += 1
            # ZooKeeper refuses deleting its own quota node to anyone, before looking at ACLs.
            with pytest.raises(
                (NoAuthError, BadArgumentsError) if (path, what) == ("/zookeeper/quota", "delete it") else NoAuthError
            ):
                attempt()
                pytest.fail(f"a reader could {what} on {path}")
    assert tried == 3 * 7 + 5
    assert "forged" not in " ".join(reader_zk.get_children("/"))
    for path in ADMIN_NODES:
        assert acl_strings(reader_zk.get_acls(path)[0]) == ADMIN_ACL, path  # unchanged


def test_a_registrators_session_cannot_be_ended_by_an_outsider_who_derives_its_password(
    secure_cluster, reader_zk, engine
):
    """ZooKeeper derives a session's password from its id, and every ephemeral node shows its
    owner's id: the outsider computes the password, but cannot open a connection to use it."""
    from kazoo.client import KazooClient
    from kazoo.handlers.threading import KazooTimeoutError

    path = election_node(engine)
    locks = {child: reader_zk.exists(f"{path}/{child}") for child in reader_zk.get_children(path)}
    assert len(locks) == 3 and all(stat.ephemeralOwner for stat in locks.values())
    for stat in locks.values():
        hijacker = KazooClient(
            hosts=SECURE_ZK,
            use_ssl=True,
            ca=str(PKI / "ca.pem"),
            timeout=10,
            client_id=(stat.ephemeralOwner, session_password(stat.ephemeralOwner)),
        )
        with pytest.raises(KazooTimeoutError):
            hijacker.start(timeout=4)
        hijacker.stop()
        hijacker.close()
    time.sleep(1)
    after = {child: reader_zk.exists(f"{path}/{child}") for child in reader_zk.get_children(path)}
    assert {c: s.ephemeralOwner for c, s in after.items()} == {
        c: s.ephemeralOwner for c, s in locks.items()
    }  # every session lives


def test_what_a_certificate_holder_can_still_do_end_a_session_whose_id_it_reads(secure_cluster):
    """The residual risk the README names: the derivation is right (ZooKeeper hands a session the
    very password we compute), so a certificate holder can re-attach to a session by id and close
    it. Shown on a throwaway reader session, not a registrator's."""
    from kazoo.protocol.states import KazooState

    victim = tls_client(READER)
    states = []
    victim.add_listener(states.append)
    session_id, password = victim.client_id
    assert session_password(session_id) == password
    thief = tls_client(READER, client_id=(session_id, session_password(session_id)))
    try:
        assert thief.client_id[0] == session_id
    finally:
        thief.stop()  # closes the session it re-attached to
        thief.close()
    deadline = time.monotonic() + 20
    while KazooState.LOST not in states and time.monotonic() < deadline:
        time.sleep(0.1)
    assert KazooState.LOST in states, states
    victim.stop()
    victim.close()


def test_nothing_was_planted_while_cluster_up_secure_started(secure_start, engine):
    """An outsider polled every member from before `cluster up --secure` until it returned: the
    members' ports answered it (refused handshakes) but no session opened, so nothing it tried to
    plant exists, and the registry's nodes were made by the admin before any registrator ran."""
    zk, outsider = secure_start
    assert outsider.refused > 0, vars(outsider)  # it did reach the members' ports during the start
    assert outsider.sessions == 0 and outsider.planted == []
    admin = tls_client("admin")
    try:
        from svcctl.zk import ops

        for root in ("/services", "/svcctl"):
            children = ops.walk(admin, root)
            for path in [root, *ops.descendants(root, children)]:
                assert acl_strings(admin.get_acls(path)[0]) == REGISTRY_ACL, path
                assert admin.get(path)[0] != b"attacker", path
        created = admin.exists(election_node(engine)).ctime / 1000
    finally:
        admin.stop()
        admin.close()
    for container in registrator_containers(engine):
        started = container.attrs["State"]["StartedAt"]
        started_at = calendar.timegm(time.strptime(started[:19], "%Y-%m-%dT%H:%M:%S"))
        assert created < started_at + 1, (container.name, created, started)  # +1: StartedAt's seconds are truncated
    status = json.loads(run_svcctl("registrator", "status", "--json", env=secure_env()).stdout)
    active = [r for r in status if r["role"] == "active"]
    assert len(active) == 1 and active[0]["id"].startswith(PREFIX)


def test_cluster_up_secure_repairs_the_registry_and_removes_a_foreign_election_lock(secure_cluster, engine):
    """What an outsider planted against an older version (or a reader, had it the rights) is
    repaired by the next `cluster up --secure`, which names each repair."""
    from kazoo.security import make_acl

    world_all = [make_acl("world", "anyone", all=True)]
    planted_service = f"/services/{unique('planted')}"
    planted_lock = f"{election_node(engine)}/attacker__lock__0000000000"  # first in line: "attacker active"
    # Its creator chose the ACL: one naming the registrator identity does not make a lock ours.
    impostor_lock = f"{election_node(engine)}/impostor__lock__0000000001"
    registry_acl = [make_acl("x509", "CN=svcctl-registrator", all=True), make_acl("world", "anyone", read=True)]
    admin = tls_client("admin")
    try:
        admin.create(planted_service, b"", acl=world_all)
        admin.create(planted_lock, json.dumps({"id": "attacker"}).encode(), acl=world_all, ephemeral=True)
        admin.create(
            impostor_lock, json.dumps({"id": "attacker", "role": "active"}).encode(), acl=registry_acl, ephemeral=True
        )
        proc = run_svcctl("cluster", "up", "--secure", "--timeout", "180", env=secure_env())
        said = proc.stdout + proc.stderr
        assert f"removed election lock {planted_lock}" in said and f"ACL of {planted_service} set" in said, said
        assert (
            f"removed election lock {impostor_lock}" in said and "'attacker', not a registrator of this project" in said
        ), said
        assert admin.exists(planted_lock) is None and admin.exists(impostor_lock) is None
        assert acl_strings(admin.get_acls(planted_service)[0]) == REGISTRY_ACL
        again = run_svcctl("cluster", "up", "--secure", "--timeout", "180", env=secure_env())
        assert "repaired:" not in again.stdout + again.stderr  # nothing left to repair
    finally:
        admin.delete(planted_service)
        admin.stop()
        admin.close()
    active = [
        r
        for r in json.loads(run_svcctl("registrator", "status", "--json", env=secure_env()).stdout)
        if r["role"] == "active"
    ]
    assert len(active) == 1 and active[0]["id"].startswith(PREFIX)


def _client_hello_only(port: int) -> socket.socket:
    """A TCP connection that sent a TLS ClientHello and will never say more (a held handshake)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = outsider_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    sock = without_time_wait(socket.create_connection(("127.0.0.1", port), timeout=5))
    sock.sendall(outgoing.read())
    return sock


def test_held_handshakes_do_not_lock_svcctl_out(secure_cluster, engine):
    """An outsider holding anonymous connections to take every member's slots: on every member,
    raw TCP connections, stalled ClientHellos and completed handshakes without a certificate
    (over the members' maxClientCnxns together) held open while `svcctl zk ls` runs."""
    per_kind = 70
    held: list[socket.socket] = []

    def zk_ls() -> tuple[int, float]:
        started = time.monotonic()
        proc = subprocess.run(
            [SVCCTL, "zk", "ls", "/", "--json"], env=secure_env(), capture_output=True, text=True, timeout=60
        )
        return proc.returncode, time.monotonic() - started

    baseline = zk_ls()
    try:
        for port in SECURE_PORTS:
            for _ in range(per_kind):
                held.append(without_time_wait(socket.create_connection(("127.0.0.1", port), timeout=5)))
                held.append(_client_hello_only(port))
                raw = without_time_wait(socket.create_connection(("127.0.0.1", port), timeout=5))
                try:
                    held.append(outsider_context().wrap_socket(raw, server_hostname="127.0.0.1"))
                except (ssl.SSLError, OSError):
                    held.append(raw)  # refused during the handshake itself: hold the socket anyway
        code, took = zk_ls()
        assert code == 0, "svcctl zk ls failed with the handshakes held"
        # A reader's session opens on each member, and the registrators (on the project network) keep theirs.
        for port in SECURE_PORTS:
            client = tls_client(READER, hosts=f"127.0.0.1:{port}", start_timeout=5)
            client.stop()
            client.close()
        status = json.loads(run_svcctl("registrator", "status", "--json", env=secure_env()).stdout)
        assert len([r for r in status if r["role"] == "active"]) == 1
        print(
            f"{len(held)} connections held ({per_kind} raw, {per_kind} stalled ClientHellos, {per_kind} "
            "certificate-less handshakes per member): "
            f"svcctl zk ls exit {code} in {took:.2f}s (baseline {baseline[1]:.2f}s, x{took / baseline[1]:.2f})"
        )
    finally:
        for sock in held:
            sock.close()


def test_a_member_accepts_only_the_other_members_on_its_quorum_port(secure_cluster, engine):
    network = f"{SECURE_PROJECT}_zk"
    address = engine.containers.get(f"{PREFIX}zoo1").attrs["NetworkSettings"]["Networks"][network]["IPAddress"]

    def quorum_handshake(cert: str, key: str) -> str:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.load_verify_locations(str(PKI / "quorum-ca.pem"))
        context.load_cert_chain(cert, key)
        try:
            with context.wrap_socket(
                socket.create_connection((address, 3888), timeout=5), server_hostname="zoo1"
            ) as sock:
                sock.settimeout(2)
                sock.recv(16)
                return "answered"
        except TimeoutError:
            return "accepted"  # the member waits for a peer's first message
        except (ssl.SSLError, ConnectionError) as exc:
            return f"refused ({type(exc).__name__})"

    assert quorum_handshake(str(PKI / "zoo2" / "quorum.pem"), str(PKI / "zoo2" / "quorum.pem")) == "accepted"
    for identity in ("registrator", "admin", "readers/cli"):
        outcome = quorum_handshake(str(PKI / identity / "cert.pem"), str(PKI / identity / "key.pem"))
        assert outcome.startswith("refused"), (identity, outcome)
    # Each member's client-port certificate names that member (and the loopback) only.
    for port, member in zip(SECURE_PORTS, ("zoo1", "zoo2", "zoo3"), strict=True):
        context = outsider_context()
        context.load_cert_chain(str(PKI / "readers" / "cli" / "cert.pem"), str(PKI / "readers" / "cli" / "key.pem"))
        with context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=5), server_hostname="127.0.0.1"
        ) as sock:
            names = {value for _, value in sock.getpeercert()["subjectAltName"]}
            assert names == {member, "localhost", "127.0.0.1"}, names
            assert sock.version() == "TLSv1.3"  # offered, and what a current client gets


def test_tls_1_2_cbc_suites_are_refused(secure_cluster):
    context = outsider_context()
    context.load_cert_chain(str(PKI / "readers" / "cli" / "cert.pem"), str(PKI / "readers" / "cli" / "key.pem"))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(
        "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA:AES128-SHA:AES256-SHA:AES128-SHA256:ECDHE-RSA-AES128-SHA256"
    )
    with pytest.raises(ssl.SSLError):
        context.wrap_socket(
            socket.create_connection(("127.0.0.1", SECURE_PORTS[0]), timeout=5), server_hostname="127.0.0.1"
        )


def test_registrators_members_and_the_proxy_run_with_least_privilege(secure_cluster, engine):
    for container in registrator_containers(engine):
        host = container.attrs["HostConfig"]
        assert container.attrs["Config"]["User"] not in ("", "0", "root") and not container.attrs["Config"][
            "User"
        ].startswith("0:")
        assert (
            host["CapDrop"] == ["ALL"]
            and "no-new-privileges:true" in host["SecurityOpt"]
            and host["ReadonlyRootfs"] is True
        )
        assert host["NetworkMode"] == f"{SECURE_PROJECT}_zk"  # not the host's network
        code, out = container.exec_run(
            [
                "python3",
                "-c",
                "import os; print(os.getuid(), open('/proc/self/status').read().split('CapEff:')[1].split()[0])",
            ]
        )
        uid, caps = out.decode().split()
        assert code == 0 and uid != "0" and int(caps, 16) == 0  # no NET_RAW, no capability at all
        code, _ = container.exec_run(["python3", "-c", "open('/planted', 'w')"])
        assert code != 0  # read-only root filesystem
    for member in ("zoo1", "zoo2", "zoo3"):
        container = engine.containers.get(f"{PREFIX}{member}")
        [pki] = [m for m in container.attrs["Mounts"] if m["Destination"] == "/pki"]
        assert pki["RW"] is False
        changed = [c["Path"] for c in container.diff() or []]
        assert not [p for p in changed if p.endswith((".pem", ".p12"))], (
            changed
        )  # no key copied into the writable layer
        code, out = container.exec_run(
            ["bash", "-c", "tr '\\0' ' ' < /proc/1/cmdline; grep -E '^(Uid|CapEff)' /proc/1/status"]
        )
        assert code == 0 and b"QuorumPeerMain" in out and out.split(b"Uid:")[1].split()[0] != b"0", (
            out
        )  # ZooKeeper is not root
        assert int(out.split(b"CapEff:")[1].split()[0], 16) == 0, out  # and holds no capability
        assert (
            container.attrs["HostConfig"]["CapDrop"] == ["ALL"]
            and "no-new-privileges:true" in container.attrs["HostConfig"]["SecurityOpt"]
        )
        assert container.attrs["State"]["Health"]["Status"] == "healthy"  # ruok on the loopback port still answers
    proxy = engine.containers.get(f"{PREFIX}docker-proxy")
    assert proxy.attrs["HostConfig"]["CapDrop"] == ["ALL"] and proxy.attrs["HostConfig"]["ReadonlyRootfs"] is True
    assert proxy.attrs["HostConfig"]["NetworkMode"] == "none"
    code, out = proxy.exec_run(["cat", "/etc/haproxy/haproxy.cfg"])
    servers = [line.split() for line in out.decode().splitlines() if line.strip().startswith("server ")]
    assert code == 0 and len(servers) == 2 and all("maxconn" in s for s in servers)
