"""`svcctl zk …` against the real ensemble: nodes created by the test, the real console script."""

from __future__ import annotations

import json
import subprocess
import threading
import time

from tests.e2e.helpers_zk import payload as zk_payload
from tests.e2e.helpers_zk import (
    register,
    remove_containers,
    start_responder,
    unique,
    wait_for,
)
from tests.support import SVCCTL, TEST_ZK, run_json, run_svcctl, svcctl_env


def make_tree(zk, root: str) -> None:
    zk.create(f"{root}/a/x", b'{"k": [1, 2]}', makepath=True)
    zk.create(f"{root}/a/y", b"plain text")
    zk.create(f"{root}/b", b"")


def test_ls_tree_get_stat(zk):
    root = "/" + unique("zkcli")
    try:
        make_tree(zk, root)
        assert run_json("zk", "ls", root) == ["a", "b"]
        assert run_json("zk", "ls", root, "-r") == [f"{root}/a", f"{root}/a/x", f"{root}/a/y", f"{root}/b"]
        assert run_svcctl("zk", "ls", root).stdout.split() == ["a", "b"]

        tree = run_svcctl("zk", "tree", root, "--data").stdout
        assert tree.splitlines() == [root, "├── a", '│   ├── x  {"k":[1,2]}', "│   └── y  plain text", "└── b"]

        got = run_json("zk", "get", f"{root}/a/x")
        assert got["data"] == {"k": [1, 2]} and got["json"] is True
        assert got["stat"]["version"] == 0 and got["stat"]["ephemeral"] is False
        zk.set(f"{root}/a/x", b'{"k": 3}')
        human = run_svcctl("zk", "get", f"{root}/a/x").stdout
        assert '"k": 3' in human and "version          1" in human

        stat = run_json("zk", "stat", f"{root}/a")
        assert stat["num_children"] == 2 and stat["version"] == 0
    finally:
        zk.delete(root, recursive=True)


def test_registration_nodes_show_payload_summary_in_tree(zk, engine):
    service = unique()
    container, port = start_responder(engine)
    try:
        register(zk, service, port, container.id, name="my-responder")
        out = run_svcctl("zk", "tree", f"/services/{service}").stdout
        assert f"127.0.0.1:{port}  [{service} my-responder {port}->8000/tcp]  (ephemeral)" in out
    finally:
        remove_containers([container])
        zk.delete(f"/services/{service}", recursive=True)


def test_missing_path_and_protected_paths_are_one_line_errors(zk):
    proc = run_svcctl("zk", "get", "/does/not/exist", check=False)
    assert proc.returncode == 7 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "svcctl: error: znode /does/not/exist does not exist; fix: list what exists with `svcctl zk ls /` or `svcctl "
        "zk tree /services`"
    ]
    for path in ("/", "/zookeeper", "/zookeeper/quota"):
        proc = run_svcctl("zk", "rm", path, "-r", "--yes", check=False)
        assert proc.returncode == 2 and "refusing to remove" in proc.stderr
    assert zk.exists("/zookeeper/quota") is not None


def test_rm_lists_asks_and_removes(zk):
    root = "/" + unique("zkrm")
    try:
        make_tree(zk, root)
        proc = run_svcctl("zk", "rm", root, "--yes", check=False)
        assert proc.returncode == 6 and "pass -r" in proc.stderr
        proc = run_svcctl("zk", "rm", root, "-r", input="n\n", check=False)
        assert proc.returncode == 1 and "nothing removed" in proc.stdout
        assert zk.exists(f"{root}/a/x") is not None
        proc = run_svcctl("zk", "rm", root, "-r", input="y\n")
        listed = [line.strip() for line in proc.stdout.splitlines() if line.startswith("  /")]
        assert listed == [f"{root}/b", f"{root}/a/y", f"{root}/a/x", f"{root}/a", root]
        assert "removed 5 node(s)" in proc.stdout
        assert zk.exists(root) is None
    finally:
        if zk.exists(root):
            zk.delete(root, recursive=True)


def test_a_dead_member_is_transparent_and_none_answering_is_one_line(zk):
    first = TEST_ZK.split(",")[0]
    # Dead addresses before a live member: kazoo moves on to the next one.
    proc = run_svcctl("--zk", f"127.0.0.1:1,127.0.0.1:9,{first}", "zk", "ls", "/", "--json")
    assert "zookeeper" in json.loads(proc.stdout)
    proc = run_svcctl("--zk", "127.0.0.1:1,127.0.0.1:9", "zk", "ls", "/", check=False)
    assert proc.returncode == 4
    assert proc.stderr.strip().splitlines() == [
        "svcctl: error: no ZooKeeper member answers at 127.0.0.1:1,127.0.0.1:9 (all 2 down); "
        "fix: start the ensemble with `svcctl cluster up`, or pass the right --zk / SVCCTL_ZK"
    ]


def test_a_lost_quorum_is_named_with_each_members_state(zk, engine):
    """zoo2 and zoo3 stopped: zoo1 still answers srvr but serves no client. The error says the
    quorum is lost and how each member is, instead of "no member answers"."""
    from tests.support import TEST_PROJECT

    prefix = "" if TEST_PROJECT == "svcctl" else f"{TEST_PROJECT}-"
    members = TEST_ZK.split(",")
    stopped = [engine.containers.get(f"{prefix}zoo{i}") for i in (2, 3)]
    try:
        for container in stopped:
            container.stop(timeout=5)
        # zoo1 notices it is alone within its tick time; until then it may still serve.
        proc = wait_for(
            lambda: (lambda p: p if p.returncode != 0 else None)(run_svcctl("zk", "ls", "/services", check=False)),
            "zoo1 to stop serving",
            timeout=60,
            interval=0.5,
        )
        assert proc.returncode == 4, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert "ZooKeeper has lost its quorum: 1 of 3 members up, none serving" in line
        assert f"{members[0]} up, not serving" in line
        assert f"{members[1]} down" in line and f"{members[2]} down" in line
    finally:
        run_svcctl("cluster", "up", "--timeout", "180")


class Stream:
    """`svcctl zk watch --json` running in the background, its events collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [SVCCTL, "zk", "watch", *args, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=svcctl_env(),
        )
        self.events: list[dict] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        wait_for(self.ready.is_set, "zk watch to start")

    def _read_out(self) -> None:
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            if line.startswith("watching"):
                self.ready.set()

    def kinds(self) -> list[tuple[str, str]]:
        return [(e["kind"], e["path"]) for e in self.events]

    def wait(self, kind: str, path: str) -> None:
        wait_for(lambda: (kind, path) in self.kinds(), f"{kind} {path} in {self.kinds()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        return self.proc.wait(timeout=15)


def test_watch_sees_adds_removes_data_and_service_node_recreated(zk):
    svc = f"/services/{unique()}"
    zk.ensure_path(svc)
    flat = Stream(svc, "--timeout", "60")
    deep = Stream(svc, "--recursive", "--timeout", "60")
    try:
        zk.create(f"{svc}/127.0.0.1:1001", b'{"Name": "x"}', ephemeral=True)
        zk.create(f"{svc}/127.0.0.1:1002", b"", ephemeral=True)
        for s in (flat, deep):
            s.wait("child_added", f"{svc}/127.0.0.1:1002")
        zk.set(f"{svc}/127.0.0.1:1001", b'{"Name": "y"}')
        deep.wait("data_changed", f"{svc}/127.0.0.1:1001")
        zk.delete(f"{svc}/127.0.0.1:1002")
        for s in (flat, deep):
            s.wait("child_removed", f"{svc}/127.0.0.1:1002")
        # The service node goes and comes back: the watch must follow it (the classic gateway's bug).
        zk.delete(svc, recursive=True)
        for s in (flat, deep):
            s.wait("node_deleted", svc)
        zk.create(f"{svc}/127.0.0.1:1003", b"", ephemeral=True, makepath=True)
        for s in (flat, deep):
            s.wait("node_created", svc)
            s.wait("child_added", f"{svc}/127.0.0.1:1003")
        zk.set(svc, b"v2")
        flat.wait("data_changed", svc)
        added = [e for e in deep.events if e["kind"] == "child_added"]
        assert [e["path"].rsplit("/", 1)[1] for e in added] == ["127.0.0.1:1001", "127.0.0.1:1002", "127.0.0.1:1003"]
        assert [e for e in deep.events if e["kind"] == "data_changed"][0]["data"] == {"Name": "y"}
        # Non-recursive: child data changes are not reported.
        assert ("data_changed", f"{svc}/127.0.0.1:1001") not in flat.kinds()
    finally:
        flat.stop()
        deep.stop()
        if zk.exists(svc):
            zk.delete(svc, recursive=True)


def test_watch_count_stops_the_stream(zk):
    svc = f"/services/{unique()}"
    zk.ensure_path(svc)
    try:
        stream = Stream(svc, "--count", "2", "--timeout", "60")
        zk.create(f"{svc}/a", b"")
        zk.create(f"{svc}/b", b"")
        zk.create(f"{svc}/c", b"")
        assert stream.proc.wait(timeout=30) == 0
        time.sleep(0.2)
        assert stream.kinds() == [("child_added", f"{svc}/a"), ("child_added", f"{svc}/b")]
    finally:
        zk.delete(svc, recursive=True)


def plant(
    zk,
    service_path: str,
    port: int,
    container_id: str,
    engine_id: str | None,
    ephemeral: bool = True,
    stamp: bool = True,
) -> str:
    """A registration as a registrator writes it, at `<service_path>/127.0.0.1:<port>`: stamped
    with `engine_id` (ours), or plain gliderlabs/registrator format (stamp=False)."""
    body = json.loads(zk_payload(service_path.rsplit("/", 1)[1], port, container_id))
    body["svcctl"]["engine_id"] = engine_id
    if not stamp:
        del body["svcctl"]
    path = f"{service_path}/127.0.0.1:{port}"
    zk.create(path, json.dumps(body).encode(), ephemeral=ephemeral, makepath=True)
    return path


def test_prune_refuses_protected_paths(zk):
    for path in ("/", "//", "/zookeeper", "/zookeeper/quota", "/svcctl", "/svcctl/registrators"):
        for extra in ((), ("--yes",)):
            proc = run_svcctl("zk", "prune", path, *extra, check=False)
            assert proc.returncode == 2 and proc.stdout == "", (path, proc)
            [line] = proc.stderr.strip().splitlines()
            assert line.startswith("svcctl: error: refusing to prune ") and "; fix: " in line
    assert zk.exists("/zookeeper/quota") is not None and zk.exists("/zookeeper/config") is not None


def test_prune_removes_exactly_the_planted_stale_nodes(zk, engine, cluster):
    from kazoo.client import KazooClient
    from kazoo.security import make_acl

    # A registry base of the test's own: the registrators reconcile /services only, so nothing
    # else adds or removes nodes here while the test runs.
    base = "/" + unique("prune")
    this_engine = engine.info()["ID"]
    container, port = start_responder(engine)
    # The test's own session owns the ephemeral registrations; it ends when the test ends.
    owner = KazooClient(hosts=cluster, timeout=10)
    owner.start(timeout=15)
    gone_id = "f" * 64  # no such container on this engine
    keep, stale, locked = f"{base}/keep", f"{base}/stale", f"{base}/locked"
    try:
        live = plant(owner, keep, port, container.id, this_engine)
        refusing = plant(owner, keep, 1, container.id, this_engine)  # nothing listens on port 1
        planted_gone = plant(owner, keep, 40001, gone_id, this_engine)
        planted_no_owner = plant(owner, keep, 40002, container.id, this_engine, ephemeral=False)
        planted_other = plant(owner, stale, 40003, gone_id, this_engine, ephemeral=False)
        # Other engines' registrations and plain registrator payloads (live endpoints) are not
        # judged by this engine's containers.
        foreign = plant(owner, f"{base}/foreign", port, gone_id, "OTHER-ENGINE")
        plain = plant(owner, f"{base}/plain", port, gone_id, None, stamp=False)
        # Not registrator-made: never proposed, with or without --yes.
        owner.create(f"{keep}/config", b"")  # persistent, childless, not a registration
        owner.create(f"{keep}/127.0.0.1:40009", b'{"Name": "keep", "IP": "127.0.0.1"}')  # registrator keys missing
        owner.create(f"{base}/settings", b"data")  # a childless service-level node with data
        owner.create(f"{base}/ephemeral", b"", ephemeral=True)
        owner.create(f"{base}/empty", b"")  # what a registrator leaves: an empty service node
        # A persistent registration the ACL forbids deleting: skipped with the reason, no traceback.
        owner.create(locked, b"")
        planted_locked = plant(owner, locked, 40004, container.id, this_engine, ephemeral=False)
        owner.set_acls(locked, [make_acl("world", "anyone", read=True, write=True, create=True, admin=True)])

        def tree() -> set[str]:
            return set(run_json("zk", "ls", base, "-r"))

        before = tree()
        expected = {
            planted_gone: "container not running",
            planted_no_owner: "no owner session",
            planted_other: "container not running",
            planted_locked: "no owner session",
            locked: "empty service",
            stale: "empty service",
            f"{base}/empty": "empty service",
        }
        dry = run_json("zk", "prune", base)
        assert dry["dry_run"] is True and dry["container_rule"] is True
        assert {n["path"]: n["reason"] for n in dry["nodes"]} == expected
        assert tree() == before  # a dry run deletes nothing
        human = run_svcctl("zk", "prune", base).stdout
        assert planted_gone in human and "dry run" in human
        assert run_json("zk", "prune")["dry_run"] is True  # the default base still works

        # No engine: the container rule is skipped with one line on stderr, the others still hold.
        proc = run_svcctl("zk", "prune", base, "--json", env=svcctl_env(DOCKER_HOST="unix:///nonexistent/docker.sock"))
        [warning] = proc.stderr.strip().splitlines()
        assert "skipping the container rule" in warning
        no_engine = json.loads(proc.stdout)
        assert no_engine["container_rule"] is False
        assert {n["path"]: n["reason"] for n in no_engine["nodes"]} == {
            planted_no_owner: "no owner session",
            planted_other: "no owner session",
            planted_locked: "no owner session",
            locked: "empty service",
            stale: "empty service",
            f"{base}/empty": "empty service",
        }

        done = run_json("zk", "prune", base, "--yes")
        outcomes = {n["path"]: n["outcome"] for n in done["nodes"]}
        assert outcomes.pop(planted_locked) == "skipped (NoAuthError)"
        assert outcomes.pop(locked) == "kept (not empty)"
        assert set(outcomes) == set(expected) - {planted_locked, locked}
        assert set(outcomes.values()) == {"deleted"}
        assert tree() == before - set(outcomes)
        for path in (
            live,
            refusing,
            foreign,
            plain,
            f"{keep}/config",
            f"{base}/settings",
            f"{base}/ephemeral",
            locked,
            planted_locked,
        ):
            assert owner.exists(path) is not None, path

        # --probe also removes the registration whose endpoint refuses, and only it.
        probed = run_json("zk", "prune", base, "--probe", "--yes")
        assert [(n["path"], n["reason"], n["outcome"]) for n in probed["nodes"]] == [
            (refusing, "endpoint refuses", "deleted"),
            (planted_locked, "no owner session", "skipped (NoAuthError)"),
            (locked, "empty service", "kept (not empty)"),
        ]
        assert owner.exists(live) is not None and owner.exists(refusing) is None
    finally:
        if owner.exists(locked):
            owner.set_acls(locked, [make_acl("world", "anyone", all=True)])
        owner.stop()
        owner.close()
        remove_containers([container])
        if zk.exists(base):
            zk.delete(base, recursive=True)
