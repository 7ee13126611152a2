"""`svcctl zk …` against the real ensemble: nodes created by the test, the real console script."""

from __future__ import annotations

import json
import subprocess
import threading
import time

from tests.e2e.helpers_zk import register, remove_containers, start_responder, unique, wait_for
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
        assert run_json("zk", "ls", root, "-R") == [f"{root}/a", f"{root}/a/x", f"{root}/a/y", f"{root}/b"]
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
    assert proc.stderr.strip().splitlines() == ["svcctl: error: znode /does/not/exist does not exist; fix: list what exists with `svcctl zk ls /` or `svcctl zk tree /services`"]
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
        listed = [l.strip() for l in proc.stdout.splitlines() if l.startswith("  /")]
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
        "svcctl: error: no ZooKeeper member answers at 127.0.0.1:1,127.0.0.1:9 (KazooTimeoutError); "
        "fix: start the ensemble with `svcctl cluster up`, or pass the right --zk / SVCCTL_ZK"
    ]


class Stream:
    """`svcctl zk watch --json` running in the background, its events collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([SVCCTL, "zk", "watch", *args, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=svcctl_env())
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


def test_prune_removes_exactly_the_planted_stale_nodes(zk, engine, cluster):
    from kazoo.client import KazooClient

    keep_svc, stale_svc = unique("keep"), unique("stale")
    container, port = start_responder(engine)
    # The test's own session owns the live registrations; it ends when the test ends.
    owner = KazooClient(hosts=cluster, timeout=10)
    owner.start(timeout=15)
    gone_id = "f" * 64  # no such container on this engine
    try:
        live = register(owner, keep_svc, port, container.id)
        refusing = register(owner, keep_svc, 1, container.id)  # nothing listens on port 1
        planted_gone = register(owner, keep_svc, 40001, gone_id, ephemeral=False)
        planted_no_owner = register(owner, keep_svc, 40002, container.id, ephemeral=False)
        planted_other = register(owner, stale_svc, 40003, gone_id, ephemeral=False)
        # Registrators may be adding and removing other services meanwhile: compare the test's own.
        def ours() -> set[str]:
            return {p for p in run_json("zk", "ls", "/services", "-R") if keep_svc in p or stale_svc in p}

        before = ours()

        dry = run_json("zk", "prune")
        assert dry["dry_run"] is True
        mine = {n["path"]: n["reason"] for n in dry["nodes"] if keep_svc in n["path"] or stale_svc in n["path"]}
        assert mine == {
            planted_gone: "container not running",
            planted_no_owner: "no owner session",
            planted_other: "container not running",
            f"/services/{stale_svc}": "empty service",
        }
        assert ours() == before  # a dry run deletes nothing
        human = run_svcctl("zk", "prune").stdout
        assert planted_gone in human and "dry run" in human

        done = run_json("zk", "prune", "--yes")
        deleted = {n["path"] for n in done["nodes"] if n["outcome"] == "deleted"}
        assert {p for p in deleted if keep_svc in p or stale_svc in p} == set(mine)
        after = ours()
        assert after == before - set(mine)
        assert live in after and refusing in after and f"/services/{keep_svc}" in after

        # --probe also removes the registration whose endpoint refuses, and only it.
        probed = run_json("zk", "prune", f"/services/{keep_svc}", "--probe", "--yes")
        assert [(n["path"], n["reason"], n["outcome"]) for n in probed["nodes"]] == [(refusing, "endpoint refuses", "deleted")]
        assert owner.exists(live) is not None and owner.exists(refusing) is None
    finally:
        owner.stop()
        owner.close()
        remove_containers([container])
        for svc in (keep_svc, stale_svc):
            if zk.exists(f"/services/{svc}"):
                zk.delete(f"/services/{svc}", recursive=True)
