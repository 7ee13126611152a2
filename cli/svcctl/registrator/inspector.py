"""The engine side of reconciliation: `docker inspect` with a cache, pipelined inspects for
events (started as the event arrives, on a small pool, so a burst of starts is inspected in
parallel while the loop writes earlier ones), and `docker ps` joined with the cache."""

from __future__ import annotations

import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import docker

INSPECT_WORKERS = 8  # below the docker SDK's connection pool (10)
_EXITED_STATUS = re.compile(r"^Exited \((-?\d+)\)")


def port_signature_from_inspect(info: dict) -> frozenset:
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    sig = set()
    for key, bindings in ports.items():
        port, _, proto = key.partition("/")
        for b in bindings or []:
            if b and b.get("HostPort"):
                sig.add((int(port), proto or "tcp", int(b["HostPort"])))
    return frozenset(sig)


def port_signature_from_list(entry: dict) -> frozenset:
    return frozenset(
        (int(p["PrivatePort"]), p.get("Type", "tcp"), int(p["PublicPort"]))
        for p in entry.get("Ports") or []
        if p.get("PublicPort")
    )


class ContainerInspector:
    def __init__(self, engine: docker.DockerClient, workers: int = INSPECT_WORKERS) -> None:
        self.engine = engine
        self._cache: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inspect")

    def inspect(self, container_id: str) -> dict | None:
        """A fresh `docker inspect`, or None when the container is gone (died while we asked)."""
        from svcctl.docker.objects import or_none

        info = or_none(self.engine.api.inspect_container, container_id)
        if info is None:
            self.forget(container_id)
            return None
        with self._lock:
            self._cache[container_id] = info
        return info

    def prefetch(self, container_id: str) -> Future[dict | None]:
        """Start an inspect now; the caller takes its result when it handles the event."""
        return self._pool.submit(self.inspect, container_id)

    def cached(self, container_id: str) -> dict | None:
        with self._lock:
            return self._cache.get(container_id)

    def forget(self, container_id: str) -> None:
        with self._lock:
            self._cache.pop(container_id, None)

    def stop_signal(self, container_id: str) -> Any:
        """The container's STOPSIGNAL (immutable config: the cache is good enough), inspected
        when not cached; None when unknown."""
        info = self.cached(container_id) or self.inspect(container_id)
        return ((info or {}).get("Config") or {}).get("StopSignal")

    def running_containers(self) -> list[dict]:
        """`docker ps` (running and paused) with inspect data; cached inspects are reused when
        the container's published ports did not change, missing ones fetched in parallel."""
        listed = self.engine.api.containers()
        infos: dict[str, dict] = {}
        missing = []
        for entry in listed:
            cid = entry["Id"]
            cached = self.cached(cid)
            if cached is not None and port_signature_from_inspect(cached) == port_signature_from_list(entry):
                state = dict(cached.get("State") or {})
                state["Running"] = True
                state["Paused"] = entry.get("State") == "paused"
                infos[cid] = {**cached, "State": state}
            else:
                missing.append(cid)
        for cid, info in zip(missing, self._pool.map(self.inspect, missing), strict=True):
            if info is not None:  # None: died between ps and inspect, skipped
                infos[cid] = info
        with self._lock:
            for cid in [c for c in self._cache if c not in infos]:
                del self._cache[cid]
        return [infos[e["Id"]] for e in listed if e["Id"] in infos]

    def failed_exits(self) -> set[str]:
        """Containers that exited non-zero and still exist (`-deregister on-success` keeps their
        registrations until they are removed or run again)."""
        exited = self.engine.api.containers(all=True, filters={"status": "exited"})
        return {e["Id"] for e in exited if (m := _EXITED_STATUS.match(e.get("Status") or "")) and int(m.group(1)) != 0}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
