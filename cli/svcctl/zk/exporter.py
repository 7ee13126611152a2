"""ZooKeeper's `mntr` as Prometheus metrics, for an ensemble whose jars have no Prometheus
provider (Debian's libzookeeper-java 3.8.0 ships only the Default and Null metrics providers,
and no Prometheus client jars). Each scrape asks every member `mntr` (and `srvr` for the ones
that do not serve) and translates: `zk_<name> <number>` → `zookeeper_<name>{member=…}`, the
server state as `zookeeper_server_state{member,state} 1`, and `zookeeper_up{member}`."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from svcctl.zk.fourletter import four_letter_word, parse_mntr, server_stats

PREFIX = "zookeeper_"
_NOT_A_NAME = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(key: str) -> str:
    """mntr's key as a Prometheus name: `zk_avg_latency` → `zookeeper_avg_latency`."""
    name = key[3:] if key.startswith("zk_") else key
    return PREFIX + _NOT_A_NAME.sub("_", name).lower()


def number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def translate(answers: dict[str, dict[str, str] | None], modes: dict[str, str]) -> list[GaugeMetricFamily]:
    """`answers`: member → its parsed mntr (None: it gave none); `modes`: member → its mode as
    srvr/mntr tell it (leader, follower, down, not-serving…)."""
    up = GaugeMetricFamily(f"{PREFIX}up", "1 when the member answers and serves clients.", labels=["member"])
    state = GaugeMetricFamily(
        f"{PREFIX}server_state",
        "The member's mode (leader, follower, …): 1 for its current one.",
        labels=["member", "state"],
    )
    families: dict[str, GaugeMetricFamily] = {}
    for member in sorted(set(answers) | set(modes)):
        mntr = answers.get(member) or {}
        mode = mntr.get("zk_server_state") or modes.get(member, "down")
        up.add_metric([member], 1.0 if mode in ("leader", "follower", "standalone", "observer") else 0.0)
        state.add_metric([member, mode], 1.0)
        for key, value in mntr.items():
            amount = number(value)
            if amount is None:
                continue  # zk_version, zk_server_state: said as labels above
            name = metric_name(key)
            family = families.get(name)
            if family is None:
                family = families[name] = GaugeMetricFamily(name, f"mntr's {key}.", labels=["member"])
            family.add_metric([member], amount)
    return [up, state, *(families[name] for name in sorted(families))]


class MntrCollector(Collector):
    def __init__(self, members: list[tuple[str, int]], tls: ssl.SSLContext | None = None, timeout: float = 2.0) -> None:
        self.members = members
        self.tls = tls
        self.timeout = timeout

    def _ask(self, member: tuple[str, int]) -> tuple[dict[str, str] | None, str]:
        host, port = member
        try:
            mntr = parse_mntr(four_letter_word(host, port, "mntr", self.timeout, self.tls))
        except OSError:
            mntr = {}
        if "zk_server_state" in mntr:
            return mntr, mntr["zk_server_state"]
        return None, server_stats(host, port, self.timeout, with_mntr=False, tls=self.tls).mode

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with ThreadPoolExecutor(max_workers=max(1, len(self.members))) as pool:
            results = dict(zip(self.members, pool.map(self._ask, self.members), strict=True))
        answers = {f"{h}:{p}": mntr for (h, p), (mntr, _mode) in results.items()}
        modes = {f"{h}:{p}": mode for (h, p), (_mntr, mode) in results.items()}
        yield from translate(answers, modes)


def registry_of(members: list[tuple[str, int]], tls: ssl.SSLContext | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MntrCollector(members, tls))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def serve(members: list[tuple[str, int]], host: str, port: int, tls: ssl.SSLContext | None = None):
    """/metrics on host:port in a thread of prometheus_client's own; returns the server
    (shutdown() ends it). A port in use is a ConflictError."""
    from prometheus_client import start_http_server

    from svcctl.errors import ConflictError

    try:
        server, _thread = start_http_server(port, addr=host, registry=registry_of(members, tls))
    except OSError as exc:
        raise ConflictError(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}", "pick another --listen"
        ) from None
    return server
