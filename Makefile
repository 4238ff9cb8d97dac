# One entry point for people and CI. `make synth` and `make test` are the README quick start.
VENV ?= .venv
PY := $(VENV)/bin/python
STACK ?= dev

.PHONY: install synth test lint check

$(VENV)/.installed: requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

# Everything the program, the synth and the tests need, Python packages and the rest.
install: $(VENV)/.installed

# The main job, offline: what the stack would build, without AWS credentials.
synth: install
	$(PY) -m components.synth --stack $(STACK)

# The test suite (README test command).
test: install
	$(PY) -m pytest -q

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

check: lint test
