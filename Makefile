# pynerd: `make demo` (set-up plus the main job, end to end, offline) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(VENV)/bin/pip
PYNERD  = $(VENV)/bin/pynerd

# Where each shell looks for completions (Debian's defaults; override on the command line).
BASH_COMPLETIONS ?= /usr/share/bash-completion/completions
ZSH_COMPLETIONS  ?= /usr/local/share/zsh/site-functions
FISH_COMPLETIONS ?= /usr/share/fish/vendor_completions.d

.PHONY: all demo test unit integration lint typecheck bench install sysdeps clean compile \
	generate install-completions

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

install: sysdeps $(VENV)/.installed compile install-completions

# Shell completions (generated into completions/ by `make generate`), copied where bash,
# zsh and fish find them; `install` overwrites, so running it again changes nothing.
install-completions:
	install -D -m 0644 completions/pynerd.bash $(DESTDIR)$(BASH_COMPLETIONS)/pynerd
	install -D -m 0644 completions/_pynerd $(DESTDIR)$(ZSH_COMPLETIONS)/_pynerd
	install -D -m 0644 completions/pynerd.fish $(DESTDIR)$(FISH_COMPLETIONS)/pynerd.fish

# Regenerate what is derived from the command tree: docs/command-reference.md and
# completions/. Run it after adding or changing a command or flag, and commit the result
# (tests/unit/commands/test_generated.py fails until you do).
generate: $(VENV)/.installed
	$(PY) scripts/gen-reference.py
	$(PY) scripts/gen-completions.py

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
