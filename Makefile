# pynerd: `make demo` (set-up plus the main job, end to end, offline) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip
PYNERD  = $(VENV)/bin/pynerd

.PHONY: all demo test unit integration lint typecheck bench install sysdeps clean compile

all: install

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

# Byte-compile the tree: start-up time is a feature, and an editable install
# (or PYTHONDONTWRITEBYTECODE) would otherwise compile sources on every run.
compile: $(VENV)/.installed
	$(PY) -m compileall -q pynerd commands >/dev/null

sysdeps:
	bash scripts/install-system-deps.sh --test

install: sysdeps $(VENV)/.installed compile

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
