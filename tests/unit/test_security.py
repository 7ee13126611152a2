"""Secure mode, pure parts: the PKI's files and modes, the Docker API proxy's allow-list (the
generated HAProxy rules evaluated as HAProxy does), client TLS resolution and validation, and the
registrator's handling of a session the ensemble refuses late."""

from __future__ import annotations

import datetime
import stat
import threading
import time
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature

from svcctl.config.settings import Settings
from svcctl.errors import BadInputError, ConflictError
from svcctl.registrator.session import RetryPolicy, SessionKeeper
from svcctl.security.dockerproxy import EVENTS_TIMEOUT, allowed, render_config
from svcctl.security.mode import ADMIN, OPEN, SECURE, client_tls, forget_mode, record_mode, recorded_mode
from svcctl.security.pki import ADMIN_CN, BUILTIN_READERS, MEMBERS, REGISTRATOR_CN, Pki, ensure_pki, issue
from svcctl.zk.tls import ZkTls, diagnose, read_cert


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    (root / "compose").mkdir()
    (root / "compose" / "zookeeper.yml").write_text("services: {}\n")
    ensure_pki(root / ".svcctl" / "pki")
    return root


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- the PKI ---------------------------------------------------------------------------------------


def test_every_key_is_0600_its_directories_0700_and_the_ca_is_public(project):
    pki = Pki(project / ".svcctl" / "pki")
    assert pki.complete()
    secrets = pki.secret_files()
    assert len(secrets) == 2 + 2 * len(MEMBERS) + 2 + len(BUILTIN_READERS)
    for path in secrets:
        assert mode(path) == 0o600, path
        assert b"PRIVATE KEY" in path.read_bytes()
    for directory in [pki.root, *(p for p in pki.root.rglob("*") if p.is_dir())]:
        assert mode(directory) == 0o700, directory
    assert mode(pki.ca) == 0o644 and b"PRIVATE" not in pki.ca.read_bytes()
    # No file outside the secret list holds a key.
    for path in pki.root.rglob("*"):
        if path.is_file() and path not in secrets:
            assert b"PRIVATE" not in path.read_bytes(), path


def test_each_member_is_named_alone_and_its_quorum_certificate_comes_from_the_quorum_ca(project):
    from cryptography import x509

    pki = Pki(project / ".svcctl" / "pki")
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    quorum_ca = x509.load_pem_x509_certificate(pki.quorum_ca.read_bytes())
    assert ca.subject != quorum_ca.subject
    for member in MEMBERS:
        for store, issuer, other, wanted in (
            ("keystore.pem", ca, quorum_ca, {member, "localhost", "127.0.0.1"}),
            ("quorum.pem", quorum_ca, ca, {member}),
        ):
            cert = x509.load_pem_x509_certificate((pki.member_dir(member) / store).read_bytes())
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = set(sans.get_values_for_type(x509.DNSName)) | {
                str(ip) for ip in sans.get_values_for_type(x509.IPAddress)
            }
            assert names == wanted, (member, store)
            cert.verify_directly_issued_by(issuer)
            with pytest.raises((ValueError, InvalidSignature)):
                cert.verify_directly_issued_by(other)  # a client identity is never a quorum peer
        assert (pki.member_dir(member) / "quorum-ca.pem").read_bytes() == pki.quorum_ca.read_bytes()
    for name in (REGISTRATOR_CN, ADMIN_CN):
        assert read_cert(pki.client(name.split("-", 1)[1]).cert).subject == f"CN={name}"
    assert read_cert(pki.reader("gateway").cert).subject == "CN=svcctl-reader@gateway"
    assert read_cert(pki.client("reader:cli").cert).subject == "CN=svcctl-reader@cli"


def test_issue_writes_a_reader_and_refuses_bad_names_roles_and_overwrites(tmp_path):
    from cryptography import x509

    pki, _ = ensure_pki(tmp_path / "pki")
    who = issue(pki, "billing-api")
    assert read_cert(who.cert).subject == "CN=svcctl-reader@billing-api" and mode(who.key) == 0o600
    x509.load_pem_x509_certificate(who.cert.read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(pki.ca.read_bytes())
    )
    assert "billing-api" in pki.readers() and who.key in pki.secret_files()
    with pytest.raises(ConflictError, match="exists"):
        issue(pki, "billing-api")
    before = who.key.read_bytes()
    assert issue(pki, "billing-api", force=True).key.read_bytes() != before
    for bad in ("../x", "a/b", "", "-x"):
        with pytest.raises(BadInputError, match="bad identity name"):
            issue(pki, bad)
    with pytest.raises(BadInputError, match="unknown role"):
        issue(pki, "x", role="writer")
    with pytest.raises(BadInputError, match="no PKI"):
        issue(Pki(tmp_path / "none"), "x")
    # A rotation re-issues every reader (new CA, new keys): consumers keep their file paths.
    rotated, _ = ensure_pki(pki.root, rotate=True)
    assert "billing-api" in rotated.readers() and rotated.reader("billing-api").key.read_bytes() != before


def test_made_once_and_remade_only_on_rotate(project):
    pki = Pki(project / ".svcctl" / "pki")
    before = {p: p.read_bytes() for p in pki.root.rglob("*") if p.is_file()}
    again, made = ensure_pki(pki.root)
    assert not made and {p: p.read_bytes() for p in again.root.rglob("*") if p.is_file()} == before
    rotated, made = ensure_pki(pki.root, rotate=True)
    assert made and rotated.ca.read_bytes() != before[pki.ca]
    assert all(mode(p) == 0o600 for p in rotated.secret_files())
    assert not (pki.root.with_name("pki.old")).exists() and not (pki.root.with_name("pki.new")).exists()


# --- the Docker API proxy's allow-list -------------------------------------------------------------

ALLOWED = [
    ("GET", "/_ping"),
    ("HEAD", "/_ping"),
    ("GET", "/v1.41/_ping"),
    ("GET", "/version"),
    ("GET", "/v1.43/info"),
    ("GET", "/containers/json"),
    ("GET", "/v1.41/containers/json?all=1&filters=%7B%7D"),
    ("GET", "/containers/0123abcd/json"),
    ("GET", "/v1.41/containers/svcctl-t10-service_2-1/json"),
    ("HEAD", "/v1.41/containers/abc.def/json"),
]
DENIED = [
    ("POST", "/containers/create"),
    ("POST", "/v1.41/containers/create"),
    ("POST", "/containers/abc/start"),
    ("DELETE", "/containers/abc"),
    ("POST", "/containers/abc/exec"),
    ("GET", "/containers/abc/logs"),
    ("GET", "/containers/abc/archive"),
    ("GET", "/images/json"),
    ("GET", "/volumes"),
    ("GET", "/secrets"),
    ("POST", "/_ping"),
    ("PUT", "/info"),
    ("GET", "/containers/../images/json"),
    ("GET", "/containers/..%2fimages/json"),
    ("GET", "/containers/%2e%2e/json"),
    ("GET", "/containers/../json"),
    ("GET", "//containers/json"),
    ("GET", "/v1.41/../images/json"),
    ("GET", "/vX/_ping"),
    ("GET", "/containers/json/extra"),
    ("GET", "/events/../images"),
    ("GET", "/containers/a/b/json"),
    ("GET", "/_pingx"),
    ("GET", "/x/_ping"),
]


@pytest.mark.parametrize(("method", "path"), ALLOWED)
def test_the_proxy_allows_what_a_registrator_reads(method, path):
    assert allowed(method, path) == (True, "engine")


@pytest.mark.parametrize(("method", "path"), DENIED)
def test_the_proxy_denies_everything_else(method, path):
    assert allowed(method, path) == (False, "deny")


def test_events_have_their_own_long_timeout_backend():
    assert allowed("GET", "/v1.41/events?filters=x") == (True, "events")
    assert allowed("GET", "/events") == (True, "events")
    assert allowed("POST", "/events") == (False, "deny")
    config = render_config()
    events = config.split("backend events", 1)[1]
    assert f"timeout server {EVENTS_TIMEOUT}" in events
    assert "deny_status 403" in config and "unix@" in config  # no TCP listener at all


# --- client TLS ------------------------------------------------------------------------------------


def test_client_tls_explicit_project_and_foreign(project, monkeypatch, tmp_path):
    for var in ("SVCCTL_ZK_CA", "SVCCTL_ZK_CERT", "SVCCTL_ZK_KEY", "SVCCTL_ZK_PORTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # `project` is an installed copy's layout
    settings = Settings(zk="127.0.0.1:2181,127.0.0.1:2182", project_dir=str(project), project="p1")
    state = settings.state_path()
    assert state == tmp_path / "state" / "svcctl" / "p1"  # never inside the project (site-packages)
    ensure_pki(state / "pki")
    forget_mode(state, "p1")
    assert client_tls(settings) is None  # no secured cluster recorded: plain
    record_mode(state, "p1", SECURE)
    assert recorded_mode(state, "p1") == SECURE and not (project / ".svcctl" / "clusters").exists()
    tls = client_tls(settings)  # read commands: the CLI's reader identity
    assert tls is not None and tls.cert == state / "pki" / "readers" / "cli" / "cert.pem"
    assert client_tls(settings, identity=ADMIN).cert.parent.name == "admin"  # what writes
    assert client_tls(settings, identity="registrator").cert.parent.name == "registrator"
    foreign = Settings(zk="zk.example.org:2181", project_dir=str(project), project="p1")
    assert client_tls(foreign) is None  # the project's PKI is not sent to another ensemble
    explicit = Settings(zk="zk.example.org:2181", project_dir=str(project), project="p1", zk_ca="/x/ca.pem")
    assert client_tls(explicit).ca == Path("/x/ca.pem") and client_tls(explicit).cert is None
    with pytest.raises(BadInputError, match="need --zk-ca"):
        client_tls(Settings(zk="h:1", project_dir=str(project), project="p1", zk_cert="/x/c.pem", zk_key="/x/k.pem"))
    record_mode(state, "p1", OPEN)
    assert client_tls(settings) is None
    forget_mode(state, "p1")


def test_validate_names_a_missing_file_a_lone_certificate_a_wrong_key_and_diagnose_an_expired_one(project, tmp_path):
    pki = Pki(project / ".svcctl" / "pki")
    ZkTls(pki.ca, pki.admin.cert, pki.admin.key).validate()
    with pytest.raises(BadInputError, match="no such file"):
        ZkTls(tmp_path / "missing.pem").validate()
    with pytest.raises(BadInputError, match="without --zk-key"):
        ZkTls(pki.ca, pki.admin.cert, None).validate()
    with pytest.raises(BadInputError, match="--zk-cert .*no such file"):
        ZkTls(pki.ca, tmp_path / "nocert.pem", pki.admin.key).validate()
    with pytest.raises(BadInputError, match="cannot be used"):
        ZkTls(pki.ca, pki.admin.cert, pki.registrator.key).validate()  # not this certificate's key
    expired = tmp_path / "expired.pem"
    expired.write_bytes(_expired_cert(pki))
    assert ZkTls(pki.ca, pki.admin.cert, pki.admin.key).expired() is None
    # Named when a session could not start (the ensemble refuses it), before any handshake.
    assert "expired on" in diagnose([], ZkTls(pki.ca, expired, pki.admin.key)).cause


def _expired_cert(pki: Pki) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    key = serialization.load_pem_private_key(pki.admin.key.read_bytes(), None)
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=old"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


# --- the registrator's session refused late ---------------------------------------------------------


class RefusedLater:
    """A kazoo client whose authentication the ensemble refuses after start_async returned."""

    made = 0

    def __init__(self) -> None:
        RefusedLater.made += 1
        self.client_state = "CONNECTING"
        self.started = threading.Event()
        self.client_id = None
        self.connected = False
        self.state = "LOST"
        self.last_zxid = 0

    def add_listener(self, listener):
        pass

    def remove_listener(self, listener):
        pass

    def start_async(self):
        self.client_state = "AUTH_FAILED"  # kazoo then ends its connection loop for good
        return self.started

    def stop(self):
        pass

    def close(self):
        pass


def test_a_late_auth_failure_is_logged_and_retried_with_a_growing_backoff_not_a_spin(caplog):
    RefusedLater.made = 0
    keeper = SessionKeeper(
        [], 10.0, lambda item: None, client_factory=lambda hosts, timeout: RefusedLater(), fault_backoff=0.2
    )
    stopping = threading.Event()
    threading.Timer(1.3, stopping.set).start()
    started = time.monotonic()
    assert keeper.connect(RetryPolicy(attempts=-1, interval=0.05), stopping) is False
    assert time.monotonic() - started < 3
    # Backoffs 0.2, 0.4, 0.8 s: within 1.3 s the first client and at most three replacements.
    assert 2 <= RefusedLater.made <= 4
    # In the daemon loop too: a dead client is replaced only after its backoff.
    keeper = SessionKeeper(
        [], 10.0, lambda item: None, client_factory=lambda hosts, timeout: RefusedLater(), fault_backoff=0.2
    )
    keeper.client = RefusedLater()
    keeper.client.start_async()  # refused at once
    made = RefusedLater.made
    assert keeper.check_dead() is False and RefusedLater.made == made  # logged, backoff begins
    assert keeper.check_dead() is False and RefusedLater.made == made  # still waiting: no spin
    time.sleep(0.25)
    assert keeper.check_dead() is True and RefusedLater.made == made + 1


def test_an_election_lock_is_ours_only_with_the_registrator_acl_and_one_of_our_registrators_ids():
    import json

    from kazoo.security import make_acl

    from svcctl.ensemble.secure import foreign_lock_reason

    registrator = make_acl("x509", "CN=svcctl-registrator", all=True)
    read = make_acl("world", "anyone", read=True)
    ours = {"t17-registrator1", "t17-registrator2", "t17-registrator3"}

    def lock(identity) -> bytes:
        return json.dumps(identity).encode()

    standby = {"id": "t17-registrator2", "role": "standby", "hostname": "abc", "pid": 1}
    assert foreign_lock_reason([registrator, read], lock(standby), registrator, ours) is None
    # Planted with the registrator identity in its ACL (its creator chose it): the payload decides.
    assert "'attacker'" in foreign_lock_reason([registrator, read], lock({"id": "attacker"}), registrator, ours)
    assert foreign_lock_reason(
        [registrator, read], lock({"id": "registrator1"}), registrator, ours
    )  # another project's
    assert foreign_lock_reason([registrator, read], b"", registrator, ours) == "names no registrator of this project"
    assert (
        foreign_lock_reason([registrator], lock({"id": 7}), registrator, ours) == "names no registrator of this project"
    )
    # Our registrator's identity without its ACL: not ours either.
    world = [make_acl("world", "anyone", all=True)]
    assert foreign_lock_reason(world, lock(standby), registrator, ours) == "not a registrator identity"


def test_keys_are_never_handed_to_a_uid_a_host_account_has(tmp_path, monkeypatch):
    import os
    import pwd

    from svcctl.config.settings import DEFAULT_CONTAINER_UID, container_uid_from_env
    from svcctl.security.pki import hand_over

    assert container_uid_from_env({}) == DEFAULT_CONTAINER_UID
    assert container_uid_from_env({"SVCCTL_CONTAINER_UID": "20001"}) == 20001
    for bad in ("0", "abc", "-5"):
        with pytest.raises(BadInputError, match="SVCCTL_CONTAINER_UID"):
            container_uid_from_env({"SVCCTL_CONTAINER_UID": bad})
    account = pwd.getpwall()[0]
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # as root: the only case keys change owner
    with pytest.raises(ConflictError, match=f"host account '{account.pw_name}'") as refused:
        hand_over(Pki(tmp_path / "pki"), account.pw_uid)
    assert "SVCCTL_CONTAINER_UID" in refused.value.fix


def test_an_older_pki_gets_its_missing_parts_from_its_own_ca(tmp_path):
    import shutil

    from cryptography import x509

    pki, done = ensure_pki(tmp_path / "pki")
    assert done == "made"
    ca = pki.ca.read_bytes()
    # As an older version left it: no quorum CA, no member quorum files, no readers.
    for path in (
        pki.quorum_ca,
        pki.quorum_ca_key,
        *(pki.member_dir(m) / f for m in MEMBERS for f in ("quorum-ca.pem", "quorum.pem")),
    ):
        path.unlink()
    shutil.rmtree(pki.root / "readers")
    kept = {p: p.read_bytes() for p in (pki.admin.key, pki.registrator.cert, pki.member_dir("zoo1") / "keystore.pem")}
    fingerprint = pki.fingerprint()
    again, done = ensure_pki(pki.root)
    assert done == "issued the quorum CA, member certificates zoo1, zoo2, zoo3 and readers cli, gateway"
    assert again.complete() and again.ca.read_bytes() == ca and all(p.read_bytes() == data for p, data in kept.items())
    assert again.fingerprint() != fingerprint  # the members restart on their quorum certificates
    quorum_ca = x509.load_pem_x509_certificate(again.quorum_ca.read_bytes())
    for member in MEMBERS:
        pem = (again.member_dir(member) / "quorum.pem").read_bytes()
        x509.load_pem_x509_certificate(pem[pem.index(b"-----BEGIN CERTIFICATE-----") :]).verify_directly_issued_by(
            quorum_ca
        )
    x509.load_pem_x509_certificate(again.reader("cli").cert.read_bytes()).verify_directly_issued_by(
        x509.load_pem_x509_certificate(ca)
    )
    assert all(mode(p) == 0o600 for p in again.secret_files())
    assert ensure_pki(pki.root) == (again, None)
    # Only a missing CA makes a new one.
    pki.ca_key.unlink()
    (pki.root / "readers" / "cli" / "cert.pem").unlink()
    remade, done = ensure_pki(pki.root)
    assert done.startswith("remade") and remade.complete() and remade.ca.read_bytes() != ca


# --- a secured cluster over hosts ------------------------------------------------------------------


def test_each_host_gets_a_member_certificate_naming_its_address_and_a_registrator_identity_of_its_own(tmp_path):
    from cryptography import x509

    from svcctl.security.pki import HostBundle, bundle_fingerprint, ensure_host_bundles, reissue_host_registrator

    pki, _ = ensure_pki(tmp_path / "pki")
    bundles = [HostBundle(f"h{i}", f"zoo{i}", f"10.9.0.{i}") for i in (1, 2, 3)]
    assert ensure_host_bundles(pki, bundles) == ["h1", "h2", "h3"]
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    quorum_ca = x509.load_pem_x509_certificate(pki.quorum_ca.read_bytes())
    for bundle in bundles:
        directory = pki.host_member_dir(bundle.host)
        for store, issuer in (("keystore.pem", ca), ("quorum.pem", quorum_ca)):
            cert = x509.load_pem_x509_certificate((directory / store).read_bytes())
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = set(sans.get_values_for_type(x509.DNSName)) | {
                str(ip) for ip in sans.get_values_for_type(x509.IPAddress)
            }
            assert names == {bundle.member, bundle.address, "localhost", "127.0.0.1"}, (bundle, store)
            cert.verify_directly_issued_by(issuer)
        assert read_cert(pki.host_registrator(bundle.host).cert).subject == f"CN=svcctl-registrator@{bundle.host}"
    assert pki.hosts() == ["h1", "h2", "h3"]
    for path in pki.secret_files():
        assert mode(path) == 0o600 and b"PRIVATE KEY" in path.read_bytes(), path
    assert {p for p in pki.secret_files() if "hosts" in p.parts} == {
        p
        for h in ("h1", "h2", "h3")
        for p in (
            pki.host_member_dir(h) / "keystore.pem",
            pki.host_member_dir(h) / "quorum.pem",
            pki.host_registrator(h).key,
        )
    }

    # Idempotent; a host at another address gets new member certificates, the others nothing.
    prints = {
        h: (bundle_fingerprint(pki.host_member_dir(h)), bundle_fingerprint(pki.host_registrator(h).cert.parent))
        for h in ("h1", "h2", "h3")
    }
    assert ensure_host_bundles(pki, bundles) == []
    moved = [bundles[0], HostBundle("h2", "zoo2", "10.9.0.22"), bundles[2]]
    assert ensure_host_bundles(pki, moved) == ["h2"]
    after = {
        h: (bundle_fingerprint(pki.host_member_dir(h)), bundle_fingerprint(pki.host_registrator(h).cert.parent))
        for h in ("h1", "h2", "h3")
    }
    assert after["h1"] == prints["h1"] and after["h3"] == prints["h3"] and after["h2"][0] != prints["h2"][0]

    # Rotating one host's identity: a new key, the same subject; the other hosts untouched.
    old_key = pki.host_registrator("h3").key.read_bytes()
    who = reissue_host_registrator(pki, "h3")
    assert who.key.read_bytes() != old_key and read_cert(who.cert).subject == "CN=svcctl-registrator@h3"
    assert bundle_fingerprint(pki.host_registrator("h1").cert.parent) == after["h1"][1]
    with pytest.raises(BadInputError, match="host h9 has no registrator identity"):
        reissue_host_registrator(pki, "h9")


def test_the_registry_acl_names_every_writer_once_and_read_for_anyone(project):
    pki = Pki(project / ".svcctl" / "pki")
    tls = ZkTls(
        pki.registrator.ca,
        pki.registrator.cert,
        pki.registrator.key,
        writers=("CN=svcctl-registrator@b", "CN=svcctl-registrator", "CN=a"),
    )
    acl = tls.registry_acl()
    assert [(a.id.scheme, a.id.id, a.perms) for a in acl] == [
        ("x509", "CN=a", 31),
        ("x509", "CN=svcctl-registrator", 31),
        ("x509", "CN=svcctl-registrator@b", 31),
        ("world", "anyone", 1),
    ]
    assert ZkTls(pki.ca).registry_acl() is None  # no identity of our own: we create nothing


def test_the_cluster_over_hosts_keeps_a_mode_of_its_own(project, tmp_path, monkeypatch):
    """One project's one-engine cluster and its cluster over hosts hold their data on different
    engines: neither's mode answers for the other's (a secured local cluster must not make an
    open cluster over hosts look secured, nor send `cluster down --volumes` to the wrong data)."""
    from dataclasses import replace

    from svcctl.config.layout import ClusterLayout, HostMember
    from svcctl.security.mode import project_mode

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    settings = Settings(zk="127.0.0.1:2181", project_dir=str(project), project="p1")
    state = settings.state_path()
    record_mode(state, "p1", SECURE)
    record_mode(state, "p1", OPEN, over_hosts=True)
    assert project_mode(settings) == SECURE
    settings = replace(
        settings, layout=ClusterLayout("p1", (HostMember("h1", "tcp://10.0.0.11:2376", "10.0.0.11", 1),))
    )
    assert project_mode(settings) == OPEN
    forget_mode(state, "p1", over_hosts=True)
    settings = replace(settings, layout=None)
    assert project_mode(settings) == SECURE and recorded_mode(state, "p1", over_hosts=True) is None
    # State of an svcctl that kept one mode file per project: a layout recorded, no hosts' mode.
    # The hosts take the one file's mode over, once; the one-engine cluster keeps its own.
    settings = replace(
        settings, layout=ClusterLayout("p1", (HostMember("h1", "tcp://10.0.0.11:2375", "10.0.0.11", 1),))
    )
    assert project_mode(settings) == SECURE and recorded_mode(state, "p1", over_hosts=True) == SECURE
    record_mode(state, "p1", OPEN)
    assert project_mode(settings) == SECURE
