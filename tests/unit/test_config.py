import pytest

from svcctl.config.settings import (
    Settings,
    ZkHost,
    default_zk_connect,
    find_project_dir,
    parse_ip,
    parse_registry_uri,
    parse_zk_hosts,
    project_zk_ports,
    state_dir,
    zk_ports_from_env,
)
from svcctl.errors import BadInputError, NotFoundError
from tests.support import fake_checkout as _checkout


@pytest.mark.parametrize(
    "text, expected",
    [
        ("127.0.0.1:2181", [ZkHost("127.0.0.1", 2181)]),
        ("a:1,b:2 , c:3", [ZkHost("a", 1), ZkHost("b", 2), ZkHost("c", 3)]),
        ("zoo1", [ZkHost("zoo1", 2181)]),
        ("[::1]:2181", [ZkHost("::1", 2181)]),
    ],
)
def test_parse_zk_hosts_accepts(text, expected):
    assert parse_zk_hosts(text) == expected


@pytest.mark.parametrize(
    "text", ["", "  ", "host:0", "host:70000", "host:abc", ":2181", "bad host:1", "h:1/chroot", "a:1,,b:2"]
)
def test_parse_zk_hosts_refuses_with_a_fix(text):
    with pytest.raises(BadInputError) as info:
        parse_zk_hosts(text)
    assert info.value.fix and "HOST:PORT" in info.value.fix
    assert "\n" not in info.value.one_line()


def test_registry_uri_with_host_list_and_base():
    uri = parse_registry_uri("zookeeper://127.0.0.1:2181,127.0.0.1:2182/services")
    assert uri.hosts == [ZkHost("127.0.0.1", 2181), ZkHost("127.0.0.1", 2182)]
    assert uri.base == "/services"
    assert uri.connect_string() == "127.0.0.1:2181,127.0.0.1:2182"


def test_registry_uri_default_base_and_bad_scheme():
    assert parse_registry_uri("zookeeper://h:1").base == "/services"
    assert parse_registry_uri("zookeeper://h:1/a/b/").base == "/a/b"
    with pytest.raises(BadInputError):
        parse_registry_uri("consul://h:1/services")


def test_zk_ports_from_env():
    assert zk_ports_from_env({}) == (2181, 2182, 2183)
    assert zk_ports_from_env({"SVCCTL_ZK_PORTS": "1,2,3"}) == (1, 2, 3)
    assert default_zk_connect({"SVCCTL_ZK_PORTS": "1,2,3"}) == "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"
    for bad in ("1,2", "a,b,c", "1,2,99999"):
        with pytest.raises(BadInputError):
            zk_ports_from_env({"SVCCTL_ZK_PORTS": bad})


@pytest.mark.parametrize("project", ["other", "newuser", "svcctl-test", "a", "x" * 60, "dev_2"])
def test_a_named_project_gets_its_own_ports_below_32768_and_away_from_the_default(project):
    ports = project_zk_ports(project)
    assert ports == project_zk_ports(project)  # the same on every run
    assert ports[1] == ports[0] + 1 and ports[2] == ports[0] + 2
    assert 16200 <= ports[0] and ports[2] <= 19997
    assert not set(ports) & {2181, 2182, 2183}


def test_the_default_project_keeps_the_classic_ports_and_names_differ_in_theirs():
    assert project_zk_ports("svcctl") == (2181, 2182, 2183)
    assert len({project_zk_ports(f"p{i}") for i in range(50)}) > 45  # spread, not one triple


def test_the_ports_follow_the_project_unless_svcctl_zk_ports_gives_them():
    other = project_zk_ports("other")
    assert zk_ports_from_env({"SVCCTL_PROJECT": "other"}) == other
    assert zk_ports_from_env({"SVCCTL_PROJECT": "svcctl"}, project="other") == other
    assert zk_ports_from_env({"SVCCTL_PROJECT": "other", "SVCCTL_ZK_PORTS": "1,2,3"}) == (1, 2, 3)
    assert default_zk_connect({}, "other") == ",".join(f"127.0.0.1:{p}" for p in other)


@pytest.mark.parametrize(
    "environ, overrides",
    [({"SVCCTL_PROJECT": "other"}, {}), ({}, {"project": "other"}), ({"SVCCTL_PROJECT": "x"}, {"project": "other"})],
)
def test_settings_of_a_named_project_check_and_publish_its_own_ports(environ, overrides):
    # Whether named by SVCCTL_PROJECT or --project: the members it publishes, the registrators'
    # connect string, where doctor and the clients look, and the fixes to paste.
    settings = Settings.from_environ(environ, **overrides)
    other = ",".join(f"127.0.0.1:{p}" for p in project_zk_ports("other"))
    assert settings.zk_ports == project_zk_ports("other")
    assert settings.ensemble_connect == other and settings.zk == other
    assert settings.command("cluster up") == "svcctl --project other cluster up"


def test_the_default_project_command_has_no_project_option():
    settings = Settings.from_environ({})
    assert settings.zk == "127.0.0.1:2181,127.0.0.1:2182,127.0.0.1:2183"
    assert settings.command("cluster up") == "svcctl cluster up"
    assert Settings.from_environ({"SVCCTL_PROJECT": "other", "SVCCTL_ZK": "h:1"}).zk == "h:1"


def test_project_dir_is_the_checkout_around_the_current_directory(tmp_path):
    checkout = _checkout(tmp_path / "checkout")
    (checkout / "a" / "b").mkdir(parents=True)
    assert find_project_dir(cwd=checkout / "a" / "b") == checkout.resolve()
    with pytest.raises(NotFoundError):
        find_project_dir(explicit=str(checkout / "a"))


def test_project_dir_outside_a_checkout_is_the_one_svcctl_runs_from(tmp_path):
    # From an unrelated directory (even one holding a stray compose/zookeeper.yml) the project is
    # the checkout of this editable install, or the copy a wheel ships under svcctl/_project.
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "zookeeper.yml").write_text("services: {}\n")
    found = find_project_dir(cwd=tmp_path)
    assert found != tmp_path.resolve()
    assert (found / "compose" / "zookeeper.yml").is_file()


def test_state_dir_is_in_the_checkout_or_per_user_for_an_installed_copy(tmp_path):
    checkout = _checkout(tmp_path / "checkout")
    assert state_dir(checkout, "svcctl-x", env={}) == checkout / ".svcctl"
    installed = tmp_path / "site-packages" / "svcctl" / "_project"
    (installed / "compose").mkdir(parents=True)
    assert (
        state_dir(installed, "svcctl-x", env={"XDG_STATE_HOME": str(tmp_path / "state")})
        == tmp_path / "state" / "svcctl" / "svcctl-x"
    )
    assert (
        state_dir(installed, "p", env={"HOME": str(tmp_path / "home")})
        == tmp_path / "home" / ".local" / "state" / "svcctl" / "p"
    )


def test_settings_read_the_environment():
    environ = {"SVCCTL_PROJECT": "svcctl-x", "SVCCTL_ZK_PORTS": "1,2,3", "SVCCTL_BASE_IMAGE": "debian:test"}
    settings = Settings.from_environ(environ)
    assert (settings.project, settings.zk_ports, settings.base_image) == ("svcctl-x", (1, 2, 3), "debian:test")
    assert settings.zk == "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"
    assert Settings.from_environ(environ, project="other").project == "other"


@pytest.mark.parametrize("text, expected", [("127.0.0.1", "127.0.0.1"), (" 10.0.0.5 ", "10.0.0.5"), ("::1", "::1")])
def test_parse_ip_accepts_addresses(text, expected):
    assert parse_ip(text, "--ip") == expected


@pytest.mark.parametrize("text", ["a/b", "", "host.example", "300.1.1.1"])
def test_parse_ip_refuses_what_would_break_a_znode_name(text):
    with pytest.raises(BadInputError, match="--ip"):
        parse_ip(text, "--ip")


def test_ensemble_hosts_follow_the_ports_not_the_client_string():
    settings = Settings.from_environ({"SVCCTL_ZK_PORTS": "12181,12182,12183"}, zk="10.0.0.9:2181")
    assert [str(h) for h in settings.ensemble_hosts] == ["127.0.0.1:12181", "127.0.0.1:12182", "127.0.0.1:12183"]
    assert [str(h) for h in settings.zk_hosts] == ["10.0.0.9:2181"]


def test_settings_are_frozen_and_a_changed_one_is_a_new_one():
    import dataclasses

    settings = Settings(zk="10.0.0.9:2181", project="p")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.zk = "10.0.0.8:2181"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.layout = None  # type: ignore[misc]
    other = dataclasses.replace(settings, zk="10.0.0.8:2181")
    assert (settings.zk, other.zk, other.project, other.engine) == (
        "10.0.0.9:2181",
        "10.0.0.8:2181",
        "p",
        settings.engine,
    )


def test_settings_from_an_environment_read_only_that_one(monkeypatch):
    import os

    monkeypatch.setenv("SVCCTL_PROJECT", "from-the-process")
    monkeypatch.setenv("DOCKER_HOST", "tcp://10.9.9.9:2375")
    before = dict(os.environ)
    environ = {"SVCCTL_PROJECT": "from-the-snapshot", "DOCKER_HOST": "tcp://10.0.0.5:2375", "SVCCTL_ZK_CA": "/x/ca.pem"}
    settings = Settings.from_environ(environ)
    assert (settings.project, settings.zk_ca, settings.engine.host) == (
        "from-the-snapshot",
        "/x/ca.pem",
        "tcp://10.0.0.5:2375",
    )
    assert dict(os.environ) == before and environ["DOCKER_HOST"] == "tcp://10.0.0.5:2375"
    assert (
        Settings.from_environ(environ, project="by-option").project == "by-option"
    )  # an option wins over its variable
    # Built directly, a field left out is svcctl's default, not the process environment's.
    assert Settings().project == "svcctl"


def test_a_bad_project_name_is_refused_when_the_settings_are_made():
    with pytest.raises(BadInputError, match="bad project name"):
        Settings.from_environ({"SVCCTL_PROJECT": "Not_Lower"})
    with pytest.raises(BadInputError, match="bad project name"):
        Settings(project="a/b")
