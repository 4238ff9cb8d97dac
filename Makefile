# One entry point for people and CI. `make synth` and `make test` are the README quick start.
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: install system-deps lock synth schema test test-plugin lint check bench scan

# Exact versions with hashes (requirements.lock, from the ranges in pyproject.toml and
# requirements.txt): every install and CI run gets the same packages.
$(VENV)/.installed: requirements.lock
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	touch $@

# Re-resolve after changing a range (a maintainer's step; uv is not part of the lock). First
# the whole lock: the package's runtime ranges (pyproject.toml) and the tools
# (requirements.txt). Then components/requirements.txt, what Pulumi installs into the
# plugin's own virtualenv: the runtime part of that same lock, its versions and hashes
# (tests/test_release.py checks that the two agree).
UV_COMPILE = $(PY) -m uv pip compile --universal --generate-hashes --python-version 3.11 \
  --custom-compile-command "make lock"
lock:
	$(PY) -m pip install --quiet uv
	$(UV_COMPILE) pyproject.toml requirements.txt -o requirements.lock
	$(UV_COMPILE) pyproject.toml --constraints requirements.lock -o components/requirements.txt
	$(UV_COMPILE) requirements-scan.txt -o requirements-scan.lock

# The scanner in a virtualenv of its own (requirements-scan.txt says why), from its own lock.
SCAN_VENV ?= .venv-scan
$(SCAN_VENV)/.installed: requirements-scan.lock
	python3 -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-scan.lock
	touch $@

# Graphviz's `dot` draws the synth's architecture picture. It comes from the distribution's
# packages, installed only when missing (with sudo unless root); without apt-get, say so and go
# on: the synth writes everything but the picture and names what is missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system-deps:
	@command -v dot >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing graphviz (dot) with apt-get"; \
	    $(SUDO) apt-get update -qq && \
	    $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; \
	  else \
	    echo "warning: install Graphviz (dot) for the synth's picture, e.g. brew install graphviz"; \
	  fi; }

# The IAM evaluator behind tests/test_access_matrix.py (@cloud-copilot/iam-simulate, pinned in
# tests/iam/package-lock.json): a test-time tool only (AGPL-3.0), never shipped with the stack.
IAM_TESTS := tests/iam
$(IAM_TESTS)/node_modules/.installed: $(IAM_TESTS)/package.json $(IAM_TESTS)/package-lock.json
	cd $(IAM_TESTS) && npm ci --no-audit --no-fund
	touch $@

# Everything the program, the synth and the tests need, Python packages and the rest.
install: system-deps $(VENV)/.installed $(IAM_TESTS)/node_modules/.installed

# The main job, offline: what the stack would build, without AWS credentials.
synth: install
	$(PY) -m synth --stack $(STACK)

# The package's Pulumi schema, inferred from the components' type hints; committed, and
# tests/test_provider.py fails when it differs from the code.
schema: install
	$(PY) -m components.provider

# The test suite (README test command), on every core (pytest-xdist): each worker builds the
# example stacks and infers the schema once (session fixtures). Test times range from
# milliseconds to seconds, so an idle worker takes over queued tests of a busy one.
test: install
	$(PY) -m pytest -q -n auto --dist worksteal

# The package as `pulumi package add` installs and starts it (tests/test_plugin_install.py):
# its own virtualenv from components/requirements.txt (PyPI), then Construct over gRPC.
test-plugin: install
	$(PY) -m pytest -q -m plugin_install

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
# The workflows and Dependabot's config, audited offline (pinned actions, permissions, injection,
# credentials: docs/ci.md); any finding fails, nothing is suppressed.
	$(VENV)/bin/zizmor --offline --strict-collection --quiet --no-progress --color never .
# The pack runs as its own program (its __main__ imports the sibling module rules), so it is
# checked on its own rather than beside the project's __main__.py.
	cd policy_pack && ../$(PY) -m mypy --strict .

check: lint test test-plugin

# Checkov on every example stack's plan.json (the synth writes it): fails on any finding that
# synth/suppressions.yaml does not justify, and on a justification no finding needs any more.
scan: install $(SCAN_VENV)/.installed
	$(PY) -m synth.scan --checkov $(SCAN_VENV)/bin/checkov

# Benchmarks (issues 8 and 13): program scale against the SDK floor, the program against its
# replay floor under plain mocks, policy sizes, the function, the test suite; prints the tables
# and writes benchmarks/RESULTS.md. Takes about 20 minutes; one section alone:
# `$(PY) benchmarks/run.py --only replay --output -` (see docs/benchmarks.md).
bench: install
	$(PY) benchmarks/run.py
