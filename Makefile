# The two commands of a fresh machine: `make demo` and `make test`. Both install what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: test unit contract e2e image lint demo package system-deps clean bench

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade 'pip>=24'
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

system-deps:
	bash tools/install-system-deps.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests tools examples bench
	$(VENV)/bin/ruff format --check src tests tools examples bench
	$(VENV)/bin/mypy src tools

unit: $(STAMP)
	$(PY) -m pytest tests/unit

contract: $(STAMP) system-deps
	$(PY) -m pytest tests/contract

e2e: $(STAMP) system-deps
	$(PY) -m pytest tests/e2e

# pack + podman + a loopback registry: builds the pinned pack and crane and the build image on
# first use. Warm: 6.3 min measured on a busy shared machine; the registry tests add ~1.5 min.
image: $(STAMP) system-deps
	$(PY) -m pytest tests/image

test: $(STAMP) system-deps lint
	$(PY) -m pytest tests

demo: $(STAMP) system-deps
	$(PY) -m tests.harness.demo

# Build speed, image size, detect time and reproducibility (prints a table, writes
# bench/results.json; BENCH_ARGS=--quick for one run of each scenario).
bench: $(STAMP) system-deps
	$(PY) bench/run.py $(BENCH_ARGS)

# OFFLINE=1 bundles CPython archives for air-gapped builds (PYTHON_VERSIONS=3.13,3.12 to choose;
# default: every release of python-versions.toml for the arch; ARCH=arm64 for another arch).
package: $(STAMP)
	$(PY) tools/package.py $(if $(ARCH),--arch $(ARCH)) $(if $(OFFLINE),--offline) \
		$(if $(PYTHON_VERSIONS),--offline --offline-python $(PYTHON_VERSIONS)) $(PACKAGE_ARGS)

clean:
	rm -rf build $(VENV) .pytest_cache .mypy_cache .ruff_cache
