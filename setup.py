"""Only what pyproject.toml cannot say: the wheel carries the project files the commands need at
run time (compose/, images/, services/, plus pyproject.toml and README.md for the registrator
image's own wheel) under svcctl/_project, while they stay at the top of the repository."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PROJECT_PARTS = ("compose", "images", "services", "pyproject.toml", "README.md")
# Generated, never shipped: the registrator's wheels are built by `svcctl build` on the host.
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "wheels", ".svcctl")


class build_py_with_project(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return  # an editable install runs from the checkout, which has them in place
        root = Path(__file__).resolve().parent
        target = Path(self.build_lib) / "svcctl" / "_project"
        for part in PROJECT_PARTS:
            origin = root / part
            if origin.is_dir():
                shutil.copytree(origin, target / part, ignore=IGNORE, dirs_exist_ok=True)
            elif origin.is_file():
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / part)
            # absent in the registrator's clean source copy: that wheel does not need them


setup(cmdclass={"build_py": build_py_with_project})
