"""Secure mode end to end: the real secured ensemble (`cluster up --secure`: TLS-only client
ports, quorum TLS, ACLs) with its registrators behind the read-only Docker API proxy, in a test
project of its own (tests/e2e/helpers_secure.py); started once per session."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.helpers_registrator import build_tiny, children, host_port, node, remove_all, run_tiny, unique, wait_for
from tests.e2e.helpers_secure import (
    PKI,
    PREFIX,
    SECURE_PORTS,
    SECURE_PROJECT,
    SECURE_ZK,
    identity_files,
    secure_env,
    tls_client,
)
from tests.e2e.helpers_zk import payload as registration_payload
from tests.support import LOADED_MACHINE_SLACK_S, run_svcctl, svcctl_env

SESSION_TIMEOUT = 10.0  # compose/registrator.yml's -session-timeout
OWNER = f"{SECURE_PROJECT}-test"


def secure_json(*args: str, **kwargs):
    return json.loads(run_svcctl(*args, "--json", env=secure_env(), **kwargs).stdout)


def one_error_line(proc) -> str:
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("svcctl: error: ") and "; fix: " in line and "Traceback" not in proc.stderr
    return line


@pytest.fixture
def owner(engine, secure_cluster):
    build_tiny(engine)
    try:
        yield OWNER
    finally:
        remove_all(engine, OWNER)


def test_plain_client_is_refused_on_the_tls_port(secure_cluster):
    from kazoo.client import KazooClient
    from kazoo.handlers.threading import KazooTimeoutError

    plain = KazooClient(hosts=SECURE_ZK, timeout=10)
    with pytest.raises(KazooTimeoutError):
        plain.start(timeout=4)
    plain.stop()
    plain.close()
    # svcctl without TLS (another project's view: no secured cluster recorded) says what it is.
    proc = run_svcctl("zk", "ls", "/", check=False, env=svcctl_env(SVCCTL_ZK=SECURE_ZK))
    assert proc.returncode == 4 and "accepts TLS connections only" in one_error_line(proc)


def test_a_reader_reads_the_ca_alone_is_refused_and_the_mode_is_shown(secure_cluster, reader_zk, tmp_path):
    assert "services" in reader_zk.get_children("/") and "svcctl" in reader_zk.get_children("/")
    # A consumer of another project, given only ca.pem, opens no session: one line naming the fix.
    proc = run_svcctl(
        "--zk-ca", str(PKI / "ca.pem"), "zk", "ls", "/", check=False, env=svcctl_env(SVCCTL_ZK=SECURE_ZK), timeout=60
    )
    assert (
        proc.returncode == 2 and "without a client certificate" in one_error_line(proc) and "pki issue" in proc.stderr
    )
    # Given a reader identity of its own (`pki issue`), it reads with svcctl too.
    issued = secure_json("pki", "issue", "e2e-consumer", "--role", "reader", "--force")
    assert issued["subject"] == "CN=svcctl-reader@e2e-consumer" and issued["key"].startswith(str(PKI))
    ls = json.loads(
        run_svcctl(
            "--zk-ca",
            issued["ca"],
            "--zk-cert",
            issued["cert"],
            "--zk-key",
            issued["key"],
            "zk",
            "ls",
            "/",
            "--json",
            env=svcctl_env(SVCCTL_ZK=SECURE_ZK),
        ).stdout
    )
    assert "services" in ls
    assert {"admin", "registrator", "cli", "gateway", "e2e-consumer"} <= {r["name"] for r in secure_json("pki", "ls")}
    status = secure_json("cluster", "status")
    assert status["security"]["mode"] == "tls+acl"
    assert sorted(m["mode"] for m in status["members"]) == ["follower", "follower", "leader"]  # srvr over TLS
    assert len([r for r in status["registrators"] if r["role"] == "active"]) == 1
    # The mode never changes in place.
    proc = run_svcctl("cluster", "up", check=False, env=secure_env())
    assert proc.returncode == 6 and "cluster down --volumes" in one_error_line(proc)


def test_a_readers_create_delete_set_are_refused(secure_cluster, reader_zk):
    from kazoo.exceptions import NoAuthError
    from kazoo.security import make_acl

    registrator = tls_client("registrator")
    service = f"/services/{unique('acl')}"
    try:
        registrator.create(f"{service}/127.0.0.1:1", b"{}", ephemeral=True, makepath=True)
        assert reader_zk.get(f"{service}/127.0.0.1:1")[0] == b"{}"  # readable by anyone
        attempts = {
            "create under /services": lambda: reader_zk.create(f"/services/{unique('forged')}", b""),
            "create a registration": lambda: reader_zk.create(f"{service}/127.0.0.1:2", b"{}"),
            "delete a registration": lambda: reader_zk.delete(f"{service}/127.0.0.1:1"),
            "set a registration": lambda: reader_zk.set(f"{service}/127.0.0.1:1", b"forged"),
            "set a service node": lambda: reader_zk.set(service, b"forged"),
            "set /services' ACL": lambda: reader_zk.set_acls("/services", [make_acl("world", "anyone", all=True)]),
            "create under /svcctl": lambda: reader_zk.create(f"/svcctl/{unique('forged')}", b""),
        }
        for what, attempt in attempts.items():
            with pytest.raises(NoAuthError):
                attempt()
                pytest.fail(f"{what} was allowed")
        assert reader_zk.get(f"{service}/127.0.0.1:1")[0] == b"{}"
    finally:
        registrator.delete(service, recursive=True)
        registrator.stop()
        registrator.close()


def test_registrations_appear_on_scale_and_vanish_on_stop(secure_cluster, reader_zk, engine):
    def endpoints() -> set[str]:
        found = set()
        for container in engine.containers.list(
            filters={"label": f"com.docker.compose.project={SECURE_PROJECT}", "status": "running"}
        ):
            if container.labels.get("com.docker.compose.service") == "service_2":
                found.add(f"127.0.0.1:{host_port(container, '80/tcp')}")
        return found

    def registered() -> set[str]:
        return set(children(reader_zk, "/services/service_2") or [])

    try:
        run_svcctl("scale", "service_2", "2", env=secure_env())
        ours = endpoints()
        assert len(ours) == 2
        wait_for(lambda: ours <= registered(), "both instances registered", timeout=30)
        payload, stat = node(reader_zk, f"/services/service_2/{sorted(ours)[0]}")
        assert stat.ephemeralOwner and payload["Name"] == "service_2"
        rows = secure_json("ps")
        assert {r["znode"].rsplit("/", 1)[1] for r in rows if r["registered"] == "yes"} >= ours
    finally:
        run_svcctl("stop", "service_2", env=secure_env())
    wait_for(lambda: not (ours & registered()), "both registrations removed", timeout=30)


def test_sigkill_of_the_active_registrator_is_restored_by_a_standby_over_tls(secure_cluster, reader_zk, engine, owner):
    service = unique("ssigkill")
    container = run_tiny(engine, owner, {"SERVICE_NAME": service}, project=SECURE_PROJECT)
    path = f"/services/{service}/127.0.0.1:{host_port(container)}"
    _, stat = wait_for(lambda: node(reader_zk, path), f"{path} to appear", timeout=30)
    [leader] = [r for r in secure_json("registrator", "status") if r["role"] == "active"]
    assert leader["id"].startswith(PREFIX)
    try:
        killed_at = time.monotonic()
        engine.containers.get(leader["id"]).kill()
        # The registration goes when the ensemble expires the dead session (its timeout, counted
        # from the session's last packet and rounded up to ZooKeeper's 2 s tick); a standby then
        # takes over and restores it.
        gone_at = restored_at = None
        deadline = killed_at + SESSION_TIMEOUT + 50
        while restored_at is None and time.monotonic() < deadline:
            found = node(reader_zk, path)
            if found is None and gone_at is None:
                gone_at = time.monotonic()
            elif found is not None and found[1].ephemeralOwner != stat.ephemeralOwner:
                restored_at, restored = time.monotonic(), found[1]
            time.sleep(0.02)
        assert restored_at is not None, f"{path} not restored by a standby"
        expired_after, restored_after = (gone_at or restored_at) - killed_at, restored_at - killed_at
        print(
            f"over TLS: session expired {expired_after:.1f}s after SIGKILL, registration restored "
            f"{restored_after:.1f}s after it "
            f"({restored_at - (gone_at or restored_at):.2f}s after the expiry)"
        )
        assert expired_after <= SESSION_TIMEOUT + 2 + LOADED_MACHINE_SLACK_S  # ZooKeeper's tick
        assert (
            restored_at - (gone_at or restored_at) <= 2.0 + LOADED_MACHINE_SLACK_S
        )  # the takeover: election + resync over TLS
        [successor] = [r for r in secure_json("registrator", "status") if r["role"] == "active"]
        assert successor["id"] != leader["id"] and hex(restored.ephemeralOwner) == successor["session"]
    finally:
        run_svcctl("cluster", "up", "--secure", "--timeout", "180", env=secure_env())


def test_prune_removes_a_planted_stale_node_with_the_admin_identity(secure_cluster, reader_zk, engine):
    from kazoo.security import make_acl

    registrator = tls_client("registrator")
    acl = [make_acl("x509", "CN=svcctl-registrator", all=True), make_acl("world", "anyone", read=True)]
    base = "/" + unique("sprune")
    service = unique("stale")
    stale = f"{base}/{service}/127.0.0.1:40001"
    body = json.loads(registration_payload(service, 40001, "f" * 64))
    body["svcctl"]["engine_id"] = "OTHER-ENGINE"  # not this engine's: judged by its owner session alone
    admin = tls_client("admin")
    try:
        admin.create(base, b"", acl=acl)  # the root is the admin's: only it makes top-level nodes
        registrator.create(f"{base}/{service}", b"", acl=acl)
        registrator.create(stale, json.dumps(body).encode(), acl=acl)  # persistent: no session will remove it
        # A reader (a consumer's identity): proposed, but the ACL refuses the delete.
        cert, key = identity_files("reader:cli")
        reader = json.loads(
            run_svcctl(
                "--zk-ca",
                str(PKI / "ca.pem"),
                "--zk-cert",
                cert,
                "--zk-key",
                key,
                "zk",
                "prune",
                base,
                "--yes",
                "--json",
                env=svcctl_env(SVCCTL_ZK=SECURE_ZK),
            ).stdout
        )
        assert {n["path"]: n["outcome"] for n in reader["nodes"]}[stale] == "skipped (NoAuthError)"
        assert reader_zk.exists(stale) is not None
        # From the project: the admin identity (x509 super user) deletes it.
        done = secure_json("zk", "prune", base, "--yes")
        assert {n["path"]: (n["reason"], n["outcome"]) for n in done["nodes"]}[stale] == ("no owner session", "deleted")
        assert reader_zk.exists(stale) is None
    finally:
        run_svcctl("zk", "rm", base, "-r", "--yes", check=False, env=secure_env())
        for client in (registrator, admin):
            client.stop()
            client.close()
    assert reader_zk.exists(base) is None  # zk rm as admin too


def test_a_registrators_docker_api_refuses_containers_create(secure_cluster, engine):
    registrator = engine.containers.get(f"{PREFIX}registrator1")
    assert not [
        m for m in registrator.attrs["Mounts"] if "docker.sock" in m.get("Source", "") + m.get("Destination", "")
    ]
    script = (
        "import docker\n"
        "c = docker.from_env()\n"
        "print('read', len(c.containers.list()) > 0, c.version()['ApiVersion'])\n"
        "for name, call in (('create', lambda: c.containers.create('svcctl/base:bookworm', 'true')),\n"
        "                   ('images', lambda: c.images.list()), ('exec', lambda: "
        "c.api.exec_create(c.containers.list()[0].id, 'true'))):\n"
        "    try:\n"
        "        call(); print(name, 'ALLOWED')\n"
        "    except docker.errors.APIError as exc:\n"
        "        print(name, exc.status_code)\n"
    )
    code, output = registrator.exec_run(["python3", "-c", script])
    lines = output.decode().split("\n")
    assert code == 0 and lines[0].startswith("read True"), output
    assert lines[1:4] == ["create 403", "images 403", "exec 403"], output


def test_wrong_ca_missing_and_refused_certificates_are_one_line_errors(secure_cluster, tmp_path):
    from svcctl.security.pki import ensure_pki

    (tmp_path / "compose").mkdir()
    other, _ = ensure_pki(tmp_path / "pki")  # a CA the ensemble does not know
    env = svcctl_env(SVCCTL_ZK=SECURE_ZK)
    cases = [
        (["--zk-ca", str(other.ca)], 2, "is not signed by the CA"),
        (["--zk-ca", str(tmp_path / "nope.pem")], 2, "no such file"),
        (["--zk-ca", str(PKI / "ca.pem"), "--zk-cert", str(PKI / "admin" / "cert.pem")], 2, "without --zk-key"),
        # A client certificate from another CA: the members refuse the handshake.
        (
            ["--zk-ca", str(PKI / "ca.pem"), "--zk-cert", str(other.admin.cert), "--zk-key", str(other.admin.key)],
            2,
            "refused the client certificate",
        ),
        (["--zk-ca", str(PKI / "ca.pem")], 2, "without a client certificate"),
    ]
    for options, code, text in cases:
        started = time.monotonic()
        proc = run_svcctl(*options, "zk", "ls", "/", check=False, env=env, timeout=60)
        assert proc.returncode == code and text in one_error_line(proc), (options, proc)
        assert time.monotonic() - started < 20  # never a hang


def test_doctor_warns_that_the_open_cluster_is_open(cluster):
    checks = {c["name"]: c for c in json.loads(run_svcctl("doctor", "--json").stdout)}
    assert checks["security"]["status"] == "WARN" and "open" in checks["security"]["detail"]


def test_doctor_is_content_with_the_secured_cluster(secure_cluster):
    checks = {c["name"]: c for c in secure_json("doctor")}
    assert checks["zookeeper"]["status"] == "OK" and checks["security"]["status"] == "OK"
    assert SECURE_PORTS  # the members answered ruok over TLS on these ports


def test_registrator_run_takes_the_tls_options_and_names_a_wrong_ca(secure_cluster, tmp_path):
    from svcctl.security.pki import ensure_pki

    (tmp_path / "compose").mkdir()
    other, _ = ensure_pki(tmp_path / "pki")
    uri = f"zookeeper://{SECURE_ZK}/services"
    env = svcctl_env(SVCCTL_ZK=SECURE_ZK)
    proc = run_svcctl("registrator", "run", "-zk-ca", str(tmp_path / "nope.pem"), uri, check=False, env=env, timeout=60)
    assert proc.returncode == 2 and "no such file" in one_error_line(proc)
    proc = run_svcctl(
        "registrator",
        "run",
        "--zk-ca",
        str(other.ca),
        "-retry-attempts",
        "2",
        "-retry-interval",
        "500",
        uri,
        check=False,
        env=env,
        timeout=120,
    )
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 4 and last.startswith("svcctl: error: ") and "is not signed by the CA" in last, (
        proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_the_gateway_routes_from_the_registry_with_a_reader_identity_of_its_own(secure_cluster, engine):
    """The gateway container on the secured project: it mounts its own reader identity only
    (readers/gateway), opens a session with it, and routes to what the registry holds."""
    import http.client

    from tests.e2e.helpers_zk import register, remove_containers, start_responder
    from tests.support import stable_port_pair

    # 30000-31998: apart from the test gateway's ports and below the ephemeral range.
    port = stable_port_pair(SECURE_PROJECT, 30000, span=1000)
    registrator = tls_client("registrator")
    service = unique("sgw")
    responder, responder_port = start_responder(engine)
    try:
        run_svcctl("gateway", "up", "--port", str(port), "--stats-port", str(port + 1), env=secure_env(), timeout=300)
        gateway = engine.containers.get(f"{PREFIX}gateway")
        [mount] = [m for m in gateway.attrs["Mounts"] if m["Destination"] == "/pki"]
        assert mount["Source"].endswith("/readers/gateway") and mount["RW"] is False
        register(registrator, service, responder_port, responder.id)

        def routed() -> int:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                conn.request("GET", "/", headers={"service_name": service})
                return conn.getresponse().status
            except OSError:
                return -1
            finally:
                conn.close()

        wait_for(lambda: routed() == 200, "the secured gateway to route the new service", timeout=30)
        logs = gateway.logs().decode(errors="replace")
        assert "Traceback" not in logs
    finally:
        run_svcctl("gateway", "down", check=False, env=secure_env())
        registrator.delete(f"/services/{service}", recursive=True)
        registrator.stop()
        registrator.close()
        remove_containers([responder])


def test_an_installed_copy_keeps_its_pki_and_mode_in_the_state_directory(images, tmp_path):
    """svcctl installed from its wheel (as pipx would: a venv of its own, run outside any
    checkout) brings a secured cluster up and writes nothing under site-packages: the PKI and
    the mode file go to $XDG_STATE_HOME/svcctl/<project>/."""
    import shutil
    import subprocess
    import sys

    from tests.support import ROOT, TEST_ZK_PORTS

    # svcctl's own wheel from a clean copy of the checkout (with compose/, images/, services/ in
    # svcctl/_project), its dependencies from the wheels `svcctl build registrator` made.
    src, out, venv = tmp_path / "src", tmp_path / "wheel", tmp_path / "venv"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "wheels", ".svcctl", "*.egg-info", "build")
    for part in ("cli", "compose", "images", "services"):
        shutil.copytree(ROOT / part, src / part, ignore=ignore)
    for part in ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in"):
        shutil.copy2(ROOT / part, src / part)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(src)], check=True, timeout=600
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "-q",
            "--no-index",
            "--find-links",
            str(ROOT / "images" / "registrator" / "wheels" / "deps"),
            *map(str, out.glob("svcctl-*.whl")),
        ],
        check=True,
        timeout=600,
    )
    [site] = list((venv / "lib").glob("python3*/site-packages/svcctl"))

    def snapshot() -> dict[str, tuple[int, float]]:
        return {
            str(p.relative_to(site)): (p.stat().st_size, p.stat().st_mtime)
            for p in site.rglob("*")
            if "__pycache__" not in p.parts
        }

    before = snapshot()
    project = f"{SECURE_PROJECT}-installed"
    ports = ",".join(str(int(p) + 4000) for p in TEST_ZK_PORTS.split(","))
    env = svcctl_env(
        SVCCTL_PROJECT=project,
        SVCCTL_ZK_PORTS=ports,
        SVCCTL_ZK=",".join(f"127.0.0.1:{p}" for p in ports.split(",")),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    env.pop("SVCCTL_PROJECT_DIR")

    def installed(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(venv / "bin" / "svcctl"), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0 or not check, f"svcctl {' '.join(args)}: {proc.stderr}"
        return proc

    try:
        installed("cluster", "up", "--secure", "--timeout", "180")
        assert "services" in json.loads(installed("zk", "ls", "/", "--json").stdout)  # as its reader, over TLS
        state = tmp_path / "state" / "svcctl" / project
        assert (state / "pki" / "ca.pem").is_file() and (state / "pki" / "readers" / "cli" / "key.pem").is_file()
        assert (state / "clusters" / f"{project}.mode").read_text().strip() == "tls+acl"
        assert snapshot() == before and not list(site.rglob(".svcctl"))
    finally:
        installed("cluster", "down", "--volumes", check=False)
