# pynerd: `make demo` (set-up plus the main job, end to end, offline) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip
PYNERD  = $(VENV)/bin/pynerd

.PHONY: all demo test unit integration lint typecheck bench install sysdeps clean

all: install

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

sysdeps:
	bash scripts/install-system-deps.sh --test

install: sysdeps $(VENV)/.installed

demo: install
	bash scripts/demo.sh $(PYNERD)

test: install
	$(VENV)/bin/ruff check pynerd commands tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

unit: install
	$(VENV)/bin/pytest -q tests/unit

lint: install
	$(VENV)/bin/ruff check pynerd commands tests bench
	$(VENV)/bin/mypy

bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
