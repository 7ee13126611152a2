"""The docker CLI commands svcctl makes through python-on-whales (contexts, volume, run, image
save and load) and through the runner (context update): their exact argv, and the one mapping of
a failed command to svcctl's error. No Docker: python-on-whales' runner is replaced."""

import json
import subprocess
from pathlib import Path

import pytest
from python_on_whales import DockerException
from python_on_whales.components.container import cli_wrapper as container_cli
from python_on_whales.components.context import cli_wrapper as context_cli
from python_on_whales.components.image import cli_wrapper as image_cli
from python_on_whales.components.volume import cli_wrapper as volume_cli

from svcctl.config.engines import EngineEndpoint
from svcctl.docker import contexts, engine, images, launch
from svcctl.docker.compose import compose_error
from svcctl.docker.whales import run_whales, whales_error
from svcctl.errors import DockerUnavailableError, SvcctlError

FIX = "see the message; `svcctl hosts down` removes a half-made set of hosts"
TLS = "/state/pki/client"
LOCAL = EngineEndpoint("unix:///var/run/docker.sock")
HOST = EngineEndpoint("tcp://10.192.3.11:2376", "p-host1", TLS)
TLS_OPTIONS = ["--tlscacert", f"{TLS}/ca.pem", "--tlscert", f"{TLS}/cert.pem", "--tlskey", f"{TLS}/key.pem"]


class FakeDocker:
    """python-on-whales' `run`: records each argv (without the binary), answers inspects and
    `context ls` (`contexts`), fails the commands named in `failing` with `stderr`."""

    def __init__(self, monkeypatch, contexts=("default", "p-host1"), failing=(), stderr=b"Error: it broke\n"):
        self.calls: list[list[str]] = []
        self.contexts, self.failing, self.stderr = contexts, failing, stderr
        monkeypatch.setattr("python_on_whales.client_config.shutil.which", lambda _name: "/usr/bin/docker")
        for module in (context_cli, container_cli, image_cli, volume_cli):
            monkeypatch.setattr(module, "run", self.run)
        monkeypatch.setattr(image_cli, "stream_stdout_and_stderr", self.stream)

    def _record(self, args) -> list[str]:
        argv = [str(a) for a in args]
        assert argv[0].endswith("docker")
        self.calls.append(argv[1:])
        return argv

    def _fails(self, argv: list[str]) -> bool:
        return any(" ".join(f) in " ".join(argv) for f in self.failing)

    def run(self, args, **_kwargs):
        argv = self._record(args)
        if self._fails(argv):
            raise DockerException(argv, 1, b"", self.stderr)
        if argv[-3:] == ["context", "list", "--quiet"]:
            return "\n".join(self.contexts)
        if "inspect" in argv:
            return json.dumps([{"Name": argv[-1], "Id": argv[-1]}])
        return argv[-1]

    def stream(self, args, **_kwargs):
        argv = self._record(args)
        if self._fails(argv):
            raise DockerException(argv, 1, stderr=self.stderr)
        yield "stdout", b"Loaded image: x:1\n"


def test_a_host_context_is_created_with_its_tls_material_when_missing(monkeypatch):
    docker = FakeDocker(monkeypatch, contexts=["default", "p-host10"])
    contexts.create_or_update_context("p-host1", "svcctl simulated host", HOST, LOCAL, FIX)
    assert docker.calls[0] == ["--host", LOCAL.host, "context", "list", "--quiet"]
    endpoint = f"host={HOST.host},ca={TLS}/ca.pem,cert={TLS}/cert.pem,key={TLS}/key.pem,skip-tls-verify=False"
    assert docker.calls[1] == [
        *["--host", LOCAL.host, "context", "create", "--description", "svcctl simulated host"],
        *["--docker", endpoint, "p-host1"],
    ]


def test_an_existing_context_is_updated_through_the_runner_with_the_same_endpoint(monkeypatch):
    docker = FakeDocker(monkeypatch)
    runs = []
    monkeypatch.setattr(
        contexts,
        "run_docker_cli",
        lambda args, eng, timeout: runs.append((args, eng)) or subprocess.CompletedProcess(args, 0, "", ""),
    )
    contexts.create_or_update_context("p-host1", "svcctl simulated host", HOST, HOST, FIX)
    assert docker.calls == [["--host", HOST.host, *TLS_OPTIONS, "--tlsverify", "context", "list", "--quiet"]]
    endpoint = f"host={HOST.host},ca={TLS}/ca.pem,cert={TLS}/cert.pem,key={TLS}/key.pem,skip-tls-verify=False"
    assert runs == [(["context", "update", "p-host1", "--docker", endpoint], HOST)]

    monkeypatch.setattr(
        contexts,
        "run_docker_cli",
        lambda args, eng, timeout: subprocess.CompletedProcess(args, 1, "", "warning\nunable to update\n"),
    )
    with pytest.raises(SvcctlError) as failed:
        contexts.create_or_update_context("p-host1", "d", HOST, LOCAL, FIX)
    assert (failed.value.cause, failed.value.fix) == ("updating Docker context p-host1 failed: unable to update", FIX)


def test_a_context_is_removed_only_when_it_exists(monkeypatch):
    docker = FakeDocker(monkeypatch)
    assert contexts.remove_context("p-host1", LOCAL, FIX)
    assert docker.calls[1] == ["--host", LOCAL.host, "context", "remove", "--force", "p-host1"]
    docker = FakeDocker(monkeypatch)
    assert not contexts.remove_context("p-host2", LOCAL, FIX)
    assert len(docker.calls) == 1
    FakeDocker(monkeypatch, failing=[["context", "list"]])
    assert not contexts.context_exists("p-host1", LOCAL)  # an unreadable store: none to reuse


def test_a_failed_context_command_names_its_last_line_and_the_fix(monkeypatch):
    FakeDocker(monkeypatch, failing=[["context", "remove"]], stderr=b"some noise\ncontext p-host1 is in use\n")
    with pytest.raises(SvcctlError) as failed:
        contexts.remove_context("p-host1", LOCAL, FIX)
    assert failed.value.cause == "removing Docker context p-host1 failed: context p-host1 is in use"
    assert failed.value.fix == FIX and failed.value.details is None


def test_no_docker_command_is_docker_unavailable(monkeypatch):
    monkeypatch.setattr("python_on_whales.client_config.shutil.which", lambda _name: None)
    with pytest.raises(DockerUnavailableError, match="not installed"):
        contexts.context_exists("p-host1", LOCAL)
    with pytest.raises(DockerUnavailableError, match="not installed"):
        launch.create_volume(LOCAL, "v", {}, "creating volume v", FIX)
    assert engine.no_docker_cli().fix == "install Debian's docker.io, or run `svcctl doctor --fix`"


def test_a_host_volume_and_container_have_the_runners_options(monkeypatch):
    docker = FakeDocker(monkeypatch)
    launch.create_volume(LOCAL, "p-host1-docker", {"io.svcctl.hosts.project": "p"}, "creating volume", FIX)
    assert docker.calls[0] == [
        *["--host", LOCAL.host, "volume", "create", "--label", "io.svcctl.hosts.project=p", "p-host1-docker"]
    ]
    docker.calls.clear()
    from svcctl.toolkit.hosts import HOST_RUN_OPTIONS

    launch.run_detached(
        LOCAL,
        "svcctl/dind:1",
        "starting host p-host1",
        FIX,
        name="p-host1",
        **HOST_RUN_OPTIONS,
        networks=["p-hosts"],
        ip="10.192.3.11",
        volumes=[("p-host1-docker", "/var/lib/docker"), (Path("/certs/p-host1"), "/certs", "ro")],
        labels={"io.svcctl.hosts.project": "p", "io.svcctl.hosts.index": "1"},
        stop_timeout=30,
    )
    run = docker.calls[0]
    assert run[:4] == ["--host", LOCAL.host, "container", "run"] and run[-1] == "svcctl/dind:1"

    def values(flag: str) -> list[str]:
        return [run[i + 1] for i, arg in enumerate(run) if arg == flag]

    assert (values("--cap-add"), values("--cap-drop")) == (["ALL"], ["SYS_RESOURCE"])
    assert values("--security-opt") == ["seccomp=unconfined", "apparmor=unconfined"]
    assert values("--volume") == ["p-host1-docker:/var/lib/docker", "/certs/p-host1:/certs:ro"]
    assert values("--label") == ["io.svcctl.hosts.project=p", "io.svcctl.hosts.index=1"]
    assert (values("--name"), values("--network"), values("--ip")) == (["p-host1"], ["p-hosts"], ["10.192.3.11"])
    assert (values("--stop-timeout"), values("--pull")) == (["30"], ["never"])
    assert {"--detach", "--init"} <= set(run) and "--privileged" not in run
    # Every other argument is a flag's value: python-on-whales adds no option of its own.
    flags = {a for a in run[4:-1] if a.startswith("--")}
    assert flags == {
        *("--cap-add", "--cap-drop", "--security-opt", "--volume", "--label", "--name", "--network", "--ip"),
        *("--stop-timeout", "--pull", "--detach", "--init"),
    }


def test_images_are_saved_on_the_engine_and_loaded_into_each_host_on_its_own(monkeypatch, tmp_path):
    archive = tmp_path / "images.tar"
    docker = FakeDocker(monkeypatch)
    images.save_images(LOCAL, ["a:1", "b:1"], archive, FIX)
    assert docker.calls[-1] == ["--host", LOCAL.host, "image", "save", "--output", str(archive), "a:1", "b:1"]

    docker = FakeDocker(monkeypatch, failing=[["10.192.3.12"]], stderr=b"loading\nno space left on device\n")
    other = EngineEndpoint("tcp://10.192.3.12:2376", "p-host2", TLS)
    assert images.load_archive({"p-host1": HOST, "p-host2": other}, archive) == {"p-host2": "no space left on device"}
    assert sorted(docker.calls) == [
        [*["--host", h.host, *TLS_OPTIONS, "--tlsverify"], "image", "load", "--input", str(archive), "--quiet"]
        for h in (HOST, other)
    ]


def test_one_mapping_of_a_failed_command_compose_keeps_its_own_causes_first():
    exc = DockerException(["docker", "save"], 1, b"", b"Error response from daemon: reference does not exist\n")
    failed = whales_error(exc, "docker save", FIX)
    assert (failed.cause, failed.fix) == (
        "docker save failed: Error response from daemon: reference does not exist",
        FIX,
    )
    silent = whales_error(DockerException(["docker", "run"], 125), "starting host h", FIX)
    assert silent.cause == "starting host h failed: docker exited 125"

    composed = compose_error(DockerException(["docker", "compose"], 1, b"", b"pulling\nservice zk1 exited\n"), "up")
    assert composed.cause == "up failed: service zk1 exited" and composed.details == "pulling\nservice zk1 exited"
    assert composed.fix == "see `docker compose logs` for the failing service"
    port = compose_error(DockerException(["docker"], 1, b"", b"port is already allocated"), "up")
    assert port.cause == "up failed: a published port is in use"

    with pytest.raises(SvcctlError, match="^x failed: boom$"):
        run_whales("x", FIX, lambda: (_ for _ in ()).throw(DockerException(["docker"], 1, b"", b"boom")))
