"""What the page may do (from loopback only): run a scenario, scale a service, stop an instance.
Each is the core's own function (the CLI's commands do the same), as a unit of work for
LiveState.run_action: it takes a progress callback and returns one line of outcome."""

from __future__ import annotations

from collections.abc import Callable

from svcctl.config.settings import Settings
from svcctl.errors import BadInputError
from svcctl.progress import Progress

Work = Callable[[Progress], str]


def scale_work(settings: Settings, service: str, count: int) -> Work:
    from svcctl.walkthrough import services

    services.validate_scale(service, count)  # bad input is refused before anything starts

    def work(progress: Progress) -> str:
        services.scale(settings, service, count, on_progress=progress)
        return f"{service} scaled to {count}"

    return work


def stop_work(settings: Settings, container: str) -> Work:
    """Stop one instance of the project's sample services (by container name); its restart
    policy does not bring it back (`docker stop`), `scale` does."""
    from svcctl.walkthrough.services import ps

    names = {row.container for row in ps(settings)}
    if container not in names:
        raise BadInputError(
            f"{container!r} is not an instance of this project's services", f"choose from: {', '.join(sorted(names))}"
        )

    def work(progress: Progress) -> str:
        from svcctl.docker.engine import docker_client

        progress(f"docker stop {container}")
        docker_client(settings.engine).containers.get(container).stop(timeout=10)
        return f"{container} stopped"

    return work


def scenario_work(settings: Settings, which: str) -> Work:
    """A step (1-4, all) or fault scenario(s), as `svcctl scenario run WHICH` runs them."""
    from svcctl.walkthrough import faults, scenarios

    if faults.is_fault(which) or "," in which and all(faults.is_fault(w) for w in which.split(",")):
        chosen = faults.parse_faults(which, over_hosts=settings.layout is not None)

        def run_faults(progress: Progress) -> str:
            results = faults.run_faults(settings, chosen, on_progress=progress)
            failed = [r for r in results if not r.ok]
            return "every expectation held" if not failed else f"{len(failed)} of {len(results)} failed"

        return run_faults
    steps = scenarios.parse_selection(which)

    def run_steps(progress: Progress) -> str:
        results = scenarios.run(settings, steps, from_scratch=which.strip().lower() == "all", on_progress=progress)
        ok = all(r.ok for r in results) and len(results) == len(steps)
        return "ZooKeeper == Docker after every step" if ok else "a step failed (see its lines)"

    return run_steps


def scenario_names() -> dict[str, list[str]]:
    from svcctl.walkthrough import faults, scenarios

    return {
        "steps": [str(s.number) for s in scenarios.STEPS] + ["all"],
        "faults": [f.name for f in faults.FAULTS if not f.hosts_only],
        "faults_over_hosts": [f.name for f in faults.FAULTS if f.hosts_only],
    }
