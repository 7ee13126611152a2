"""The domain error tree. The CLI maps each class to one exit code in one place (cli/main.py).

Every error carries a one-line cause and a one-line fix; `details` is optional extra context
(log tails, diffs) shown after the line.
"""

from __future__ import annotations


class SvcctlError(Exception):
    exit_code = 1

    def __init__(self, cause: str, fix: str | None = None, details: str | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix
        self.details = details

    def one_line(self) -> str:
        return f"{self.cause}; fix: {self.fix}" if self.fix else self.cause


class BadInputError(SvcctlError):
    """The user's input (an option, an argument, a connection string) is wrong."""

    exit_code = 2


class DockerUnavailableError(SvcctlError):
    """No Docker engine answers, or Compose v2 is missing."""

    exit_code = 3


class ZooKeeperUnavailableError(SvcctlError):
    """No member of the ensemble answers."""

    exit_code = 4


class WaitTimeoutError(SvcctlError):
    """Something awaited (quorum, a registration, convergence) did not happen in time."""

    exit_code = 5


class ConflictError(SvcctlError):
    """A resource is taken: a port in use, a node changed meanwhile."""

    exit_code = 6


class NotFoundError(SvcctlError):
    """A named thing (image, znode, service, project file) does not exist."""

    exit_code = 7


class CheckFailedError(SvcctlError):
    """A verification ran and its expectation did not hold (doctor, scenarios, calls)."""

    exit_code = 8


class DegradedError(SvcctlError):
    """It serves, with less redundancy than it is built for: an ensemble member down while the
    others hold quorum. Distinct from a failed check so a script can tell a warning from an outage."""

    exit_code = 9


EXIT_CODES: dict[type[SvcctlError], int] = {
    cls: cls.exit_code
    for cls in (
        SvcctlError,
        BadInputError,
        DockerUnavailableError,
        ZooKeeperUnavailableError,
        WaitTimeoutError,
        ConflictError,
        NotFoundError,
        CheckFailedError,
        DegradedError,
    )
}


def _loaded_types(module: str, *names: str) -> tuple[type, ...]:
    """Exception classes of a library, only if something already imported it: a library that
    was never imported cannot have raised, and importing kazoo or docker here would slow every
    command down."""
    import sys

    loaded = sys.modules.get(module)
    return tuple(getattr(loaded, name) for name in names if loaded is not None and hasattr(loaded, name))


def from_foreign(exc: BaseException) -> SvcctlError:
    """Name the cause of an exception a library raised past the core (kazoo, docker, OS), so the
    user still gets one line and a meaningful exit code. Mapped by type."""
    import subprocess

    kind = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else kind
    connection_lost = _loaded_types(
        "kazoo.exceptions", "ConnectionLoss", "ConnectionClosedError", "SessionExpiredError", "ConnectionDropped"
    ) + _loaded_types("kazoo.handlers.threading", "KazooTimeoutError")
    if isinstance(exc, connection_lost):
        return ZooKeeperUnavailableError(
            f"lost the connection to ZooKeeper ({kind})", "retry; `svcctl cluster status` shows which members answer"
        )
    if isinstance(exc, _loaded_types("kazoo.exceptions", "KazooException", "ZookeeperError")):
        return SvcctlError(
            f"ZooKeeper refused the request: {kind} {text}".rstrip(),
            "check the path and its ACL with `svcctl zk stat PATH`",
        )
    engine_gone = _loaded_types("requests.exceptions", "ConnectionError") + _loaded_types(
        "urllib3.exceptions", "ProtocolError"
    )
    if isinstance(exc, engine_gone) or (
        isinstance(exc, _loaded_types("docker.errors", "DockerException")) and "Connection refused" in text
    ):
        return DockerUnavailableError(f"lost the Docker engine ({kind})", "run `svcctl doctor` to see what is wrong")
    if isinstance(
        exc,
        _loaded_types("docker.errors", "DockerException") + _loaded_types("requests.exceptions", "RequestException"),
    ):
        return SvcctlError(f"the Docker engine refused: {text}", "run `svcctl doctor`; the engine log says more")
    if isinstance(exc, subprocess.TimeoutExpired):
        return WaitTimeoutError(f"a command took too long: {text}", "retry; `svcctl doctor` checks the engine")
    if isinstance(exc, OSError):
        return SvcctlError(f"{kind}: {text}", "check the path, permissions or address named above")
    return SvcctlError(
        f"unexpected {kind}: {text}",
        "this is a bug in svcctl: rerun with SVCCTL_DEBUG=1 for the traceback and report it",
    )
