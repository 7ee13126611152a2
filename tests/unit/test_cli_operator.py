"""The operator's CLI: quiet build lines, demo's phase lines, "did you mean", the completion
script, and `svcctl logs`' pure parts (components, --since, prefixes, the merge of streams)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from svcctl.cli.output import TABLE_WIDTH, OutputMode
from svcctl.config.engines import EngineEndpoint
from svcctl.docker.images import BuildResult, BuildStep, parse_step
from svcctl.errors import BadInputError


@pytest.fixture(autouse=True)
def default_mode():
    OutputMode.wide = OutputMode.quiet = False
    yield
    OutputMode.wide = OutputMode.quiet = False


# --- build -------------------------------------------------------------------------------------


def test_parse_step_reads_the_builders_step_lines_only():
    step = parse_step("zookeeper", "Step 3/12 : RUN apt-get update && apt-get install -y openjdk")
    assert (step.image, step.number, step.total) == ("zookeeper", 3, 12)
    assert step.instruction == "RUN apt-get update && apt-get install -y openjdk"
    for other in (" ---> Using cache", "Successfully built 1234", "Step x/12 : RUN a", "Step 3/12", ""):
        assert parse_step("zookeeper", other) is None


def results() -> list[BuildResult]:
    from svcctl.toolkit.images import catalog

    return [
        BuildResult(spec.name, spec.tag, 390_123_456, 0.42, cached=spec.name != "gateway")
        for spec in catalog().values()
    ]


def test_build_lines_one_line_per_image_aligned_within_the_width(capsys):
    from svcctl.cli.build import BuildLines, totals_line

    out = io.StringIO()
    lines = BuildLines(out, live=False)
    lines.note("base image: debian:bookworm-slim")
    lines.step(BuildStep("zookeeper", 3, 12, "Step 3/12 : RUN apt-get install -y openjdk"))
    for result in results():
        lines.built(result)
    printed = out.getvalue().splitlines()
    assert len(printed) == len(results())
    assert printed[0].split() == ["zookeeper", "svcctl/zookeeper:3.8", "cached", "390.1", "MB", "0.4s"]
    assert any(line.split()[2] == "built" for line in printed)
    assert all(len(line) <= TABLE_WIDTH for line in printed)
    assert len({line.index("/") if "/" in line.split()[1] else None for line in printed} - {None}) == 1  # tags align
    assert capsys.readouterr().err == ""  # not a terminal: no live line, no step, no note
    count = len(results())  # every image of the catalog, one of them built
    assert totals_line(results(), 3.21) == f"{count} images: {count - 1} cached, 1 built (3.2s)"


def test_build_lines_live_on_a_terminal_are_rewritten_then_erased(capsys):
    from svcctl.cli.build import CLEAR_LINE, BuildLines

    out = io.StringIO()
    lines = BuildLines(out, live=True)
    long = "RUN " + "x" * 300
    lines.step(BuildStep("zookeeper", 3, 12, f"Step 3/12 : {long}"))
    lines.step(BuildStep("zookeeper", 4, 12, "Step 4/12 : COPY . /"))
    lines.built(results()[0])
    err = capsys.readouterr().err
    shown = [part for part in err.split(CLEAR_LINE) if part]
    assert shown[0].startswith("zookeeper") and "step 3/12" in shown[0] and len(shown[0]) < TABLE_WIDTH
    assert "step 4/12  COPY . /" in shown[1]
    assert err.endswith(CLEAR_LINE)  # erased before the image's line
    assert "\n" not in err and out.getvalue().startswith("zookeeper")


def test_build_lines_verbose_shows_every_step_and_quiet_only_the_images(capsys):
    from svcctl.cli.build import BuildLines

    lines = BuildLines(io.StringIO(), live=True, verbose=True)
    lines.note("registrator: svcctl wheel unchanged")
    lines.step(BuildStep("zookeeper", 3, 12, "Step 3/12 : RUN true"))
    err = capsys.readouterr().err
    assert "… zookeeper: Step 3/12 : RUN true" in err and "wheel unchanged" in err
    OutputMode.quiet = True
    out = io.StringIO()
    quiet = BuildLines(out, live=True)
    quiet.step(BuildStep("zookeeper", 3, 12, "Step 3/12 : RUN true"))
    quiet.built(results()[0])
    assert capsys.readouterr().err == "" and out.getvalue().startswith("zookeeper")


# --- demo --------------------------------------------------------------------------------------


def test_demo_phase_header_and_cluster_line(capsys):
    from svcctl.cli.demo import cluster_line, phase_header
    from svcctl.ensemble.members import MemberStatus
    from svcctl.zk.fourletter import ServerStats

    phase_header("build")
    assert capsys.readouterr().out == "\n== build ==\n"
    nodes = [
        MemberStatus("127.0.0.1:2181", "zoo1", "running", ServerStats("follower")),
        MemberStatus("127.0.0.1:2182", "zoo2", "running", ServerStats("leader")),
        MemberStatus("127.0.0.1:2183", "zoo3", "exited", ServerStats("")),
    ]
    assert cluster_line(nodes) == "ensemble: zoo1 follower, zoo2 leader, zoo3 exited"


# --- the root: did you mean, completion, -q ----------------------------------------------------

# The real CLI in a child interpreter, as a user runs it.
PROBE = """
import sys
sys.argv = ["svcctl", *{args!r}]
from svcctl.cli.main import main
main()
"""


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize(
    "args, suggestion",
    [
        (["clustr", "up"], "no such command 'clustr'; did you mean 'cluster'?"),
        (["cluster", "stauts"], "no such command 'stauts'; did you mean 'status'?"),
        (["zk", "lss", "/"], "no such command 'lss'; did you mean 'ls'?"),
        (["scenario", "rn", "1"], "no such command 'rn'; did you mean 'run'?"),
        (["pki", "isue"], "no such command 'isue'; did you mean 'issue'?"),
    ],
)
def test_a_mistyped_command_gets_one_line_naming_the_closest(args, suggestion):
    proc = run_cli(*args)
    assert proc.returncode == 2
    assert proc.stderr == f"svcctl: error: {suggestion}\n" and proc.stdout == ""


def test_a_command_like_none_gets_the_help_pointer():
    proc = run_cli("xyzzy")
    assert proc.returncode == 2 and proc.stderr == "svcctl: error: no such command 'xyzzy'; fix: see `svcctl --help`\n"


def test_suggest_command():
    from svcctl.cli.main import suggest_command

    assert suggest_command("discovr", ["discover", "doctor", "demo"]) == "discover"
    assert suggest_command("qqq", ["discover", "doctor"]) is None


@pytest.mark.parametrize(
    "shell, marker", [("bash", "complete -o default -F"), ("zsh", "compdef"), ("fish", "complete")]
)
def test_completion_prints_the_shells_script(shell, marker):
    proc = run_cli("completion", shell)
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout and "_SVCCTL_COMPLETE=complete_" in proc.stdout and "svcctl" in proc.stdout


def test_the_script_completes_commands_and_subcommands():
    """What the bash script asks svcctl, answered as the shell would get it."""
    top = run_cli(env={"_SVCCTL_COMPLETE": "complete_bash", "COMP_WORDS": "svcctl clu", "COMP_CWORD": "1"})
    assert top.returncode == 0 and top.stdout.split() == ["cluster"], top.stderr
    sub = run_cli(env={"_SVCCTL_COMPLETE": "complete_bash", "COMP_WORDS": "svcctl logs -", "COMP_CWORD": "2"})
    assert "--follow" in sub.stdout.split() and "--since" in sub.stdout.split(), sub.stderr


def test_completion_refuses_an_unknown_shell():
    proc = run_cli("completion", "tcsh")
    assert proc.returncode == 2 and "tcsh" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_quiet_is_a_root_option():
    proc = run_cli("-q", "version")
    assert proc.returncode == 0 and proc.stdout.strip() and proc.stderr == ""
    assert "-q, --quiet" in run_cli("--help").stdout


# --- logs --------------------------------------------------------------------------------------


def test_components_and_which_compose_services_they_are():
    from svcctl.walkthrough.logs import component_of, components

    assert components()[:4] == ["zookeeper", "registrator", "gateway", "docker-proxy"]
    assert {"service_1", "service_2"} <= set(components())
    expected = {
        "zoo1": "zookeeper",
        "zoo3": "zookeeper",
        "zoo": "zookeeper",  # a host's member over hosts
        "registrator1": "registrator",
        "registrator2": "registrator",
        "gateway": "gateway",
        "docker-proxy": "docker-proxy",
        "service_2": "service_2",
        "zookeeper": None,
        "registrator": "registrator",  # a swarm stack's one service (a task per node)
        "registratorx": None,
        "zoox": None,
        "pki-member": None,
    }
    assert {name: component_of(name) for name in expected} == expected


def container(name: str, service: str, host: str | None = None, engine: str = "unix:///var/run/docker.sock"):
    from svcctl.docker.logs import ProjectContainer

    return ProjectContainer(name, f"id-{name}-{host}", service, EngineEndpoint(engine, host), host)


def test_select_a_component_or_everything():
    from svcctl.walkthrough.logs import select

    found = [
        container("zoo1", "zoo1"),
        container("zoo2", "zoo2"),
        container("registrator1", "registrator1"),
        container("svcctl-service_2-1", "service_2"),
        container("throwaway", "pki-member"),
    ]
    assert [c.name for c in select(found, "zookeeper")] == ["zoo1", "zoo2"]
    assert [c.name for c in select(found, "service_2")] == ["svcctl-service_2-1"]
    assert [c.name for c in select(found, None)] == ["zoo1", "zoo2", "registrator1", "svcctl-service_2-1"]


def test_a_bad_component_is_one_line_naming_the_valid_ones():
    from svcctl.walkthrough.logs import check_component

    check_component(None)
    check_component("registrator")
    with pytest.raises(BadInputError) as caught:
        check_component("zookeper")
    line = caught.value.one_line()
    assert "'zookeper'" in line and "zookeeper, registrator, gateway, docker-proxy, service_1, service_2" in line
    assert "\n" not in line


NOW = 1_714_560_000.0


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("10m", NOW - 600),
        ("1h30m", NOW - 5400),
        ("45s", NOW - 45),
        ("1.5h", NOW - 5400),
        ("250ms", NOW - 0.25),
        ("2024-05-01T10:40:00Z", 1_714_560_000.0),
        ("2024-05-01T12:40:00+02:00", 1_714_560_000.0),
        ("2024-05-01T10:40:00.5Z", 1_714_560_000.5),
        ("2024-05-01T10:40:00", 1_714_560_000.0),  # no offset: UTC, as docker takes it
        ("1714560000", 1_714_560_000.0),
        ("1714560000.25", 1_714_560_000.25),
    ],
)
def test_parse_since_as_docker_takes_it(text, seconds):
    from svcctl.docker.logs import parse_since

    assert parse_since(text, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["yesterday", "10", "10 minutes", "m10", "2024-13-45"])
def test_parse_since_refuses_what_is_neither(text):
    from svcctl.docker.logs import parse_since

    if text == "10":  # a bare number is a Unix timestamp, as for docker
        assert parse_since(text, now=NOW) == 10.0
        return
    with pytest.raises(BadInputError) as caught:
        parse_since(text, now=NOW)
    assert "10m" in caught.value.one_line() and "RFC 3339" in caught.value.one_line()


def test_split_timestamp():
    from svcctl.docker.logs import split_timestamp

    assert split_timestamp("2024-05-01T10:40:00.123456789Z hello world") == (
        "2024-05-01T10:40:00.123456789Z",
        "hello world",
    )
    assert split_timestamp("no stamp here") == ("", "no stamp here")


def test_source_labels_name_the_host_only_where_names_repeat():
    from svcctl.docker.logs import source_labels

    found = [
        container("zoo1", "zoo", "svcctl-host1", "tcp://10.192.37.11:2376"),
        container("svcctl-host1-registrator1", "registrator1", "svcctl-host1", "tcp://10.192.37.11:2376"),
        container("svcctl-service_2-1", "service_2", "svcctl-host1", "tcp://10.192.37.11:2376"),
        container("svcctl-service_2-1", "service_2", "svcctl-host2", "tcp://10.192.37.12:2376"),
    ]
    assert source_labels(found) == [
        "zoo1",
        "svcctl-host1-registrator1",
        "svcctl-service_2-1@svcctl-host1",
        "svcctl-service_2-1@svcctl-host2",
    ]


class FakeApi:
    """The docker SDK's low-level logs call: chunks cut anywhere, as frames arrive."""

    def __init__(self, chunks: dict[str, list[bytes]]) -> None:
        self.chunks, self.asked = chunks, []

    def logs(self, container_id, **kwargs):
        self.asked.append((container_id, kwargs))
        yield from self.chunks[container_id]


class FakeClient:
    def __init__(self, api: FakeApi) -> None:
        self.api = api


def test_read_logs_merges_the_containers_in_time_order(monkeypatch):
    from svcctl.docker import logs

    zoo1, zoo2 = container("zoo1", "zoo1"), container("zoo2", "zoo2")
    api = FakeApi(
        {
            zoo1.id: [b"2024-05-01T10:40:00.000000001Z one\n2024-05-01T10:40:", b"00.000000003Z three\n"],
            zoo2.id: [b"2024-05-01T10:40:00.000000002Z two\r\n", b"2024-05-01T10:40:00.000000004Z four (no newline)"],
        }
    )
    monkeypatch.setattr(logs, "_client", lambda _container: FakeClient(api))
    seen: list[tuple[str, str]] = []
    logs.read_logs([zoo1, zoo2], lambda line: seen.append((line.source, line.text)), since=NOW - 600)
    assert seen == [("zoo1", "one"), ("zoo2", "two"), ("zoo1", "three"), ("zoo2", "four (no newline)")]
    assert all(
        kwargs["since"] == NOW - 600 and kwargs["timestamps"] and not kwargs["follow"] for _, kwargs in api.asked
    )


def test_read_logs_follow_passes_lines_as_they_come_and_a_failure_is_a_line(monkeypatch):
    import docker.errors

    from svcctl.docker import logs

    zoo1, zoo2 = container("zoo1", "zoo1"), container("zoo2", "zoo2")

    class Failing(FakeApi):
        def logs(self, container_id, **kwargs):
            self.asked.append((container_id, kwargs))
            if container_id == zoo2.id:
                raise docker.errors.NotFound("no such container")
            yield b"2024-05-01T10:40:00.000000001Z up\n"

    api = Failing({})
    monkeypatch.setattr(logs, "_client", lambda _container: FakeClient(api))
    seen = []
    logs.read_logs([zoo1, zoo2], lambda line: seen.append((line.source, line.text)), follow=True)
    assert ("zoo1", "up") in seen
    assert any(source == "zoo2" and "could not be read" in text for source, text in seen)
    assert all(kwargs["follow"] for _, kwargs in api.asked)


def test_demo_prints_each_phase_under_its_header_within_the_width(capsys, monkeypatch):
    """The whole `svcctl demo` output as a user reads it, the run itself faked: headers in order,
    the doctor's table, one line per image, the members, the steps, the summary; ≤ 100 columns."""
    import types

    import svcctl.cli.demo as demo_cli
    from svcctl.ensemble.members import MemberStatus
    from svcctl.toolkit.doctor import Check
    from svcctl.walkthrough.demo import DemoReport
    from svcctl.zk.fourletter import ServerStats
    from tests.unit.test_cli_output import step_results

    tree = "/services\n├── service_1\n│   └── 127.0.0.1:32791  [service_1 svcctl-service_1-1 32791->8080/tcp]"

    def fake_run(settings, keep, timeout, on_progress, watch, secure, with_faults):
        report = DemoReport()
        watch.on_phase("doctor")
        report.checks = [Check("engine", True, "Docker 24.0.9 at unix:///var/run/docker.sock " * 3)]
        watch.on_checks(report.checks)
        watch.on_phase("build")
        watch.on_build_note("base image: svcctl/base:bookworm")
        watch.on_build_step(BuildStep("zookeeper", 3, 12, "Step 3/12 : RUN apt-get update"))
        for result in results():
            watch.on_built(result)
        report.builds = results()
        watch.on_phase("cluster")
        report.nodes = [
            MemberStatus(f"127.0.0.1:218{i}", f"zoo{i}", "running", ServerStats("follower")) for i in (1, 2, 3)
        ]
        watch.on_cluster(report.nodes)
        watch.on_phase("scenarios")
        report.steps = step_results()[:3]
        for step in report.steps:
            step.tree = tree
            watch.on_step(step)
        report.steps.append(step_results()[2])  # four steps that held
        report.steps[3].step = step_results()[3].step
        report.seconds = {"doctor": 1.0, "build": 2.0, "cluster": 10.0, "scenarios": 40.0, "total": 53.0}
        return report

    monkeypatch.setattr(demo_cli, "run_demo", fake_run)
    ctx = types.SimpleNamespace(obj=None)
    demo_cli.demo(ctx, keep=True, timeout=30, secure=False, faults=False, verbose=False, wide=False, json_out=False)
    out = capsys.readouterr().out
    headers = [line for line in out.splitlines() if line.startswith("== ") and line.endswith(" ==")]
    assert headers == ["== doctor ==", "== build ==", "== cluster ==", "== scenarios ==", "== summary =="]
    assert "engine" in out and "OK" in out  # the doctor's results
    assert sum(line.startswith(("zookeeper ", "registrator ", "gateway ")) for line in out.splitlines()) == 3
    assert "Step 3/12" not in out and "ensemble: zoo1 follower" in out and "all four scenarios held" in out
    assert max(len(line) for line in out.splitlines()) <= TABLE_WIDTH, out
