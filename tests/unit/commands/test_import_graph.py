"""Start-up time is a feature: each command imports only what it needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = (
    "requests",
    "pyroute2",
    "yaml",
    "rich",
    "urllib3",
    "http.client",
    "ssl",
    "asyncio",
    "tomli",
)


def modules_after(argv: list[str], tmp_path: Path) -> set[str]:
    """Run the CLI in a fresh interpreter and return every module it had loaded."""
    dump = tmp_path / "modules.json"
    write = f"open({str(dump)!r}, 'w').write(json.dumps(sorted(sys.modules)))"
    code = (
        "import atexit, json, sys\n"
        f"atexit.register(lambda: {write})\n"
        f"sys.argv = ['pynerd'] + {argv!r}\n"
        "import os\n"
        "os._exit = sys.exit  # main() ends with os._exit, which skips atexit\n"
        "from pynerd_cli.main import main\n"
        "main()\n"
    )
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYNERD_TOML": ""}
    subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=60)
    return set(json.loads(dump.read_text()))


def _roots(tmp_path: Path) -> list[str]:
    return ["--data-root", str(tmp_path / "d"), "--run-root", str(tmp_path / "r")]


@pytest.mark.parametrize(
    "command", [["ps"], ["ps", "-a", "--format", "{{.Names}}"], ["--help"], ["version"], ["info"]]
)
def test_command_loads_no_heavy_module(command: list[str], tmp_path: Path) -> None:
    loaded = modules_after(_roots(tmp_path) + command, tmp_path)
    assert "pynerd_cli.main" in loaded
    heavy = sorted(m for m in loaded if m in HEAVY or m.split(".")[0] in HEAVY)
    assert heavy == []


def test_ps_loads_only_its_own_command_module(tmp_path: Path) -> None:
    loaded = modules_after([*_roots(tmp_path), "ps"], tmp_path)
    commands = sorted(m for m in loaded if m.startswith("pynerd_cli."))
    assert "pynerd_cli.ps" in commands
    others = [m for m in commands if m.split(".")[1] in ("version", "info", "system", "container")]
    assert others == []
    # ps needs neither the runtime nor networking nor version probing
    assert not any(
        m.startswith(("pynerd.runtime", "pynerd.network", "pynerd.system")) for m in loaded
    )


def test_root_help_imports_no_subcommand_module(tmp_path: Path) -> None:
    loaded = modules_after(["--help"], tmp_path)
    assert sorted(m for m in loaded if m.startswith("pynerd_cli.")) == [
        "pynerd_cli.context",
        "pynerd_cli.errors",
        "pynerd_cli.main",
        "pynerd_cli.tree",
    ]


def typer_modules(loaded: set[str]) -> list[str]:
    return sorted(m for m in loaded if m.split(".")[0] in ("typer", "click"))


def test_run_on_the_fast_path_imports_no_typer_even_when_it_fails(tmp_path: Path) -> None:
    """``run`` parsed by pynerd_cli.fastrun; the error (no such image) needs no typer either."""
    argv = [*_roots(tmp_path), "run", "--rm", "--pull", "never", "nosuch", "true"]
    loaded = modules_after(argv, tmp_path)
    assert "pynerd_cli.fastrun" in loaded
    assert "pynerd.containers.create" in loaded  # it really got to the library
    assert typer_modules(loaded) == []
    assert not any(m.startswith("pynerd_cli.") and m.endswith((".run", ".tree")) for m in loaded)


DECLINED_RUN = ["run", "--rm=true", "--pull", "never", "x"]  # --flag=value: typer's path


@pytest.mark.parametrize("command", [["ps"], ["run", "--help"], DECLINED_RUN])
def test_typer_runs_other_commands_and_declined_lines(command: list[str], tmp_path: Path) -> None:
    loaded = modules_after(_roots(tmp_path) + command, tmp_path)
    assert typer_modules(loaded) != []
    assert ("pynerd_cli.fastrun" in loaded) == ("run" in command)
