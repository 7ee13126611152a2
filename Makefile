# The README's two commands: `make demo` (the main job) and `make test` (the test suite).
# Both run the set-up first; it is idempotent and changes nothing where Docker already works.
VENV ?= .venv
SVCCTL = $(VENV)/bin/svcctl
PYTEST = $(VENV)/bin/pytest

.PHONY: setup build demo test lint unit e2e bench clean

setup:
	bash scripts/setup.sh

build: setup
	$(SVCCTL) build

demo: build
	$(SVCCTL) demo

test: lint build
	$(PYTEST) -m "unit or e2e" -v

# The packages' layers and the core's other contracts (.importlinter), then ruff's rules and its
# formatter (pyproject.toml): `ruff format cli tests bench testbed setup.py` fixes the layout.
LINTED = cli tests bench testbed setup.py
lint: setup
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)

unit: setup
	$(PYTEST) -m unit

bench: build
	$(VENV)/bin/python bench/registration.py

clean:
	-$(SVCCTL) cluster down --volumes
