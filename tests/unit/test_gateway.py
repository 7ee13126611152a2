"""The gateway's pure parts: the reconciliation plan, the HAProxy configuration, the stats CSV."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from svcctl.consumer.cache import Instance
from svcctl.consumer.gateway.controller import DRAINING, READY, Op, desired_state, plan
from svcctl.consumer.gateway.haproxy import (
    SERVER_OPTIONS,
    ProxySettings,
    parse_stats_csv,
    render_config,
    render_map,
    server_state,
)

A, B, C = "127.0.0.1:32001", "127.0.0.1:32002", "127.0.0.1:32003"


def test_a_new_service_takes_a_spare_backend_and_gets_its_servers():
    steps = plan({"s1": {A}, "s2": {B}}, {"s1"}, {"s1": {A: READY}}, spares=1)
    assert not steps.reload and steps.ops == [Op("assign", "s2"), Op("add", "s2", B)]


def test_more_new_services_than_spares_means_a_reload_and_nothing_else():
    steps = plan({"s1": {A}, "s2": {B}, "s3": {C}}, {"s1"}, {"s1": {A: READY}}, spares=1)
    assert steps.reload and steps.ops == []


def test_instances_are_added_drained_and_brought_back_without_reload():
    steps = plan(
        {"s1": {A, C}, "s2": set()},
        {"s1", "s2"},
        {"s1": {A: READY, B: READY, C: DRAINING}, "s2": {A: READY}},
        spares=0,
    )
    assert not steps.reload
    assert steps.ops == [Op("ready", "s1", C), Op("drain", "s1", B), Op("drain", "s2", A)]
    steps = plan({"s1": {A, B}}, {"s1"}, {"s1": {A: READY}}, spares=0)
    assert steps.ops == [Op("add", "s1", B)]


def test_a_service_whose_node_went_keeps_its_backend_and_drains_its_servers():
    # The registrator deletes the service node with its last instance: 503, not 404.
    steps = plan({}, {"s1"}, {"s1": {A: READY, B: DRAINING}}, spares=0)
    assert not steps.reload and steps.ops == [Op("drain", "s1", A)]


def test_nothing_to_do_when_in_step():
    assert plan({"s1": {A}}, {"s1"}, {"s1": {A: READY}}, spares=3).ops == []


def test_desired_state_skips_names_haproxy_cannot_carry():
    services = {
        "ok": [Instance("ok", A, "127.0.0.1", 32001)],
        "bad name": [Instance("bad name", B, "127.0.0.1", 32002)],
    }
    assert desired_state(services) == {"ok": {A}}


SETTINGS = ProxySettings("127.0.0.1", 18080, 18404, "/tmp/svcctl-unit-admin.sock", "/tmp/svcctl-unit.map", 18081)


def test_every_server_line_carries_the_connection_reuse_options():
    text = render_config(SETTINGS, {"s1": [B, A], "empty": []}, spares=2)
    assert f"    server {A} {A} {SERVER_OPTIONS}" in text and f"    server {B} {B} {SERVER_OPTIONS}" in text
    assert "pool-max-conn -1" in SERVER_OPTIONS  # the 80% trap of dynamic servers
    assert "backend svc.s1" in text and "backend svc.empty" in text and "backend spare.1" in text
    assert (
        "bind 127.0.0.1:18080" in text
        and "bind 127.0.0.1:18404" in text
        and "server controller 127.0.0.1:18081" in text
    )


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not installed (svcctl doctor --fix installs it)")
def test_the_rendered_configuration_is_valid_for_haproxy(tmp_path):
    config = tmp_path / "haproxy.cfg"
    config.write_text(
        render_config(
            ProxySettings("127.0.0.1", 18080, 18404, str(tmp_path / "admin.sock"), str(tmp_path / "m.map"), 18081),
            {"s1": [A, B], "s_2": []},
            spares=2,
        )
    )
    (tmp_path / "m.map").write_text(render_map({"s1": [A, B], "s_2": []}))
    proc = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr


CSV = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,\
weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,
gateway,FRONTEND,,,1,5,2000,40,,,,,,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,5,,,,0,38,0,1,1,
svc.service_2,127.0.0.1:32001,0,0,1,4,,30,,,,,,0,0,0,0,UP,1,1,0,0,0,10,0,,1,7,1,,30,,2,0,,4,L4OK,,0,0,30,0,0,0,
svc.service_2,127.0.0.1:32002,0,0,0,2,,8,,,,,,0,0,0,0,MAINT,1,1,0,0,0,3,0,,1,7,2,,8,,2,0,,2,L4OK,,0,0,8,0,0,0,
svc.service_2,127.0.0.1:32003,0,0,0,0,,0,,,,,,0,0,0,0,DOWN 1/2,1,1,0,1,1,3,0,,1,7,3,,0,,2,0,,0,L4CON,,0,0,0,0,0,0,
svc.service_2,BACKEND,0,0,1,5,200,38,,,,,,0,0,0,0,UP,2,2,0,,0,10,0,,1,7,0,,38,,1,0,,5,,,,0,38,0,0,0,
stats,FRONTEND,,,1,1,2000,3,,,,,,,,,,OPEN,,,,,,,,,1,3,0,,,,0,1,0,1,,,,0,2,0,0,0,
"""


def test_render_map_routes_each_service_to_its_backend():
    assert render_map({"b": [], "a": [A]}) == "a svc.a\nb svc.b\n"


def test_stats_csv_gives_each_service_its_servers_and_totals():
    services = parse_stats_csv(CSV.replace("svc.service_2", "spare.4"), {"spare.4": "service_2"})
    assert list(services) == ["service_2"]
    s2 = services["service_2"]
    assert s2.backend == "spare.4"
    assert (s2.current_sessions, s2.total_sessions, s2.responses_2xx) == (1, 38, 38)
    assert [(s.server, s.state, s.current_sessions, s.total_sessions) for s in s2.servers] == [
        ("127.0.0.1:32001", "UP", 1, 30),
        ("127.0.0.1:32002", "MAINT", 0, 8),
        ("127.0.0.1:32003", "DOWN", 0, 0),
    ]


@pytest.mark.parametrize(
    "status, state",
    [
        ("UP", "UP"),
        ("UP 1/2", "UP"),
        ("no check", "UP"),
        ("DOWN", "DOWN"),
        ("DOWN 1/2", "DOWN"),
        ("MAINT", "MAINT"),
        ("MAINT (via x/y)", "MAINT"),
        ("DRAIN", "DRAIN"),
        ("NOLB", "DRAIN"),
    ],
)
def test_server_states(status, state):
    assert server_state(status) == state


def test_doctor_installs_only_the_missing_gateway_tools(monkeypatch):
    from svcctl.toolkit import doctor as bootstrap

    installed = {"haproxy", "chromium", "chromedriver", "apt-get"}
    monkeypatch.setattr(bootstrap.shutil, "which", lambda cmd: f"/usr/bin/{cmd}" if cmd in installed else None)
    monkeypatch.setattr(bootstrap.Path, "exists", lambda self: False)
    assert bootstrap.missing_gateway_tools() == ["wrk"]
    check = bootstrap.check_gateway_tools()
    assert not check.ok and not check.required and "apt-get install wrk" in check.fix
    asked = []
    monkeypatch.setattr(bootstrap, "_apt_install", lambda packages, _progress: asked.append(packages))
    monkeypatch.setattr(bootstrap.os, "geteuid", lambda: 0)
    bootstrap.install_gateway_tools(lambda _msg: None)
    assert asked == [["wrk"]]
    installed.add("wrk")
    bootstrap.install_gateway_tools(lambda _msg: None)
    assert asked == [["wrk"]]  # nothing more once everything is there


def test_no_haproxy_on_the_host_is_one_error_with_the_fix(monkeypatch):
    from svcctl.consumer.gateway import haproxy
    from svcctl.errors import NotFoundError

    monkeypatch.setattr("shutil.which", lambda _cmd: None)
    monkeypatch.setattr(haproxy.os, "access", lambda _path, _mode: False)
    with pytest.raises(NotFoundError) as caught:
        haproxy.haproxy_binary()
    assert "haproxy is not installed" in str(caught.value) and "apt-get install haproxy" in caught.value.fix
