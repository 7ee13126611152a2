"""`svcctl demo`: the whole classic walkthrough as one verified run: doctor (with fixes), build
(cache hits when nothing changed), cluster up, the four scenarios from a clean state, and a
report whose `ok` holds only if every expectation held."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from svcctl.config.settings import Settings
from svcctl.docker.images import BuildResult, BuildStep
from svcctl.ensemble import current
from svcctl.ensemble.members import MemberStatus
from svcctl.errors import CheckFailedError, SvcctlError
from svcctl.progress import Progress, no_progress
from svcctl.security.mode import SecurityPolicy, client_tls
from svcctl.toolkit.doctor import Check
from svcctl.toolkit.doctor import fix as doctor_fix
from svcctl.toolkit.images import build_images
from svcctl.walkthrough import scenarios

CLUSTER_TIMEOUT = 180.0


@dataclass
class DemoReport:
    checks: list[Check] = field(default_factory=list)
    builds: list[BuildResult] = field(default_factory=list)
    nodes: list[MemberStatus] = field(default_factory=list)
    steps: list[scenarios.StepResult] = field(default_factory=list)
    faults: list[Any] = field(default_factory=list)  # faults.FaultResult, with --faults
    want_faults: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # per phase, and total
    torn_down: bool = False
    security: str = ""  # the cluster's mode: open or tls+acl
    phase: str = ""  # the phase running, or the one that failed
    error: SvcctlError | None = None  # what stopped the run before the scenarios finished

    @property
    def ok(self) -> bool:
        return (
            self.error is None
            and len(self.steps) == len(scenarios.STEPS)
            and all(s.ok for s in self.steps)
            and (not self.want_faults or (bool(self.faults) and all(f.ok for f in self.faults)))
        )

    def summary_rows(self) -> list[dict]:
        """The summary table: step, expected, seen in ZooKeeper, time to converge."""
        return scenarios.summary_rows(self.steps)

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "summary": self.summary_rows(),
            "seconds": self.seconds,
            "checks": [c.to_dict() for c in self.checks],
            "images": [b.to_dict() for b in self.builds],
            "cluster": [n.to_dict() for n in self.nodes],
            "steps": [s.to_dict() for s in self.steps],
            "faults": [f.to_dict() for f in self.faults],
            "torn_down": self.torn_down,
            "security": self.security,
            "error": None
            if self.error is None
            else {
                "phase": self.phase,
                "cause": self.error.cause,
                "fix": self.error.fix,
                "exit_code": self.error.exit_code,
                "details": self.error.details,
            },
        }


def _timed(report: DemoReport, phase: str, started: float) -> None:
    report.seconds[phase] = round(time.monotonic() - started, 2)


def _phase(report: DemoReport, name: str, on_phase: Callable[[str], None]) -> float:
    report.phase = name
    on_phase(name)
    return time.monotonic()


@dataclass
class DemoWatch:
    """Who hears how a demo goes, beside its progress lines: each phase as it starts (doctor,
    build, cluster, scenarios, faults, down), the doctor's checks, each image's Dockerfile steps
    and each image done, each scenario step and fault scenario done."""

    on_phase: Callable[[str], None] = lambda _: None
    on_checks: Callable[[list[Check]], None] = lambda _: None
    on_build_note: Progress | None = None  # the build's other lines (default: the progress lines)
    on_build_step: Callable[[BuildStep], None] | None = None
    on_built: Callable[[BuildResult], None] | None = None
    on_cluster: Callable[[list[MemberStatus]], None] = lambda _: None
    on_step: Callable[[scenarios.StepResult], None] = lambda _: None
    on_fault: Callable[[Any], None] = lambda _: None


def run_demo(
    settings: Settings,
    keep: bool = True,
    timeout: float = scenarios.DEFAULT_TIMEOUT,
    on_progress: Progress = no_progress,
    watch: DemoWatch | None = None,
    secure: bool = False,
    with_faults: bool = False,
) -> DemoReport:
    """Run every phase in order. A phase that fails (a doctor check, a build, no quorum) stops
    the run and is recorded in `report.error`; a failed scenario ends it with `report.ok` false.
    With keep=False the project is taken down at the end, also after a failure. `secure`: on
    the TLS+ACL cluster (cluster up --secure). `with_faults`: the fault scenarios after the four
    (when they held). `watch` hears the phases and their results as they come."""
    watch = watch or DemoWatch()
    report = DemoReport(want_faults=with_faults)
    begun = time.monotonic()
    try:
        started = _phase(report, "doctor", watch.on_phase)
        report.checks = doctor_fix(settings, on_progress, tls=client_tls(settings))
        _timed(report, "doctor", started)
        watch.on_checks(report.checks)
        failed = [c for c in report.checks if c.required and not c.ok]
        if failed:
            raise CheckFailedError(
                f"doctor: {', '.join(c.name for c in failed)} failed",
                "run `svcctl doctor --fix` as root, or follow its fix column",
                details="\n".join(f"{c.name}: {c.detail} (fix: {c.fix})" for c in failed),
            )

        started = _phase(report, "build", watch.on_phase)
        report.builds = build_images(
            settings, [], watch.on_build_note or on_progress, on_step=watch.on_build_step, on_built=watch.on_built
        )
        _timed(report, "build", started)

        started = _phase(report, "cluster", watch.on_phase)
        policy = SecurityPolicy.from_flags(secure=secure)
        settings, report.nodes = current.ensemble(settings).up(policy, timeout=CLUSTER_TIMEOUT, on_progress=on_progress)
        report.security = "tls+acl" if secure else "open"
        _timed(report, "cluster", started)
        watch.on_cluster(report.nodes)

        started = _phase(report, "scenarios", watch.on_phase)
        report.steps = scenarios.run(
            settings,
            list(scenarios.STEPS),
            timeout=timeout,
            from_scratch=True,
            on_progress=on_progress,
            on_step=watch.on_step,
        )
        _timed(report, "scenarios", started)

        if with_faults and all(s.ok for s in report.steps):
            from svcctl.walkthrough import faults

            started = _phase(report, "faults", watch.on_phase)
            chosen = faults.parse_faults("faults", over_hosts=settings.layout is not None)
            report.faults = faults.run_faults(settings, chosen, on_progress=on_progress, on_result=watch.on_fault)
            _timed(report, "faults", started)
    except SvcctlError as exc:
        # Kept in the report, not raised: the caller still gets every phase done so far
        # (the CI smoke report is written even when the run stops early).
        report.error = exc
    finally:
        if not keep:
            started = time.monotonic()
            watch.on_phase("down")
            try:
                current.ensemble(settings).down(volumes=False, on_progress=on_progress)
                report.torn_down = True
            except SvcctlError as exc:
                report.error = report.error or exc
            _timed(report, "down", started)
        report.seconds["total"] = round(time.monotonic() - begun, 2)
    return report
