"""The project's image catalog: every image svcctl builds, named in one place (tags as the
settings give them), and the build of a chosen set of them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from svcctl.config.settings import (
    Settings,
    dind_image,
    docker_proxy_image,
    gateway_image,
    is_checkout,
    prometheus_image,
    registrator_image,
    zk_image,
)
from svcctl.docker.images import BuildResult, BuildStep, ImageSpec, build_image, resolve_base_image
from svcctl.errors import BadInputError
from svcctl.progress import Progress, no_progress
from svcctl.security import dockerproxy
from svcctl.toolkit import wheels

# The sample services' images: fixed tags, their catalog entries are in svcctl.walkthrough.samples.
JAVA_SERVICE_1 = ImageSpec("java_service_1", "java_service_1:1.0", "services/java_service_1")
PHP_SERVICE_2 = ImageSpec("php_service_2", "php_service_2:1.0", "services/php_service_2")


def catalog() -> dict[str, ImageSpec]:
    """Every image of the project, by name, in build order. Tags are read when asked for, so a
    SVCCTL_*_IMAGE variable set after import still counts."""
    specs = (
        ImageSpec("zookeeper", zk_image(), "images/zookeeper"),
        # The simulated Docker hosts' engine (`svcctl hosts up`); never loaded into a host itself.
        ImageSpec("dind", dind_image(), "images/dind"),
        ImageSpec("registrator", registrator_image(), "images/registrator", prepare=wheels.prepare),
        # HAProxy and svcctl's controller, from the same host-built wheels as the registrator.
        ImageSpec("gateway", gateway_image(), "images/gateway", prepare=wheels.prepare),
        ImageSpec("docker-proxy", docker_proxy_image(), "images/docker-proxy", prepare=dockerproxy.prepare),
        # `svcctl metrics up`: Debian's Prometheus.
        ImageSpec("prometheus", prometheus_image(), "images/prometheus"),
        JAVA_SERVICE_1,
        PHP_SERVICE_2,
    )
    return {spec.name: spec for spec in specs}


def known_images(project_dir: Path) -> dict[str, ImageSpec]:
    """The catalog's images whose build context exists in this project."""
    return {name: spec for name, spec in catalog().items() if (project_dir / spec.context / "Dockerfile").is_file()}


def select_images(project_dir: Path, names: list[str]) -> list[ImageSpec]:
    available = known_images(project_dir)
    if not names:
        return list(available.values())
    unknown = [n for n in names if n not in available]
    if unknown:
        raise BadInputError(f"unknown image {', '.join(unknown)}", f"choose from: {', '.join(available)}")
    return [available[n] for n in names]


def build_images(
    settings: Settings,
    names: list[str],
    on_progress: Progress = no_progress,
    on_step: Callable[[BuildStep], None] | None = None,
    on_built: Callable[[BuildResult], None] | None = None,
) -> list[BuildResult]:
    """Build the images named (none: every one of the project), in catalog order. `on_progress`
    hears the base image and the contexts' generated parts, `on_step` each Dockerfile step as it
    starts, `on_built` each image as it is done."""
    from svcctl.docker.engine import docker_client

    project_dir = settings.project_path()
    specs = select_images(project_dir, names)
    client = docker_client(settings.engine, timeout=600)
    base_image = resolve_base_image(client, settings.base_image)
    on_progress(f"base image: {base_image}")
    state = None if is_checkout(project_dir) else settings.state_path()
    results = []
    for spec in specs:
        results.append(build_image(client, project_dir, spec, base_image, on_progress, state, on_step))
        if on_built is not None:
            on_built(results[-1])
    return results
