"""Building an image from a Dockerfile in the project with the docker SDK (the engine's own
builder, so a rebuild with nothing changed is a cache hit), and moving images between engines
through an archive with python-on-whales (`docker image save`, `docker image load`). Which images
the project has is svcctl.toolkit.images' business."""

from __future__ import annotations

import shutil
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from svcctl.config.engines import EngineEndpoint
from svcctl.config.settings import is_checkout
from svcctl.docker.engine import no_docker_cli
from svcctl.docker.objects import api_failure
from svcctl.docker.whales import failure_output, run_whales, whales_client
from svcctl.errors import NotFoundError, SvcctlError
from svcctl.progress import Progress, no_progress

BUILD_ERROR_TAIL_LINES = 15

if TYPE_CHECKING:
    import docker

DEFAULT_BASE_IMAGE = "debian:bookworm-slim"
BOOTSTRAPPED_BASE_IMAGE = "svcctl/base:bookworm"


@dataclass(frozen=True)
class ImageSpec:
    name: str
    tag: str
    context: str  # relative to the project directory
    prepare: Callable[[Path, Progress], None] | None = None  # fills generated parts of the context


@dataclass(frozen=True)
class BuildStep:
    """A Dockerfile step of an image as the engine's builder starts it: `Step 3/12 : RUN …`."""

    image: str
    number: int
    total: int
    line: str  # the builder's own line, `Step 3/12 : RUN apt-get …`

    @property
    def instruction(self) -> str:
        """The step's instruction and arguments: `RUN apt-get …`."""
        return self.line.partition(" : ")[2]


def parse_step(image: str, line: str) -> BuildStep | None:
    """The builder's `Step N/M : INSTRUCTION …` line as a BuildStep (pure); None for other lines."""
    head, _, rest = line.partition(" : ")
    word, _, counts = head.partition(" ")
    number, _, total = counts.partition("/")
    if word != "Step" or not rest or not number.isdigit() or not total.isdigit():
        return None
    return BuildStep(image, int(number), int(total), line)


@dataclass
class BuildResult:
    name: str
    tag: str
    size_bytes: int
    seconds: float
    cached: bool

    def to_dict(self) -> dict:
        return asdict(self)


def image_exists(client: docker.DockerClient, ref: str) -> bool:
    import docker.errors

    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def resolve_base_image(client: docker.DockerClient, chosen: str | None = None) -> str:
    """`chosen` (SVCCTL_BASE_IMAGE), else debian:bookworm-slim when present, else the
    bootstrapped base."""
    if chosen:
        if not image_exists(client, chosen):
            raise NotFoundError(
                f"base image {chosen} (SVCCTL_BASE_IMAGE) is not in the engine",
                "load or build it, or unset SVCCTL_BASE_IMAGE",
            )
        return chosen
    for ref in (DEFAULT_BASE_IMAGE, BOOTSTRAPPED_BASE_IMAGE):
        if image_exists(client, ref):
            return ref
    raise NotFoundError(
        f"no base image: neither {DEFAULT_BASE_IMAGE} nor {BOOTSTRAPPED_BASE_IMAGE} is in the engine",
        "run `svcctl doctor --fix` to pull one or bootstrap one with debootstrap",
    )


def build_context(project_dir: Path, spec: ImageSpec, state: Path | None) -> Path:
    """Where the image is built from: the context in place, except when the spec generates parts
    of it and the project is an installed copy: site-packages is not written to, so the context
    is copied into the state directory first (kept there, so a rebuild is a cache hit)."""
    context = project_dir / spec.context
    if spec.prepare is None or state is None or is_checkout(project_dir):
        return context
    copy = state / "build" / spec.context
    shutil.copytree(context, copy, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def build_image(
    client: docker.DockerClient,
    project_dir: Path,
    spec: ImageSpec,
    base_image: str,
    on_progress: Progress = no_progress,
    state: Path | None = None,
    on_step: Callable[[BuildStep], None] | None = None,
) -> BuildResult:
    """Build one image; `on_progress` hears the generated parts of its context, `on_step` each
    Dockerfile step as it starts (the rest of the builder's output is kept for a failure's
    message only)."""
    import docker.errors

    context = build_context(project_dir, spec, state)
    if spec.prepare is not None:
        spec.prepare(context, on_progress)
    started = time.monotonic()
    # FROM and ARG steps never print "Using cache"; every other step does when cached.
    cacheable_steps = cached_steps = 0
    # The build's own output is not shown as it streams; on failure its last lines say why.
    output_tail: deque[str] = deque(maxlen=BUILD_ERROR_TAIL_LINES)
    try:
        for chunk in client.api.build(
            path=str(context), tag=spec.tag, buildargs={"BASE_IMAGE": base_image}, rm=True, forcerm=True, decode=True
        ):
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise SvcctlError(
                    f"building image {spec.name} failed: "
                    f"{detail.strip().splitlines()[-1] if detail.strip() else detail}",
                    f"read the build output below; fix {spec.context}/Dockerfile, "
                    f"then rerun `svcctl build {spec.name}`",
                    details="\n".join(f"  {spec.name}| {tail_line}" for tail_line in output_tail) or None,
                )
            line = chunk.get("stream", "").rstrip()
            if line:
                output_tail.extend(line.splitlines())
            step = parse_step(spec.name, line)
            if step is not None:
                instruction = step.instruction.split(" ", 1)[0].upper()
                cacheable_steps += instruction not in ("FROM", "ARG")
                if on_step is not None:
                    on_step(step)
            elif "Using cache" in line:
                cached_steps += 1
    except docker.errors.APIError as exc:
        raise api_failure(f"building image {spec.name}", exc, "see the build output above") from exc
    seconds = time.monotonic() - started
    size = int(client.images.get(spec.tag).attrs.get("Size", 0))
    return BuildResult(spec.name, spec.tag, size, round(seconds, 2), cached=cached_steps == cacheable_steps)


def save_images(engine: EngineEndpoint, tags: list[str], archive: Path, fix: str) -> None:
    """The images `tags` of `engine` in one archive (`docker image save --output`); a failure
    is SvcctlError naming the docker CLI's last line, with `fix`."""
    run_whales("docker save", fix, lambda: whales_client(engine).image.save(tags, output=archive))


def load_archive(engines: Mapping[str, EngineEndpoint], archive: Path) -> dict[str, str]:
    """The archive loaded into each of `engines` in parallel (`docker image load --quiet`, a
    python-on-whales client per engine); returns name -> why it failed (the last line the
    docker CLI wrote on stderr, else its exit status) for the engines where it did."""
    from python_on_whales import ClientNotFoundError, DockerException

    def load(endpoint: EngineEndpoint) -> str | None:
        try:
            whales_client(endpoint).image.load(archive, quiet=True)
        except ClientNotFoundError:
            raise no_docker_cli() from None
        except DockerException as exc:
            lines = failure_output(exc).splitlines()
            return lines[-1] if lines else str(exc.return_code)
        return None

    with ThreadPoolExecutor(max_workers=max(1, len(engines))) as pool:
        outcomes = dict(zip(engines, pool.map(load, engines.values()), strict=True))
    return {name: why for name, why in outcomes.items() if why is not None}


def ensure_tag(client: docker.DockerClient, source: str, tag: str) -> None:
    """`docker tag SOURCE TAG` on that engine unless TAG is there already."""
    from svcctl.docker.objects import or_none

    if or_none(client.images.get, tag) is not None:
        return
    image = or_none(client.images.get, source)
    if image is None:
        raise NotFoundError(f"image {source} is not on that engine", "`svcctl hosts up N` loads the project's images")
    repository, _, version = tag.rpartition(":")
    image.tag(repository, version)
