"""python-on-whales (imported lazily) for the docker CLI's commands it wraps: its client on an
engine, and the one mapping of a failed docker command, made through python-on-whales or the
runner, to svcctl's error naming the command's last line. python-on-whales gives its commands no
timeout: a command that hangs here waits for the engine, where the runner's would have expired."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from svcctl.docker.engine import no_docker_cli
from svcctl.errors import SvcctlError

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from svcctl.config.engines import EngineEndpoint

T = TypeVar("T")


def whales_client(engine: EngineEndpoint) -> DockerClient:
    """python-on-whales on `engine`: its host and TLS material given as the docker CLI's global
    options (`--host`, `--tlsverify`, `--tlscacert`, ...)."""
    from python_on_whales import DockerClient

    return DockerClient(**engine.whales_options())


def failure_output(exc: BaseException) -> str:
    """What a failed docker command printed, its stderr then its stdout."""
    parts = (getattr(exc, "stderr", "") or "", getattr(exc, "stdout", "") or "")
    return " ".join(str(part) for part in parts if part).strip()


def command_failed(action: str, output: str, status: str, fix: str, details: bool = False) -> SvcctlError:
    """`<action> failed: <the last line the command printed>` (`status` when it printed
    nothing), with `fix`; `details` keeps the whole output under the message."""
    lines = output.strip().splitlines()
    return SvcctlError(
        f"{action} failed: {lines[-1] if lines else status}", fix, details=output.strip() if details and lines else None
    )


def whales_error(exc: BaseException, action: str, fix: str, details: bool = False) -> SvcctlError:
    """A failed python-on-whales call as svcctl's error (see command_failed)."""
    code = getattr(exc, "return_code", None)
    return command_failed(
        action, failure_output(exc), f"docker exited {code}" if code is not None else str(exc), fix, details
    )


def run_whales(action: str, fix: str, call: Callable[[], T]) -> T:
    """`call` (python-on-whales calls), a failed docker command mapped by whales_error to an
    error naming `action` with `fix`; no docker command is DockerUnavailableError."""
    from python_on_whales import ClientNotFoundError, DockerException

    try:
        return call()
    except ClientNotFoundError:
        raise no_docker_cli() from None
    except DockerException as exc:
        raise whales_error(exc, action, fix) from exc
