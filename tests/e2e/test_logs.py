"""`svcctl logs COMPONENT` against the real engine: every line is a line the engine has for that
container, prefixed with its name as `docker compose logs` does; `--since` cuts as docker's."""

from __future__ import annotations

import datetime
import re
import time

from tests.e2e.helpers_services import http_answer, wait_for
from tests.support import TEST_PROJECT, run_json, run_svcctl, unique

PREFIX = "" if TEST_PROJECT == "svcctl" else f"{TEST_PROJECT}-"
MEMBERS = [f"{PREFIX}zoo{i}" for i in (1, 2, 3)]
REGISTRATORS = [f"{PREFIX}registrator{i}" for i in (1, 2, 3)]
LOGFMT = re.compile(r"^ts=\S+ level=\w+ event=")


def by_source(stdout: str) -> dict[str, list[str]]:
    """`NAME | text` lines grouped by NAME (the prefix is padded to the longest name)."""
    found: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        source, bar, text = line.partition(" | ")
        assert bar, f"a line without its container's prefix: {line!r}"
        found.setdefault(source.strip(), []).append(text)
    return found


def engine_lines(engine, name: str, **kwargs) -> list[str]:
    raw = engine.containers.get(name).logs(stdout=True, stderr=True, **kwargs)
    return raw.decode(errors="replace").splitlines()


def rfc3339(moment: float) -> str:
    return datetime.datetime.fromtimestamp(moment, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_zookeeper_logs_are_the_three_members_lines(cluster, engine):
    # Since the members started: every one of them logged at start-up, so all three show.
    started = min(
        datetime.datetime.fromisoformat(engine.containers.get(m).attrs["State"]["StartedAt"][:19]).replace(
            tzinfo=datetime.UTC
        )
        for m in MEMBERS
    )
    proc = run_svcctl("logs", "zookeeper", "--since", rfc3339(started.timestamp() - 1))
    seen = by_source(proc.stdout)
    assert sorted(seen) == MEMBERS, sorted(seen)
    for member in MEMBERS:
        # Each of its lines is one the engine has for that very container (none of another's).
        own = set(engine_lines(engine, member))
        assert all(text in own for text in seen[member]), member
        assert seen[member]


def test_since_ten_minutes_cuts_as_docker_does(cluster, engine, zk):
    # Activity on every member (a session each, a four-letter word), so that each has new lines.
    for port in (m.rsplit(":", 1)[1] for m in cluster.split(",")):
        run_svcctl("--zk", f"127.0.0.1:{port}", "zk", "ls", "/")
    run_json("cluster", "status", check=False)
    now = time.time()
    # What the engine has from the last 9:50 (a margin for the time svcctl takes to start) …
    recent = {m: engine_lines(engine, m, since=int(now - 590)) for m in MEMBERS}
    # … and from before 11 minutes ago, which --since 10m must leave out.
    old = {m: set(engine_lines(engine, m, until=int(now - 660))) - set(recent[m]) for m in MEMBERS}
    seen = by_source(run_svcctl("logs", "zookeeper", "--since", "10m").stdout) if any(recent.values()) else {}
    for member in MEMBERS:
        shown = seen.get(member, [])
        assert all(line in shown for line in recent[member]), f"{member}: a line of the last 10 minutes is missing"
        assert not (set(shown) & old[member]), f"{member}: a line older than 10 minutes is shown"
    stamped = run_svcctl("logs", "zookeeper", "--since", "10m", "--timestamps").stdout.splitlines()
    for line in stamped:
        stamp = line.partition(" | ")[2].split(" ", 1)[0]
        moment = datetime.datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00")
        assert moment.timestamp() >= now - 601, line


def test_registrator_logs_are_their_logfmt_lines(cluster, engine):
    seen = by_source(run_svcctl("logs", "registrator").stdout)
    assert sorted(seen) == REGISTRATORS, sorted(seen)
    for name in REGISTRATORS:
        # The registrator's structured lines, as its own engine log has them.
        assert any(LOGFMT.match(text) for text in seen[name]), seen[name][:5]
        assert set(seen[name]) <= set(engine_lines(engine, name))
    assert not any(m in seen for m in MEMBERS)  # one component only


def test_a_sample_service_after_up_shows_its_instances_lines(services, engine, zk):
    run_svcctl("up", "service_2")
    rows = wait_for(
        lambda: [r for r in run_json("ps") if r["service"] == "service_2" and r["in_zookeeper"]] or None,
        "service_2 registered",
    )
    probe = unique("logs")
    endpoint = f"127.0.0.1:{rows[0]['host_port']}"
    wait_for(lambda: _answers(endpoint, f"/?probe={probe}"), f"{endpoint} to answer")
    seen = wait_for(
        lambda: (lambda s: s if any(probe in t for t in s.get(rows[0]["container"], [])) else None)(
            by_source(run_svcctl("logs", "service_2").stdout)
        ),
        "the request's access-log line in `svcctl logs service_2`",
        timeout=30,
    )
    assert sorted(seen) == sorted(r["container"] for r in rows)
    assert all(name.startswith(f"{TEST_PROJECT}-service_2-") for name in seen)


def test_a_bad_component_is_one_line_listing_the_valid_ones(cluster):
    proc = run_svcctl("logs", "zookeper", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "zookeeper, registrator, gateway" in proc.stderr, proc.stderr
    bad_since = run_svcctl("logs", "zookeeper", "--since", "yesterday", check=False)
    assert bad_since.returncode == 2 and "10m" in bad_since.stderr and "Traceback" not in bad_since.stderr


def test_follow_prints_new_lines_until_interrupted(services, engine):
    import os
    import selectors
    import signal
    import subprocess

    from tests.support import SVCCTL, svcctl_env

    proc = subprocess.Popen(
        [SVCCTL, "logs", "registrator", "-f", "--since", "1s"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=svcctl_env(),
    )
    try:
        time.sleep(2)  # following before the event it must show
        # A new container: the active registrator logs its registration while we follow.
        run_svcctl("up", "service_1")
        waiting = selectors.DefaultSelector()
        waiting.register(proc.stdout, selectors.EVENT_READ)
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("event=register" in line for line in lines):
            if waiting.select(timeout=max(0.1, deadline - time.monotonic())):
                lines.append(proc.stdout.readline())
        assert any("event=register" in line for line in lines), lines
        assert all(line.partition(" | ")[0].strip() in REGISTRATORS for line in lines if line), lines
        assert proc.poll() is None  # still following
    finally:
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 130


def _answers(endpoint: str, path: str) -> bool:
    try:
        return http_answer(endpoint, path) == "This is Service 2."
    except OSError:
        return False
