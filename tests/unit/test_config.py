import pytest
from svcctl.config import (
    Settings,
    ZkHost,
    default_zk_connect,
    find_project_dir,
    parse_ip,
    parse_registry_uri,
    parse_zk_hosts,
    render_zoo_servers,
    zk_ports_from_env,
)
from svcctl.errors import BadInputError, NotFoundError


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


@pytest.mark.parametrize("text", ["", "  ", "host:0", "host:70000", "host:abc", ":2181", "bad host:1", "h:1/chroot", "a:1,,b:2"])
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


def test_zoo_servers_matches_the_official_image_contract():
    assert render_zoo_servers(3) == (
        "server.1=zoo1:2888:3888;2181 server.2=zoo2:2888:3888;2181 server.3=zoo3:2888:3888;2181"
    )
    with pytest.raises(BadInputError):
        render_zoo_servers(0)


def test_zk_ports_from_env():
    assert zk_ports_from_env({}) == (2181, 2182, 2183)
    assert zk_ports_from_env({"SVCCTL_ZK_PORTS": "1,2,3"}) == (1, 2, 3)
    assert default_zk_connect({"SVCCTL_ZK_PORTS": "1,2,3"}) == "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"
    for bad in ("1,2", "a,b,c", "1,2,99999"):
        with pytest.raises(BadInputError):
            zk_ports_from_env({"SVCCTL_ZK_PORTS": bad})


def test_project_dir_found_from_a_subdirectory(tmp_path, monkeypatch):
    monkeypatch.delenv("SVCCTL_PROJECT_DIR", raising=False)
    (tmp_path / "compose").mkdir()
    (tmp_path / "compose" / "zookeeper.yml").write_text("services: {}\n")
    (tmp_path / "a" / "b").mkdir(parents=True)
    assert find_project_dir(cwd=tmp_path / "a" / "b") == tmp_path.resolve()
    with pytest.raises(NotFoundError):
        find_project_dir(explicit=str(tmp_path / "a"))


@pytest.mark.parametrize("text, expected", [("127.0.0.1", "127.0.0.1"), (" 10.0.0.5 ", "10.0.0.5"), ("::1", "::1")])
def test_parse_ip_accepts_addresses(text, expected):
    assert parse_ip(text, "--ip") == expected


@pytest.mark.parametrize("text", ["a/b", "", "host.example", "300.1.1.1"])
def test_parse_ip_refuses_what_would_break_a_znode_name(text):
    with pytest.raises(BadInputError, match="--ip"):
        parse_ip(text, "--ip")


def test_ensemble_hosts_follow_the_ports_not_the_client_string(monkeypatch):
    monkeypatch.setenv("SVCCTL_ZK_PORTS", "12181,12182,12183")
    settings = Settings(zk="10.0.0.9:2181")
    assert [str(h) for h in settings.ensemble_hosts] == ["127.0.0.1:12181", "127.0.0.1:12182", "127.0.0.1:12183"]
    assert [str(h) for h in settings.zk_hosts] == ["10.0.0.9:2181"]
