"""The sample services of the classic demo: the catalog the service commands and scenarios work
from (their images are in svcctl.toolkit.images). Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

from svcctl.errors import BadInputError
from svcctl.toolkit.images import JAVA_SERVICE_1, PHP_SERVICE_2


@dataclass(frozen=True)
class SampleService:
    name: str  # the compose service, also its registered service name
    image: str  # the image name known to `svcctl build`
    tag: str
    container_port: int
    answer: str  # what `GET /` answers
    # (path, exact answer) pairs the scenarios check on every registered instance
    extra_probes: tuple[tuple[str, str], ...] = ()
    # The SERVICE_* keys that name its registration (compose/services.yml sets the same ones).
    registration_env: tuple[tuple[str, str], ...] = ()

    @property
    def probes(self) -> tuple[tuple[str, str], ...]:
        return (("/", self.answer), *self.extra_probes)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "image": self.tag,
            "container_port": self.container_port,
            "answer": self.answer,
            "probes": [{"path": p, "answer": a} for p, a in self.probes],
        }


SERVICES: dict[str, SampleService] = {
    "service_1": SampleService(
        "service_1",
        JAVA_SERVICE_1.name,
        JAVA_SERVICE_1.tag,
        8080,
        "This is Service 1.",
        (("/user?id=7", "It's user 7."),),
        (("SERVICE_NAME", "service_1"),),
    ),
    "service_2": SampleService(
        "service_2",
        PHP_SERVICE_2.name,
        PHP_SERVICE_2.tag,
        80,
        "This is Service 2.",
        registration_env=(("SERVICE_80_NAME", "service_2"),),
    ),
}


def known_services() -> list[str]:
    return list(SERVICES)


def get_service(name: str) -> SampleService:
    try:
        return SERVICES[name]
    except KeyError:
        raise BadInputError(f"unknown service {name!r}", f"choose from: {', '.join(SERVICES)}") from None


def validate_services(names: list[str]) -> list[SampleService]:
    """Every name must be a known service; the error lists all unknown ones and the known ones."""
    if not names:
        raise BadInputError("no service named", f"choose from: {', '.join(SERVICES)}")
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise BadInputError(
            f"unknown service {', '.join(repr(n) for n in unknown)}", f"choose from: {', '.join(SERVICES)}"
        )
    # Keep the user's order, drop repeats.
    return [SERVICES[n] for n in dict.fromkeys(names)]
