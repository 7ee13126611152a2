"""What the CLI prints: the one age format, tables within 100 columns (every table, with
representative rows; --wide keeps every column), ps' JSON booleans, -q."""

from __future__ import annotations

import json

import pytest

from svcctl.cli import output
from svcctl.cli.output import (
    TABLE_WIDTH,
    OutputMode,
    age_text,
    fit_column_widths,
    moment_text,
    render_table,
    since_text,
)

NOW = 1_714_560_000.0
ENGINE_ID = "ABCD:EFGH:IJKL:MNOP:QRST:UVWX:YZ01:2345:6789:ABCD:EFGH:IJKL"
SESSION = "0x1000a3b4c5d0012"


@pytest.fixture(autouse=True)
def narrow():
    """Each test starts as a run without --wide or -q."""
    OutputMode.wide = OutputMode.quiet = False
    yield
    OutputMode.wide = OutputMode.quiet = False


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


# --- the one age format ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, text",
    [
        (None, "-"),
        (-3, "0s"),
        (0, "0s"),
        (49.9, "49s"),
        (119, "119s"),
        (120, "2m"),
        (3599, "59m"),
        (7199, "119m"),
        (7200, "2h"),
        (47 * 3600, "47h"),
        (2 * 86400, "2d"),
        (40 * 86400 + 5, "40d"),
    ],
)
def test_age_text(seconds, text):
    assert age_text(seconds) == text


def test_since_and_moment_use_the_same_age():
    assert since_text(NOW - 49, now=NOW) == "49s ago"
    assert since_text(NOW - 3 * 3600, now=NOW) == "3h ago"
    assert since_text(None, now=NOW) == since_text(0, now=NOW) == "-"
    assert moment_text(NOW - 300, now=NOW).endswith(" (5m ago)")
    assert moment_text(NOW, now=NOW)[:4].isdigit()


def test_no_command_keeps_an_age_format_of_its_own():
    """Every relative time goes through output.age_text: no other module formats "… ago" or
    an age of its own (the registrator package's since_text is the core's, unused by the CLI)."""
    from pathlib import Path

    cli = Path(output.__file__).parent
    for module in cli.glob("*.py"):
        text = module.read_text()
        if module.name != "output.py":
            assert "s ago" not in text and "def _age" not in text and "strftime" not in text, module.name
            assert ".since_text()" not in text, module.name


# --- fitting ---------------------------------------------------------------------------------


def test_fit_column_widths_caps_the_widest_first():
    assert fit_column_widths([10, 20, 30], [4, 4, 4], limit=100) == [None, None, None]
    caps = fit_column_widths([10, 60, 80], [4, 4, 4], limit=100)
    assert caps[0] is None and caps[1] == caps[2]
    assert 10 + caps[1] + caps[2] + 2 * 2 <= 100
    # A column is never capped below its header.
    caps = fit_column_widths([30, 200], [30, 12], limit=50)
    assert caps == [None, 18]
    # Floors that do not fit: each column at its floor, nothing narrower.
    assert fit_column_widths([40, 40, 40], [40, 40, 40], limit=50) == [None, None, None]


def test_render_table_wraps_and_drops_only_when_narrow():
    rows = [("a", "x " * 80, "keep me"), ("b", "short", None)]
    narrow = render_table(rows, ["name", "text", "extra"], narrow_drop=("extra",))
    assert widest(narrow) <= TABLE_WIDTH and "extra" not in narrow and "keep me" not in narrow
    wide = render_table(rows, ["name", "text", "extra"], narrow_drop=("extra",), wide=True)
    assert widest(wide) > TABLE_WIDTH and "keep me" in wide
    assert "-" in render_table([("a", None)], ["k", "v"])  # None prints as "-"


# --- every table, with representative rows ---------------------------------------------------


def printed(capsys, print_it) -> str:
    print_it()
    return capsys.readouterr().out


def ps_rows():
    from svcctl.walkthrough.services import PsRow, Registered

    return [
        PsRow(
            "service_2",
            f"svcctl-service_2-{i}",
            "f" * 64,
            "running",
            "healthy",
            32790 + i,
            f"/services/service_2/10.192.37.11:{32790 + i}",
            registered,
            host=f"svcctl-host{i}",
        )
        for i, registered in enumerate(Registered, start=1)
    ]


@pytest.mark.parametrize("all_hosts", [False, True])
def test_ps_fits_and_wide_shows_the_znode(capsys, all_hosts):
    from svcctl.cli.services import print_ps

    text = printed(capsys, lambda: print_ps(ps_rows(), all_hosts))
    assert widest(text) <= TABLE_WIDTH and "other-container" in text and "/services/" not in text
    OutputMode.wide = True
    assert "/services/service_2/10.192.37.11:32791" in printed(capsys, lambda: print_ps(ps_rows(), all_hosts))


def test_ps_json_has_booleans_and_the_full_container_id():
    from svcctl.cli.services import ps_json

    rows = [json.loads(json.dumps(ps_json(row))) for row in ps_rows()]
    assert [r["in_zookeeper"] for r in rows] == [True, False, False, False, False, False]
    assert rows[0]["registered"] == "yes" and rows[3]["registered"] == "not-published"  # the six-valued answer
    assert all(r["container_id"] == "f" * 64 for r in rows)


def member_rows(over_hosts: bool):
    from svcctl.ensemble.members import MemberStatus
    from svcctl.zk.fourletter import ServerStats

    return [
        MemberStatus(
            f"10.192.37.1{i}:2181" if over_hosts else f"127.0.0.1:218{i}",
            f"zoo{i}",
            "running" if i < 3 else "host down",
            ServerStats("leader" if i == 1 else "follower", "3.8.4", "0x30000012a", 12, 0.123, 1234, 40),
            host=f"svcctl-host{i}" if over_hosts else None,
        )
        for i in (1, 2, 3)
    ]


@pytest.mark.parametrize("over_hosts", [False, True])
def test_cluster_members_fit(capsys, over_hosts):
    from svcctl.cli.cluster import _print_nodes

    text = printed(capsys, lambda: _print_nodes(member_rows(over_hosts)))
    assert widest(text) <= TABLE_WIDTH and "0x30000012a" in text


def registrator_rows():
    from svcctl.ensemble.status import RegistratorRow

    return [
        # The e2e suite's hosts project has the longest names a run sees.
        RegistratorRow(
            f"svcctl-test-hosts-host{i}-registrator{i}", "running", role, NOW - 49, 1234, SESSION, ENGINE_ID, "CN=x"
        )
        for i, role in enumerate(("active", "standby", "unknown"), start=1)
    ]


def test_registrators_fit_with_the_one_age_and_wide_shows_the_session(capsys, monkeypatch):
    from svcctl.cli.registrator import print_registrators

    monkeypatch.setattr(output.time, "time", lambda: NOW)
    text = printed(capsys, lambda: print_registrators(registrator_rows()))
    assert widest(text) <= TABLE_WIDTH and "49s ago" in text and SESSION not in text
    assert len(text.splitlines()) == 2 + len(registrator_rows())  # no row wrapped
    OutputMode.wide = True
    assert SESSION in printed(capsys, lambda: print_registrators(registrator_rows()))


def test_discover_fits_with_the_one_age(capsys, monkeypatch):
    import svcctl.cli.discover as discover
    from svcctl.consumer.cache import Instance

    monkeypatch.setattr(discover.time, "time", lambda: NOW)
    services = {
        "service_2": [
            Instance("service_2", f"10.192.37.11:{p}", "10.192.37.11", p, "e" * 64, f"svcctl-service_2-{p}", NOW - 300)
            for p in (32791, 32792)
        ],
        "service_1": [],
    }
    text = printed(capsys, lambda: discover.print_services(services))
    assert widest(text) <= TABLE_WIDTH and "5m" in text and "(no instances)" in text


def test_hosts_fit_one_line_each_and_wide_shows_the_endpoint(capsys):
    from svcctl.cli.hosts import _print_hosts
    from svcctl.toolkit.hosts import HostInfo

    # The e2e suite's hosts project has the longest names a run sees.
    hosts = [
        HostInfo(f"svcctl-test-hosts-host{i}", i, f"10.192.37.1{i}", "running", f"tcp://10.192.37.1{i}:2376", "24.0.9")
        for i in (1, 2, 3)
    ]
    for host in hosts:
        host.containers, host.swarm_role, host.swarm_state = 7, "manager", "ready"
    hosts[0].swarm_role = "leader"
    lines = printed(capsys, lambda: _print_hosts(hosts)).splitlines()
    assert max(map(len, lines)) <= TABLE_WIDTH and "leader (ready)" in lines[2]
    assert len(lines) == 2 + len(hosts) and all("ready" in line for line in lines[2:])  # no row wrapped
    OutputMode.wide = True
    assert "tcp://10.192.37.11:2376" in printed(capsys, lambda: _print_hosts(hosts))


def test_gateway_servers_fit(capsys):
    from svcctl.cli.gateway import print_servers
    from svcctl.ensemble.gateway import GatewayInfo

    servers = [
        {"server": f"10.192.37.1{i}:3279{i}", "state": "MAINT", "current_sessions": 12, "total_sessions": 123456}
        for i in (1, 2, 3)
    ]
    info = GatewayInfo(
        "svcctl-gateway",
        "running",
        "127.0.0.1",
        8080,
        8404,
        [{"service": "service_2", "current_sessions": 36, "total_sessions": 370368, "servers": servers}],
    )
    text = printed(capsys, lambda: print_servers(info))
    assert widest(text) <= TABLE_WIDTH and "MAINT" in text


def test_zk_prune_decisions_fit(capsys):
    from svcctl.cli.zk import print_decisions
    from svcctl.registry.prune import CONTAINER_GONE, PruneDecision

    decisions = [
        PruneDecision(
            f"/services/service_2/10.192.37.11:3279{i}",
            "instance",
            CONTAINER_GONE,
            f"container {'f' * 12} does not run on this engine (engine {ENGINE_ID})",
            3,
            12,
            "kept (its version changed: registered again meanwhile)",
        )
        for i in (1, 2)
    ]
    for done in (False, True):
        text = printed(capsys, lambda done=done: print_decisions(decisions, done))
        assert widest(text) <= TABLE_WIDTH
        assert all(d.path in text for d in decisions)  # the row's name is never cut in two


def test_zk_stat_fits(capsys):
    from svcctl.cli.zk import _print_stat
    from svcctl.zk.znode import ZnodeSnapshot

    stat = ZnodeSnapshot("/services", version=3, ctime=NOW, mtime=NOW, ephemeral_owner=0x1000A3B4C5D0012)
    text = printed(capsys, lambda: _print_stat(stat))
    assert widest(text) <= TABLE_WIDTH and "ago)" in text


def test_doctor_checks_fit(capsys):
    from svcctl.cli.doctor import print_checks
    from svcctl.toolkit.doctor import Check

    checks = [
        Check("engine", True, "Docker 24.0.9 at unix:///var/run/docker.sock (API 1.43, cgroups v2, overlay2)"),
        Check(
            "gateway tools",
            False,
            "haproxy, wrk and chromium are not on the PATH of this host (the foreground gateway needs them)",
            "run `svcctl doctor --fix` as root (apt-get install haproxy wrk chromium), or install them yourself",
            required=False,
        ),
        Check("security", False, "the running cluster is open: plain text, no ACLs", "`svcctl cluster up --secure`"),
    ]
    text = printed(capsys, lambda: print_checks(checks))
    assert widest(text) <= TABLE_WIDTH and "WARN" in text and "FAIL" in text


def step_results():
    from svcctl.walkthrough import scenarios

    seen = [
        {"service_1": ["127.0.0.1:32791"], "service_2": None},
        {"service_1": ["127.0.0.1:32791"], "service_2": ["127.0.0.1:32796"]},
        {"service_1": ["127.0.0.1:32791"], "service_2": ["127.0.0.1:32796", "127.0.0.1:32797"]},
        {"service_1": None, "service_2": ["127.0.0.1:32796", "127.0.0.1:32797"]},
    ]
    return [
        scenarios.StepResult(step, 1, seen=s, converge_seconds=0.52 if step.number != 4 else None)
        for step, s in zip(scenarios.STEPS, seen, strict=True)
    ]


def test_scenario_summary_fits_and_wide_restores_the_expectation(capsys):
    from svcctl.cli.scenario import print_summary

    text = printed(capsys, lambda: print_summary(step_results()))
    assert widest(text) <= TABLE_WIDTH
    assert "127.0.0.1:32797" in text and "expected" not in text and "FAILED" in text
    OutputMode.wide = True
    wide = printed(capsys, lambda: print_summary(step_results()))
    assert "two children under /services/service_2, one per container" in wide
    assert "service_1: 127.0.0.1:32791; service_2: 127.0.0.1:32796, 127.0.0.1:32797" in wide


def test_fault_summary_fits(capsys):
    from svcctl.cli.scenario import print_fault_summary
    from svcctl.walkthrough.faults import FAULTS, FaultResult, LoadStats

    results = [
        FaultResult(f, gateway=LoadStats(123456, 12), cache_calls=LoadStats(23456, 0), converge_s=12.5) for f in FAULTS
    ]
    text = printed(capsys, lambda: print_fault_summary(results))
    assert widest(text) <= TABLE_WIDTH and "registrator-handover" in text


def test_scenario_list_fits(capsys):
    from svcctl.cli.scenario import list_steps

    text = printed(capsys, lambda: list_steps(json_out=False))
    assert widest(text) <= TABLE_WIDTH and "host-crash" in text


def test_pki_style_tables_and_any_long_cell_fit():
    rows = [("reader@" + "n" * 30, "reader", "CN=svcctl-reader@" + "n" * 60 + ",O=svcctl", "2026-05-01")]
    assert widest(render_table(rows, ["name", "role", "subject", "expires"])) <= TABLE_WIDTH


# --- -q ----------------------------------------------------------------------------------------


def test_quiet_silences_progress_not_errors(capsys):
    output.progress("building")
    assert "building" in capsys.readouterr().err
    OutputMode.quiet = True
    output.progress("building")
    output.error_line("it failed")
    err = capsys.readouterr().err
    assert "building" not in err and "svcctl: error: it failed" in err
