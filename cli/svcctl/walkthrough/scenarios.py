"""The classic walkthrough's four scenarios, each verified against the real state.

After each step, ZooKeeper's children under /services/<service> must equal exactly the host ports
Docker reports for the running containers of that service in the registrators' scope (a named
project's own containers, the default project's: the engine's) — nothing missing, nothing stale,
no child naming a container out of that scope, no empty service node left behind — waited for
with a deadline; then every registered endpoint is called
over HTTP and must answer its service's text. The expectation and diff logic is pure (top half of
this module); the runner (bottom half) feeds it real observations."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

from svcctl.config.settings import DEFAULT_BASE, Settings
from svcctl.consumer.cache import CallResult, get_instance, parse_instance
from svcctl.docker.containers import ContainerView
from svcctl.docker.labels import SCOPED
from svcctl.ensemble.project import registered_project
from svcctl.errors import BadInputError, CheckFailedError
from svcctl.progress import Progress, no_progress
from svcctl.security.mode import client_tls
from svcctl.wait import poll_until
from svcctl.walkthrough.samples import SERVICES
from svcctl.walkthrough.services import project_instances, registration_key, sample_service_of

if TYPE_CHECKING:
    import docker
    from kazoo.client import KazooClient

    from svcctl.registry.payload import RegistrationPayload

DEFAULT_TIMEOUT = 30.0
POLL_SECONDS = 0.1


class StepOp(StrEnum):
    """up: start one instance unless some run; scale: run exactly `count`; stop: remove them all."""

    UP = "up"
    SCALE = "scale"
    STOP = "stop"


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    op: StepOp
    service: str
    count: int  # for scale: the instance count asked for
    expectation: str

    def to_dict(self) -> dict:
        return asdict(self)


STEPS: tuple[Step, ...] = (
    Step(1, "start service_1", StepOp.UP, "service_1", 1, "/services/service_1/127.0.0.1:<port> appears"),
    Step(2, "start service_2", StepOp.UP, "service_2", 1, "/services/service_2/127.0.0.1:<port> appears"),
    Step(
        3,
        "scale service_2 to 2",
        StepOp.SCALE,
        "service_2",
        2,
        "two children under /services/service_2, one per container",
    ),
    Step(
        4,
        "stop service_1",
        StepOp.STOP,
        "service_1",
        0,
        "/services/service_1/* and the empty /services/service_1 are gone",
    ),
)


def parse_selection(text: str) -> list[Step]:
    """`1`..`4` or `all` (also `1,3`): the steps to run, in order."""
    word = text.strip().lower()
    if word == "all":
        return list(STEPS)
    chosen: list[Step] = []
    for part in word.split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= len(STEPS):
            raise BadInputError(f"unknown scenario {text!r}", "choose 1, 2, 3, 4 or all (see `svcctl scenario list`)")
        chosen.append(STEPS[int(part) - 1])
    return chosen


# --- pure expectation and diff -----------------------------------------------------------------


def target_count(step: Step, running_before: int) -> int:
    """How many instances of the step's service this project must run after the step:
    `up` starts one unless some already run, `scale` sets the count, `stop` removes them all."""
    if step.op == StepOp.UP:
        return max(1, running_before)
    if step.op == StepOp.SCALE:
        return step.count
    if step.op == StepOp.STOP:
        return 0
    raise ValueError(f"unknown step op {step.op!r}")


def in_scope(view: ContainerView, project: str | None) -> bool:
    """Whether the project's registrators register this container: those of a named project
    only its own Compose project's (`project`), the default project's (None) every container of
    the engine but a named project's (see ensemble.project.registrator_label_filter)."""
    if project is None:
        return view.labels.get(SCOPED) != "true"
    return view.project == project


def docker_expectation(views: list[ContainerView], project: str | None = None) -> dict[str, dict[str, str]]:
    """service -> {"<ip>:<host port>": container name} for every running container in the
    registrators' scope (in_scope: the Compose project `project`, or the whole engine when
    None) that registers as a sample service."""
    expected: dict[str, dict[str, str]] = {name: {} for name in SERVICES}
    for view in views:
        if view.state != "running" or not in_scope(view, project):
            continue
        service = sample_service_of(view)
        if service is None:
            continue
        key = registration_key(view, service)
        if key is not None:
            expected[service.name][key] = view.name
    return expected


def foreign_children(
    payloads: Mapping[str, Mapping[str, RegistrationPayload | None] | None],
    views: list[ContainerView],
    project: str | None,
) -> dict[str, dict[str, str]]:
    """service -> {child: whose it is} for the registrations that name a container outside the
    project's scope: a container of the engine that in_scope leaves out, or (a named project)
    one whose payload says it belongs to another Compose project. A payload naming no container,
    or one this engine no longer runs, is the diff's to judge (missing, stale)."""
    found: dict[str, dict[str, str]] = {}
    for service, children in payloads.items():
        for child, payload in (children or {}).items():
            if payload is None or not payload.names_a_container:
                continue
            view = next((v for v in views if payload.names_container(v.id)), None)
            if view is not None:
                if in_scope(view, project):
                    continue
                name, owner = view.name, view.project
            elif project is None or payload.compose_project in (None, project):
                continue
            else:
                name, owner = payload.container_name or payload.container_hostname or "?", payload.compose_project
            whose = f"compose project {owner}" if owner else "no compose project"
            ours = f"project {project}" if project else "the default project (it is a named project's)"
            found.setdefault(service, {})[child] = f"container {name} of {whose}, not of {ours}"
    return found


@dataclass
class RegistrationDiff:
    missing: dict[str, list[str]] = field(default_factory=dict)  # Docker runs it, ZooKeeper lacks it
    stale: dict[str, list[str]] = field(default_factory=dict)  # in ZooKeeper, nothing runs it
    empty_nodes: list[str] = field(default_factory=list)  # service nodes left with no child
    # in ZooKeeper, a container out of the project's scope: service -> {child: whose it is}
    foreign: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.stale and not self.empty_nodes and not self.foreign

    def to_dict(self) -> dict:
        return asdict(self)


def diff_registrations(
    expected: dict[str, set[str] | dict[str, str]],
    seen: dict[str, list[str] | None],
    foreign: Mapping[str, Mapping[str, str]] | None = None,
) -> RegistrationDiff:
    """Compare Docker's view (expected children per service) with ZooKeeper's (children per
    service, None when the service node does not exist); the `foreign` children
    (foreign_children) are told apart from the stale ones."""
    diff = RegistrationDiff()
    for service, children in sorted((foreign or {}).items()):
        if children:
            diff.foreign[service] = dict(sorted(children.items()))
    for service in sorted(set(expected) | set(seen)):
        want = set(expected.get(service) or ())
        children = seen.get(service)
        have = set(children or ())
        missing = sorted(want - have)
        stale = sorted(have - want - set(diff.foreign.get(service, ())))
        if missing:
            diff.missing[service] = missing
        if stale:
            diff.stale[service] = stale
        if children is not None and not children and not want:
            diff.empty_nodes.append(service)
    return diff


def step_problems(
    step: Step, target: int, project_running: int, diff: RegistrationDiff, base: str = DEFAULT_BASE
) -> list[str]:
    """Everything that does not hold after a step; empty when the step converged."""
    problems: list[str] = []
    if project_running != target:
        problems.append(f"{step.service}: {project_running} instance(s) of this project running, expected {target}")
    for service, keys in diff.missing.items():
        problems.extend(f"missing in ZooKeeper: {base}/{service}/{key}" for key in keys)
    for service, keys in diff.stale.items():
        problems.extend(
            f"stale in ZooKeeper: {base}/{service}/{key} (no running container publishes it)" for key in keys
        )
    for service, children in diff.foreign.items():
        problems.extend(
            f"foreign in ZooKeeper: {base}/{service}/{child} is {whose}" for child, whose in children.items()
        )
    problems.extend(f"left behind: {base}/{service} (empty service node)" for service in diff.empty_nodes)
    return problems


def format_diff(expected: dict[str, dict[str, str]], seen: dict[str, list[str] | None], problems: list[str]) -> str:
    """The mismatch as text: what does not hold, then both views side by side."""
    lines = list(problems)
    lines.append("Docker (running containers):")
    for service in sorted(expected):
        entries = ", ".join(f"{key} ({name})" for key, name in sorted(expected[service].items())) or "none"
        lines.append(f"  {service}: {entries}")
    lines.append("ZooKeeper:")
    for service in sorted(seen):
        children = seen[service]
        lines.append(
            f"  {service}: " + ("no node" if children is None else ", ".join(children) or "node without children")
        )
    return "\n".join(lines)


# --- results -----------------------------------------------------------------------------------


@dataclass
class StepResult:
    step: Step
    target: int
    project_running: int = 0
    expected: dict[str, dict[str, str]] = field(default_factory=dict)
    seen: dict[str, list[str] | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    action_seconds: float = 0.0
    converge_seconds: float | None = None  # from the end of the action; None when it never did
    tree: str = ""
    calls: list[CallResult] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return self.converge_seconds is not None and not self.problems

    @property
    def ok(self) -> bool:
        return self.converged and all(c.ok for c in self.calls)

    def seen_summary(self, separator: str = "; ") -> str:
        """What ZooKeeper held after the step, per service (`separator` between services)."""
        parts = []
        for service in sorted(self.seen):
            children = self.seen[service]
            parts.append(f"{service}: " + ("-" if children is None else ", ".join(children) or "(empty)"))
        return separator.join(parts)

    def failure_text(self) -> str:
        text = format_diff(self.expected, self.seen, self.problems) if self.problems else ""
        bad_calls = [c for c in self.calls if not c.ok]
        if bad_calls:
            text += ("\n" if text else "") + "\n".join(
                f"call {c.url}: {c.error or f'HTTP {c.status} {c.body!r}'}, expected {c.expected!r}" for c in bad_calls
            )
        return text

    def to_dict(self) -> dict:
        return {
            "step": self.step.number,
            "title": self.step.title,
            "expectation": self.step.expectation,
            "ok": self.ok,
            "converged": self.converged,
            "target_instances": self.target,
            "project_running": self.project_running,
            "docker": self.expected,
            "zookeeper": self.seen,
            "problems": self.problems,
            "action_seconds": self.action_seconds,
            "converge_seconds": self.converge_seconds,
            "calls": [c.to_dict() for c in self.calls],
            "tree": self.tree,
        }


# --- the runner (real engine, real ensemble) -----------------------------------------------------


class Observation(NamedTuple):
    """One look at both sides: Docker's expectation, ZooKeeper's children, how many instances
    of the step's service this project runs, and the children out of its scope."""

    expected: dict[str, dict[str, str]]
    seen: dict[str, list[str] | None]
    running: int
    foreign: dict[str, dict[str, str]]

    def diff(self) -> RegistrationDiff:
        return diff_registrations(self.expected, self.seen, self.foreign)


def observation(
    views: list[ContainerView],
    payloads: Mapping[str, Mapping[str, RegistrationPayload | None] | None],
    project: str,
    service: str,
) -> Observation:
    """The Observation of these containers and registrations (pure): `project` is the svcctl
    project, whose registrators' scope decides what is expected and what is foreign."""
    scope = registered_project(project)
    running = [v for v in project_instances(views, project, service) if v.state == "running"]
    seen = {name: sorted(children) if children is not None else None for name, children in payloads.items()}
    return Observation(docker_expectation(views, scope), seen, len(running), foreign_children(payloads, views, scope))


def observe(
    settings: Settings, zk: KazooClient, docker_client: docker.DockerClient, service: str, base: str = DEFAULT_BASE
) -> Observation:
    """One look at both sides: this engine's containers (on a swarm, every node's tasks), and
    the registrations (over hosts, only those this engine owns)."""
    from svcctl.walkthrough.services import cluster_views, on_swarm, read_registration_payloads

    views = cluster_views(settings, docker_client)
    owner = None
    if settings.layout is not None and not on_swarm(settings):
        # A cluster over hosts: ZooKeeper also holds the other hosts' instances; this engine's
        # are those whose payload names it as owner.
        from svcctl.docker.engine import engine_id

        owner = engine_id(docker_client)
    return observation(views, read_registration_payloads(zk, base, engine_id=owner), settings.project, service)


def wait_converged(
    settings: Settings,
    zk: KazooClient,
    docker_client: docker.DockerClient,
    step: Step,
    target: int,
    timeout: float,
    base: str = DEFAULT_BASE,
) -> StepResult:
    """Poll both sides until they agree (and the instance count is reached) or the deadline passes."""
    result = StepResult(step=step, target=target)
    started = time.monotonic()

    def look() -> list[str]:
        seen = observe(settings, zk, docker_client, step.service, base)
        result.expected, result.seen, result.project_running = seen.expected, seen.seen, seen.running
        result.problems = step_problems(step, target, seen.running, seen.diff(), base)
        return result.problems

    if not poll_until(look, lambda problems: not problems, started + timeout, POLL_SECONDS):
        result.converge_seconds = round(time.monotonic() - started, 3)
    return result


def read_tree(zk: KazooClient, root: str = DEFAULT_BASE) -> str:
    """The subtree under `root` as a tree drawing, registrations labelled with their payload."""
    from svcctl.registry.payload import RegistrationPayload
    from svcctl.zk.ops import draw_tree

    return draw_tree(zk, root, data=True, max_len=60, summarize=RegistrationPayload.summary_of)


def call_endpoint(service: str, endpoint: str, path: str, expected: str, deadline: float) -> CallResult:
    """Call until the answer is right or the deadline passes: a just-registered JVM may need a
    moment before it accepts connections (the port is published before the server listens)."""
    instance = parse_instance(service, endpoint, None)
    if instance is None:
        return CallResult(path=path, expected=expected, error=f"{endpoint} is not an address")
    return poll_until(
        lambda: get_instance(instance, path, timeout=2.0, expected=expected), lambda r: r.ok, deadline, interval=0.2
    )


def call_registered(seen: dict[str, list[str] | None], timeout: float) -> list[CallResult]:
    """Every registered endpoint of every sample service, called at each of its probe paths."""
    deadline = time.monotonic() + timeout
    calls = []
    for name, children in sorted(seen.items()):
        service = SERVICES.get(name)
        if service is None:
            continue
        for endpoint in children or []:
            for path, answer in service.probes:
                calls.append(call_endpoint(name, endpoint, path, answer, deadline))
    return calls


def perform(settings: Settings, step: Step, on_progress: Progress) -> None:
    from svcctl.walkthrough import services

    if step.op == StepOp.UP:
        services.up(settings, [step.service], on_progress)
    elif step.op == StepOp.SCALE:
        services.scale(settings, step.service, step.count, on_progress)
    elif step.op == StepOp.STOP:
        services.stop(settings, [step.service], on_progress)
    else:
        raise ValueError(f"unknown step op {step.op!r}")


def run_step(
    settings: Settings,
    zk: KazooClient,
    docker_client: docker.DockerClient,
    step: Step,
    timeout: float,
    on_progress: Progress,
    base: str = DEFAULT_BASE,
) -> StepResult:
    from svcctl.walkthrough.services import cluster_views

    before = len(
        [
            v
            for v in project_instances(cluster_views(settings, docker_client), settings.project, step.service)
            if v.state == "running"
        ]
    )
    target = target_count(step, before)
    on_progress(f"step {step.number}: {step.title}")
    started = time.monotonic()
    perform(settings, step, on_progress)
    action_seconds = round(time.monotonic() - started, 3)
    on_progress(f"step {step.number}: waiting for ZooKeeper to match Docker (at most {timeout:.0f}s)")
    result = wait_converged(settings, zk, docker_client, step, target, timeout, base)
    result.action_seconds = action_seconds
    result.tree = read_tree(zk, base)
    if result.converged:
        result.calls = call_registered(result.seen, timeout)
    return result


def reset(
    settings: Settings,
    zk: KazooClient,
    docker_client: docker.DockerClient,
    timeout: float,
    on_progress: Progress,
    base: str = DEFAULT_BASE,
) -> None:
    """Before `all`: no instance of this project runs and ZooKeeper agrees, so step 1 starts
    from the classic empty state."""
    from svcctl.walkthrough import services

    running = project_instances(services.cluster_views(settings, docker_client), settings.project)
    if running:
        on_progress("reset: stopping " + ", ".join(v.name for v in running))
        services.stop(settings, sorted({v.compose_service or "" for v in running}), on_progress)
    probe = Step(0, "reset", StepOp.STOP, "service_1", 0, "no sample service of this project runs")
    result = wait_converged(settings, zk, docker_client, probe, 0, timeout, base)
    if result.problems:
        raise CheckFailedError(
            "before the scenarios: ZooKeeper does not match Docker",
            "is the registrator running? `svcctl cluster status`; stale nodes: `svcctl zk prune`",
            details=format_diff(result.expected, result.seen, result.problems),
        )


def run(
    settings: Settings,
    steps: list[Step],
    timeout: float = DEFAULT_TIMEOUT,
    from_scratch: bool = False,
    on_progress: Progress = no_progress,
    on_step: Callable[[StepResult], None] = lambda _: None,
    base: str = DEFAULT_BASE,
) -> list[StepResult]:
    """Run the steps in order, stopping at the first that fails; `from_scratch` resets first.
    Each result goes to `on_step` as soon as it is known (the CLI prints it). Over hosts the
    steps run on one host's engine: one of the layout's (no registrator watches any other); on
    a swarm they act on Swarm services, the whole swarm's tasks compared with the registry."""
    from svcctl.docker.engine import docker_client
    from svcctl.zk.client import zk_session

    if settings.layout is not None and not settings.layout.on_swarm:
        engine = settings.engine.host
        if engine not in {m.engine for m in settings.layout.hosts}:
            raise BadInputError(
                f"project {settings.project}'s cluster runs over hosts and no registrator of it watches {engine}",
                f"run the walkthrough on one of its hosts: `svcctl --context {settings.layout.hosts[0].context} "
                "scenario run all`",
            )

    if timeout <= 0:
        raise BadInputError(f"bad timeout {timeout}", "give a number of seconds greater than 0")
    client = docker_client(settings.engine)
    results: list[StepResult] = []
    with zk_session(settings.zk_hosts, tls=client_tls(settings)) as zk:
        if from_scratch:
            reset(settings, zk, client, timeout, on_progress, base)
        for step in steps:
            result = run_step(settings, zk, client, step, timeout, on_progress, base)
            results.append(result)
            on_step(result)
            if not result.ok:
                break
    return results


def summary_rows(results: list[StepResult]) -> list[dict]:
    """The summary table of a run (scenario run, demo): step, expected, seen in ZooKeeper, time
    to converge, verdict."""
    return [
        {
            "step": r.step.number,
            "action": r.step.title,
            "expected": r.step.expectation,
            "seen_in_zookeeper": r.seen_summary(),
            "converge_seconds": r.converge_seconds,
            "ok": r.ok,
        }
        for r in results
    ]


def failures(results: list[StepResult]) -> CheckFailedError | None:
    """The error to raise for a run with a failed step (None when every step held)."""
    bad = [r for r in results if not r.ok]
    if not bad:
        return None
    first = bad[0]
    what = "ZooKeeper did not match Docker" if not first.converged else "a registered endpoint did not answer its text"
    return CheckFailedError(
        f"scenario {first.step.number} ({first.step.title}) failed: {what}",
        "see the diff below; `svcctl cluster status` shows the registrators, `svcctl ps` each container",
        details=first.failure_text(),
    )
