"""svcctl as wheels built on the host, for the images that run svcctl (registrator, gateway): a
build cannot reach an index. Built reproducibly (SOURCE_DATE_EPOCH, a clean copy of the sources), so unchanged code
gives a byte-identical wheel and `svcctl build registrator` is a cache hit."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from svcctl.config.settings import INSTALLED_PROJECT, is_checkout
from svcctl.errors import SvcctlError
from svcctl.files import atomic_write

SOURCE_DATE_EPOCH = "1700000000"  # any fixed value: wheel timestamps must not depend on the clock
SOURCE_PARTS = ("pyproject.toml", "README.md", "cli/svcctl")


def _pip(args: list[str], what: str, on_progress: Callable[[str], None]) -> None:
    env = {**os.environ, "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    cmd = [sys.executable, "-m", "pip", *args]
    on_progress(f"registrator: {what}")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise SvcctlError(
            f"{what} failed (`{' '.join(cmd)}` exited {proc.returncode})",
            "check that pip can reach a package index or find-links on this host",
            details=tail,
        )


def _requirements(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        lines = zf.read(meta).decode().splitlines()
    return sorted(
        line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:") and "extra ==" not in line
    )


def copy_sources(context: Path, src: Path) -> None:
    """svcctl's sources as a clean tree (no build/ leftovers of deleted modules, no
    __pycache__): the checkout's when the build context lies in one, else the installed package
    itself (a wheel install ships pyproject.toml and README.md in its project copy)."""
    project = context.resolve().parents[1]
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_project")
    if is_checkout(project):
        origins = {part: project / part for part in SOURCE_PARTS}
    else:
        import svcctl

        origins = {
            "pyproject.toml": INSTALLED_PROJECT / "pyproject.toml",
            "README.md": INSTALLED_PROJECT / "README.md",
            "cli/svcctl": Path(svcctl.__file__).resolve().parent,
        }
    for part, origin in origins.items():
        if origin.is_dir():
            shutil.copytree(origin, src / part, ignore=ignore)
        elif origin.is_file():
            (src / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, src / part)
        else:
            raise SvcctlError(
                f"cannot build the registrator image: {origin} is missing", "reinstall svcctl, or build from a checkout"
            )


def prepare(context: Path, on_progress: Callable[[str], None]) -> None:
    wheels = context / "wheels"
    own_dir, deps_dir = wheels / "svcctl", wheels / "deps"
    own_dir.mkdir(parents=True, exist_ok=True)
    deps_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="svcctl-wheel-") as tmp:
        src = Path(tmp) / "src"
        copy_sources(context, src)
        out = Path(tmp) / "out"
        _pip(["wheel", "--no-deps", "-q", "-w", str(out), str(src)], "building the svcctl wheel", on_progress)
        built = next(out.glob("svcctl-*.whl"))
        target = own_dir / built.name
        if not target.is_file() or target.read_bytes() != built.read_bytes():
            for old in own_dir.glob("svcctl-*.whl"):
                old.unlink()
            atomic_write(target, built.read_bytes(), mode=0o644)
        else:
            on_progress("registrator: svcctl wheel unchanged")
    requirements = _requirements(target)
    stamp = deps_dir / ".requirements"
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == digest and any(deps_dir.glob("*.whl")):
        on_progress("registrator: dependency wheels already there")
        return
    for old in deps_dir.glob("*.whl"):
        old.unlink()
    _pip(
        ["wheel", "-q", "-w", str(deps_dir), *requirements],
        f"building dependency wheels ({', '.join(requirements)})",
        on_progress,
    )
    atomic_write(stamp, digest + "\n", mode=0o644)
