# Orkestra's developer entry points. On a fresh clone `make test` does everything: creates
# .venv, installs the package with its test dependencies, builds (or reuses) the local
# Kubernetes control plane from Go modules, and runs the unit and e2e tiers.

PYTHON ?= python3
# Go's official install location, as a last resort for shells that do not put it on PATH
# (CI's non-interactive shell, for one); a `go` already on PATH wins.
export PATH := $(PATH):/usr/local/go/bin
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
ORK    := $(VENV)/bin/ork
STAMP  := $(VENV)/.installed

.PHONY: setup browser controlplane helm test test-unit e2e e2e-kind demo demo-down lint bench image helm-lint

setup: $(STAMP) browser

# The Control Center's browser tests drive Debian's headless Chromium through its chromedriver
# (Selenium is pointed at both paths; nothing is downloaded from a browser vendor). Installed with
# apt when missing, which needs root and apt-get; otherwise say what to install.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  echo "installing chromium and chromium-driver (browser tests)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; \
	else echo "browser tests need /usr/bin/chromium and /usr/bin/chromedriver:" \
	  "run 'apt-get install chromium chromium-driver' as root (Debian/Ubuntu)" >&2; fi

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# kube-apiserver, kube-controller-manager and etcd, compiled once per machine into
# ~/.cache/orkestra/control-plane/ (cold: several minutes; afterwards: a quick check).
controlplane: setup
	$(PY) -m orkestra.testing.build

# helm, compiled once per machine from its Go module into ~/.cache/orkestra/helm/ (cold: several
# minutes; afterwards: a quick check). The chart tests (tests/e2e/test_helm_chart.py) use it.
helm: setup
	$(PY) -m orkestra.testing.build --helm

test: setup controlplane helm
	$(PYTEST) tests/unit tests/e2e

test-unit: setup
	$(PYTEST) tests/unit

e2e: setup controlplane helm
	$(PYTEST) tests/e2e

# The same e2e suite against a kind cluster (pytest-kind). Needs Docker, and pytest-kind
# downloads kind itself: neither is possible on this project's machines, so use `make e2e`.
e2e-kind: setup
	@command -v docker >/dev/null || { echo "e2e-kind needs Docker (pytest-kind runs kind in it); this machine has none: use 'make e2e'" >&2; exit 1; }
	ORK_E2E_CLUSTER=kind $(PYTEST) tests/e2e

demo: setup controlplane
	bash examples/demo/run.sh

demo-down: setup
	bash examples/demo/run.sh down

# Syntax of every file, then import every module of the package (catches import errors and
# names missing at import time) with only what the virtualenv already has, then type-check
# orkestra/ with mypy (its settings: [mypy] in setup.cfg).
lint: setup
	$(PY) -m compileall -q orkestra tests bench cmd/ork
	$(PY) -c "import importlib, pkgutil, orkestra; [importlib.import_module(m.name) for m in pkgutil.walk_packages(orkestra.__path__, 'orkestra.')]"
	$(PY) -m mypy

# Runs the issue-15 benches (bench/run_all.py) against a fresh local control plane: figures in
# bench/results.json ({"<bench>": {"<figure>": value}}) and one table printed at the end.
# BENCH_QUICK=1 runs them with small counts (a smoke test, a few minutes).
bench: setup controlplane
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) bench/run_all.py $(if $(filter 1,$(BENCH_QUICK)),--quick)

image:
	@command -v docker >/dev/null || { echo "image needs Docker; this machine has none" >&2; exit 1; }
	docker build -t orkestra:dev .

helm-lint: helm
	for f in deploy/helm/orkestra/ci/*-values.yaml; do \
	  "$$($(PY) -m orkestra.testing.build --helm)" lint --strict deploy/helm/orkestra -f $$f || exit 1; done
