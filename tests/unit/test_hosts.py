"""Pure parts of the hosts feature: engine selection by Docker's precedence, the context store,
the hosts' names and subnets, the recorded layout, owner-filtered registrations."""

import hashlib
import ipaddress
import json

import pytest

from svcctl.config.engines import DEFAULT_ENGINE, EngineEndpoint, cli_environment, context_endpoint, resolve_engine
from svcctl.config.layout import ClusterLayout, HostMember, load_layout, remove_layout, save_layout
from svcctl.config.settings import ZkHost
from svcctl.ensemble.hosts import parse_contexts
from svcctl.errors import BadInputError, NotFoundError
from svcctl.registry.model import Registration
from svcctl.registry.payload import RegistrationPayload
from svcctl.toolkit.hosts import SUBNET_POOL, candidate_subnets, host_address, host_name, network_name, volume_name
from svcctl.walkthrough.services import read_owned_registrations
from tests.support import fake_checkout
from tests.unit.fakezk import FakeClient, FakeEnsemble


def make_context(config_dir, name: str, host: str) -> None:
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(
        json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}}})
    )


@pytest.fixture
def docker_config(tmp_path):
    make_context(tmp_path, "h2", "tcp://10.0.0.12:2375")
    make_context(tmp_path, "h3", "tcp://10.0.0.13:2375")
    return tmp_path


def test_context_flag_wins_over_docker_host(docker_config):
    env = {"DOCKER_CONFIG": str(docker_config), "DOCKER_HOST": "tcp://1.2.3.4:2375", "DOCKER_CONTEXT": "h3"}
    assert resolve_engine("h2", env) == EngineEndpoint("tcp://10.0.0.12:2375", "h2")


def test_docker_host_wins_over_docker_context_then_context_then_current(docker_config):
    base = {"DOCKER_CONFIG": str(docker_config)}
    assert (
        resolve_engine(None, {**base, "DOCKER_HOST": "tcp://1.2.3.4:2375", "DOCKER_CONTEXT": "h3"}).host
        == "tcp://1.2.3.4:2375"
    )
    assert resolve_engine(None, {**base, "DOCKER_CONTEXT": "h3"}).host == "tcp://10.0.0.13:2375"
    assert resolve_engine(None, base).host == DEFAULT_ENGINE
    (docker_config / "config.json").write_text(json.dumps({"currentContext": "h2"}))
    assert resolve_engine(None, base).context == "h2"
    assert resolve_engine("default", base).host == DEFAULT_ENGINE


def test_unknown_context_is_not_found_with_a_fix(docker_config):
    with pytest.raises(NotFoundError) as info:
        context_endpoint("nope", {"DOCKER_CONFIG": str(docker_config)})
    assert "docker context ls" in info.value.fix


def test_a_context_becomes_docker_host_in_the_environment_of_a_docker_child(docker_config):
    parent = {
        "DOCKER_CONFIG": str(docker_config),
        "DOCKER_CONTEXT": "h3",
        "DOCKER_TLS_VERIFY": "1",
        "DOCKER_CERT_PATH": "/elsewhere",
    }
    endpoint = resolve_engine(None, parent)
    env = cli_environment(endpoint, parent)
    assert env["DOCKER_HOST"] == "tcp://10.0.0.13:2375" and "DOCKER_CONTEXT" not in env
    assert "DOCKER_TLS_VERIFY" not in env and "DOCKER_CERT_PATH" not in env  # a plain context after a TLS one
    assert endpoint.address == "10.0.0.13"
    assert parent["DOCKER_CONTEXT"] == "h3" and "DOCKER_HOST" not in parent  # the parent's own is not written
    untouched = {"DOCKER_CONFIG": str(docker_config)}
    assert "DOCKER_HOST" not in cli_environment(resolve_engine(None, untouched), untouched)


def test_endpoint_address_is_loopback_for_a_socket():
    assert EngineEndpoint(DEFAULT_ENGINE).address == "127.0.0.1"
    assert EngineEndpoint("tcp://10.1.2.3:2375").address == "10.1.2.3"


def test_hosts_are_named_from_the_project():
    assert host_name("svcctl", 1) == "svcctl-host1"
    assert host_name("svcctl-t11", 3) == "svcctl-t11-host3"
    assert network_name("svcctl-t11") == "svcctl-t11-hosts"
    assert volume_name("svcctl-t11", 2) == "svcctl-t11-host2-docker"


def test_subnet_is_stable_per_project_and_differs_between_projects():
    first = next(candidate_subnets("svcctl-t11"))
    assert first == next(candidate_subnets("svcctl-t11"))
    assert first != next(candidate_subnets("svcctl-t12"))
    assert first.prefixlen == 24 and first.subnet_of(SUBNET_POOL)
    # Every /24 of the pool is a candidate once: a taken one is skipped, never retried.
    assert len(set(candidate_subnets("x"))) == 2 ** (24 - SUBNET_POOL.prefixlen)
    assert host_address(ipaddress.ip_network("10.192.7.0/24"), 2) == "10.192.7.12"


def test_parse_contexts():
    assert parse_contexts("a, b,c") == ["a", "b", "c"]
    for bad in ("", "a,a,b", "a,b"):
        with pytest.raises(BadInputError):
            parse_contexts(bad)


def layout() -> ClusterLayout:
    return ClusterLayout(
        "p", tuple(HostMember(f"p-host{i}", f"tcp://10.0.0.{10 + i}:2375", f"10.0.0.{10 + i}", i) for i in (1, 2, 3))
    )


def test_layout_round_trip_and_members(tmp_path):
    assert load_layout(tmp_path, "p") is None
    save_layout(tmp_path, layout())
    loaded = load_layout(tmp_path, "p")
    assert loaded == layout()
    assert loaded.zk_hosts == [ZkHost("10.0.0.11", 2181), ZkHost("10.0.0.12", 2181), ZkHost("10.0.0.13", 2181)]
    assert loaded.connect_string() == "10.0.0.11:2181,10.0.0.12:2181,10.0.0.13:2181"
    assert loaded.zoo_servers().split() == [f"server.{i}=10.0.0.{10 + i}:2888:3888;2181" for i in (1, 2, 3)]
    assert load_layout(tmp_path, "other") is None
    assert remove_layout(tmp_path, "p") and not remove_layout(tmp_path, "p")


def test_settings_use_the_layout_members():
    from svcctl.config.settings import Settings

    settings = Settings(zk="127.0.0.1:2181", layout=layout())
    assert settings.ensemble_hosts == layout().zk_hosts


def test_recorded_layout_is_read_from_the_state_directory(tmp_path):
    from svcctl.config.layout import layout_path, recorded_layout
    from svcctl.config.settings import Settings

    settings = Settings(project_dir=str(fake_checkout(tmp_path)), project="p")
    assert recorded_layout(settings) is None
    assert not (tmp_path / ".svcctl").exists()  # reading creates nothing
    save_layout(settings.state_path(), layout())
    assert layout_path(settings.state_path(), "p") == tmp_path / ".svcctl" / "cluster-p.json"
    assert recorded_layout(settings) == layout()
    assert recorded_layout(Settings(project_dir=str(tmp_path), project="other")) is None


def test_compose_publishes_on_the_engine_of_the_context_in_settings(docker_config, tmp_path, monkeypatch):
    from svcctl.config.settings import Settings
    from svcctl.ensemble.project import compose_environment

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    project = fake_checkout(tmp_path / "checkout")
    settings = Settings(
        project_dir=str(project), context="h2", docker_host=None, docker_context=None, docker_config=str(docker_config)
    )
    assert compose_environment(settings)["SVCCTL_PUBLISH_IP"] == "10.0.0.12"
    assert "DOCKER_HOST" not in __import__("os").environ  # Settings is read, the process environment is not written
    local = Settings(
        project_dir=str(project), context=None, docker_host=None, docker_context=None, docker_config=str(docker_config)
    )
    assert compose_environment(local)["SVCCTL_PUBLISH_IP"] == "127.0.0.1"


def test_owned_registrations_leave_other_engines_out():
    ensemble = FakeEnsemble()
    zk = FakeClient(ensemble, 1)
    zk.ensure_path("/services/service_2")
    zk.ensure_path("/services/service_1")
    for engine, address in (("E2", "10.0.0.12:32768"), ("E3", "10.0.0.13:32768")):
        ip, port = address.split(":")
        reg = Registration("service_2", ip, int(port), 80, "tcp", "c" * 64, "c" * 12, "n")
        data = RegistrationPayload.of(reg, engine, "r", 0.0).encode()
        zk.create(f"/services/service_2/{address}", data, ephemeral=True)
    owned = read_owned_registrations(zk, "E2", "/services", ["service_1", "service_2"])
    assert owned == {"service_1": [], "service_2": ["10.0.0.12:32768"]}
    # Only another engine's children: not an empty node left behind by this one.
    assert read_owned_registrations(zk, "E9", "/services", ["service_2"]) == {"service_2": None}


def make_tls_context(config_dir, name: str, host: str) -> str:
    """A context as `docker context create --docker host=…,ca=…,cert=…,key=…` stores it."""
    make_context(config_dir, name, host)
    tls = config_dir / "contexts" / "tls" / hashlib.sha256(name.encode()).hexdigest() / "docker"
    tls.mkdir(parents=True)
    for file in ("ca.pem", "cert.pem", "key.pem"):
        (tls / file).write_text("pem")
    return str(tls)


def test_a_tls_context_carries_its_material_to_the_sdk_the_cli_and_compose(tmp_path, monkeypatch):
    from svcctl.docker.whales import whales_client

    monkeypatch.setattr("python_on_whales.client_config.shutil.which", lambda _name: "/usr/bin/docker")

    def cli_options(engine: EngineEndpoint) -> list[str]:  # the docker CLI's global options python-on-whales gives
        return [str(arg) for arg in whales_client(engine).client_config.docker_cmd[1:]]

    tls = make_tls_context(tmp_path, "secure", "tcp://10.0.0.14:2376")
    parent = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_CONTEXT": "secure"}
    endpoint = resolve_engine(None, parent)
    env = cli_environment(endpoint, parent)
    assert endpoint == EngineEndpoint("tcp://10.0.0.14:2376", "secure", tls)
    assert env["DOCKER_TLS_VERIFY"] == "1" and env["DOCKER_CERT_PATH"] == tls
    ca, cert, key = (f"{tls}/{f}" for f in ("ca.pem", "cert.pem", "key.pem"))
    assert endpoint.tls_files() == (ca, cert, key)
    assert cli_options(endpoint) == [
        "--host",
        "tcp://10.0.0.14:2376",
        "--tlscacert",
        ca,
        "--tlscert",
        cert,
        "--tlskey",
        key,
        "--tlsverify",
    ]
    assert endpoint.whales_options() == {
        "host": "tcp://10.0.0.14:2376",
        "tlsverify": True,
        "tlscacert": ca,
        "tlscert": cert,
        "tlskey": key,
    }
    plain = EngineEndpoint("tcp://10.0.0.12:2375", "h2")
    assert (
        plain.tls_files() is None
        and cli_options(plain) == ["--host", "tcp://10.0.0.12:2375"]
        and plain.whales_options() == {"host": "tcp://10.0.0.12:2375"}
    )


def test_the_engine_session_trusts_the_engine_ca_whatever_requests_ca_bundle_says(tmp_path, monkeypatch):
    import requests

    from svcctl.docker.engine import engine_tls

    ca, cert, key = (tmp_path / f for f in ("ca.pem", "cert.pem", "key.pem"))
    for path in (ca, cert, key):
        path.write_text("pem")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    session = requests.Session()
    engine_tls(str(ca), str(cert), str(key)).configure_client(session)
    settings = session.merge_environment_settings("https://10.0.0.14:2376/version", {}, None, None, None)
    assert settings["verify"] == str(ca) and session.cert == (str(cert), str(key))
    # The control: a session that trusts the environment would check against the system bundle.
    assert (
        requests.Session().merge_environment_settings("https://x/", {}, None, None, None)["verify"]
        == "/etc/ssl/certs/ca-certificates.crt"
    )


def test_the_engine_pki_is_issued_once_and_a_host_certificate_again_only_when_its_address_moves(tmp_path):
    from cryptography import x509

    from svcctl.security.pki import ensure_engine_pki

    pki, issued = ensure_engine_pki(tmp_path / "engines", {"p-host1": "10.9.0.11", "p-host2": "10.9.0.12"})
    assert issued == ["p-host1", "p-host2"]
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    server = x509.load_pem_x509_certificate((pki.server_dir("p-host2") / "cert.pem").read_bytes())
    server.verify_directly_issued_by(ca)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "p-host2" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.9.0.12"]
    client = x509.load_pem_x509_certificate((pki.client_dir / "cert.pem").read_bytes())
    client.verify_directly_issued_by(ca)
    for key in (pki.ca_key, pki.client_dir / "key.pem", pki.server_dir("p-host1") / "key.pem"):
        assert key.stat().st_mode & 0o777 == 0o600, key
    before = {path: path.read_bytes() for path in tmp_path.rglob("*.pem")}

    assert ensure_engine_pki(tmp_path / "engines", {"p-host1": "10.9.0.11", "p-host2": "10.9.0.12"})[1] == []
    assert ensure_engine_pki(tmp_path / "engines", {"p-host1": "10.9.0.11", "p-host2": "10.9.0.22"})[1] == ["p-host2"]
    changed = {path for path, data in before.items() if path.read_bytes() != data}
    assert changed == {pki.server_dir("p-host2") / "cert.pem", pki.server_dir("p-host2") / "key.pem"}


def test_a_missing_engine_certificate_is_named_with_its_fix_not_taken_for_a_host_down(tmp_path):
    from svcctl.docker.engine import client_for

    with pytest.raises(NotFoundError) as info:
        client_for(EngineEndpoint("tcp://10.0.0.11:2376", "p-host1", str(tmp_path)))
    assert "ca.pem" in info.value.cause and "svcctl hosts up" in info.value.fix


def test_a_layout_recorded_on_plain_engines_follows_them_to_tls(tmp_path):
    from svcctl.config.settings import Settings
    from svcctl.toolkit.hosts import _follow_engines

    settings = Settings(project_dir=str(fake_checkout(tmp_path)), project="p")
    old = ClusterLayout(
        "p",
        (
            HostMember("p-host1", "tcp://10.9.0.11:2375", "10.9.0.11", 1),
            HostMember("elsewhere", "tcp://10.1.1.1:2376", "10.1.1.1", 2),
        ),
    )
    save_layout(settings.state_path(), old)
    _follow_engines(settings, {"p-host1": EngineEndpoint("tcp://10.9.0.11:2376", "p-host1", "/tls/p-host1")})
    hosts = load_layout(settings.state_path(), "p").hosts
    assert hosts[0] == HostMember("p-host1", "tcp://10.9.0.11:2376", "10.9.0.11", 1, tls_dir="/tls/p-host1")
    assert hosts[1] == old.hosts[1]  # not one of these hosts: untouched


def test_a_docker_host_that_verifies_tls_names_its_material():
    endpoint = resolve_engine(
        None, {"DOCKER_HOST": "tcp://10.0.0.5:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": "/certs"}
    )
    assert endpoint == EngineEndpoint("tcp://10.0.0.5:2376", None, "/certs")
    assert resolve_engine(None, {"DOCKER_HOST": "tcp://10.0.0.5:2375", "DOCKER_TLS_VERIFY": ""}).tls_dir is None


def test_the_chosen_context_reaches_the_sdk_the_cli_and_compose_without_the_process_environment(tmp_path, monkeypatch):
    import os
    import subprocess

    import docker

    from svcctl.config.settings import Settings
    from svcctl.docker import engine as docker_engine
    from svcctl.ensemble.project import compose_client

    tls = make_tls_context(tmp_path / "docker", "secure", "tcp://10.0.0.14:2376")
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    settings = Settings.from_environ(
        {"DOCKER_CONFIG": str(tmp_path / "docker")},
        context="secure",
        project_dir=str(fake_checkout(tmp_path / "checkout")),
        project="p",
    )
    assert settings.engine == EngineEndpoint("tcp://10.0.0.14:2376", "secure", tls)

    made = []

    class FakeClient:
        def __init__(self, **kwargs):
            made.append(kwargs)

        def ping(self):
            return True

    monkeypatch.setattr(docker, "DockerClient", FakeClient)
    docker_engine.docker_client(settings.engine)
    assert made[0]["base_url"] == "tcp://10.0.0.14:2376" and made[0]["tls"].ca_cert == f"{tls}/ca.pem"
    assert made[0]["tls"].cert == (f"{tls}/cert.pem", f"{tls}/key.pem")

    runs = []
    monkeypatch.setattr(docker_engine.shutil, "which", lambda _name: "/usr/bin/docker")
    monkeypatch.setattr(
        docker_engine.subprocess,
        "run",
        lambda args, **kwargs: runs.append(kwargs) or subprocess.CompletedProcess(args, 0, "", ""),
    )
    docker_engine.run_docker_cli(["info"], settings.engine)
    assert runs[0]["env"]["DOCKER_HOST"] == "tcp://10.0.0.14:2376"
    assert (runs[0]["env"]["DOCKER_TLS_VERIFY"], runs[0]["env"]["DOCKER_CERT_PATH"]) == ("1", tls)
    docker_engine.run_docker_cli(["compose", "version"], None)
    assert runs[1]["env"] is None  # a command that reaches no engine: the parent's environment

    compose = compose_client(settings)
    config = compose.client_config
    assert (config.host, config.tlsverify, str(config.tlscacert)) == ("tcp://10.0.0.14:2376", True, f"{tls}/ca.pem")
    assert dict(os.environ) == before


def test_the_cli_resolves_context_without_writing_the_process_environment(tmp_path, monkeypatch):
    import os

    from svcctl.cli.main import app

    make_tls_context(tmp_path, "secure", "tcp://10.0.0.14:2376")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    assert app(["--context", "secure", "version"], standalone_mode=False, prog_name="svcctl") in (None, 0)
    assert dict(os.environ) == before
    with pytest.raises(NotFoundError, match="'nope' does not exist"):
        app(["--context", "nope", "version"], standalone_mode=False, prog_name="svcctl")


def test_another_context_is_new_settings_on_that_engine(docker_config):
    from svcctl.config.settings import Settings

    settings = Settings.from_environ({"DOCKER_CONFIG": str(docker_config), "DOCKER_HOST": "tcp://1.2.3.4:2375"})
    assert settings.engine.host == "tcp://1.2.3.4:2375"
    moved = settings.for_context("h2")
    assert (moved.context, moved.engine) == ("h2", EngineEndpoint("tcp://10.0.0.12:2375", "h2"))
    assert settings.engine.host == "tcp://1.2.3.4:2375"  # the first ones unchanged


def test_a_swarm_has_one_manager_or_three():
    from svcctl.toolkit.swarm import manager_count

    assert [manager_count(n) for n in range(1, 10)] == [1, 1, 3, 3, 3, 3, 3, 3, 3]


def test_hosts_ls_shows_the_swarm_column_only_for_a_swarm(capsys):
    from svcctl.cli.hosts import _print_hosts
    from svcctl.toolkit.hosts import HostInfo

    plain = HostInfo("p-host1", 1, "10.0.0.11", "running", "tcp://10.0.0.11:2376", "20.10", 0)
    _print_hosts([plain])
    assert "swarm" not in capsys.readouterr().out
    leader = HostInfo("p-host1", 1, "10.0.0.11", "running", "tcp://10.0.0.11:2376", "20.10", 0, 3, "leader", "ready")
    crashed = HostInfo("p-host2", 2, "10.0.0.12", "exited", "tcp://10.0.0.12:2376", None, None, None, "manager", "down")
    _print_hosts([leader, crashed])
    out = capsys.readouterr().out.splitlines()
    assert "swarm" in out[0] and "leader (ready)" in out[2] and "manager (down)" in out[3]
    assert "swarm_local" not in leader.to_dict() and leader.to_dict()["swarm_role"] == "leader"
