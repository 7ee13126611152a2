"""The gateway controller's Prometheus metrics, read from its tracked state at scrape time (so
they can never drift from it). HAProxy's own metrics (frontends, backends, servers) come from
its built-in exporter on the stats port's /metrics; these are at /svcctl/metrics beside it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from svcctl.consumer.gateway.controller import GatewayController

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class GatewayCollector(Collector):
    def __init__(self, controller: GatewayController) -> None:
        self.controller = controller

    def collect(self) -> Iterator:
        c = self.controller
        reloads = CounterMetricFamily("svcctl_gateway_reloads", "HAProxy reloads (no spare backend left).")
        reloads.add_metric([], c.reloads)
        yield reloads
        changes = CounterMetricFamily(
            "svcctl_gateway_changes",
            "Changes applied to HAProxy on its runtime API, by kind (assign: a new service took a spare "
            "backend; add, drain, ready, delete: a server).",
            labels=["change"],
        )
        for change, count in sorted(c.changes.items()):
            changes.add_metric([change], count)
        yield changes
        instances = GaugeMetricFamily(
            "svcctl_gateway_instances", "Instances per service in the controller's cache.", labels=["service"]
        )
        for service, members in sorted(c.cache.services().items()):
            instances.add_metric([service], len(members))
        yield instances
        servers = GaugeMetricFamily(
            "svcctl_gateway_servers",
            "Servers per service in the running HAProxy worker, by the controller's state (ready, draining).",
            labels=["service", "state"],
        )
        for service, by_address in sorted(c.servers_by_state().items()):
            for state, count in sorted(by_address.items()):
                servers.add_metric([service, state], count)
        yield servers


def render(controller: GatewayController) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GatewayCollector(controller))
    return generate_latest(registry)
