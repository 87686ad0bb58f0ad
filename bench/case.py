"""What a benchmark module declares: cases, and helpers to build their commands.

A case is data, not code, so the harness alone decides how things are timed,
interleaved and reported, and a new benchmark is a short list of `Case`s.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Replaced, in every argv element of a case, by the case's private scratch directory.
WORK = "{work}"

PYTHON = sys.executable


def pynerd_script() -> Path:
    """The `pynerd` console script of the interpreter running the harness.

    Using the script next to sys.executable (rather than whatever is on PATH)
    guarantees pynerd and the `python -c` baseline run on the same interpreter.
    """
    script = Path(sys.executable).parent / "pynerd"
    if script.is_file():
        return script
    found = shutil.which("pynerd")
    if found is None:
        raise SystemExit(
            f"bench: no `pynerd` script next to {sys.executable}; "
            "run the harness with the venv's python (e.g. .venv/bin/python bench/run.py)"
        )
    return Path(found)


@dataclass(frozen=True)
class Case:
    """One thing to measure: a pynerd command and what to compare it with.

    `pynerd` holds the arguments after the program name. `baseline` is a full argv
    (the reference for `target`); `peers` maps a peer tool name (see peers.py) to
    a full argv, run only if that tool is installed and works. `setup`/`teardown`
    receive the case's scratch directory, which the harness creates and removes.
    `target` is the highest acceptable median(pynerd)/median(baseline).
    """

    name: str
    description: str
    pynerd: list[str]
    baseline: list[str] | None = None
    peers: dict[str, list[str]] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None
    teardown: Callable[[Path], None] | None = None
    target: float | None = None
    env: dict[str, str] = field(default_factory=dict)
    importtime: bool = False


def expand(argv: list[str], work: Path) -> list[str]:
    """Substitute the scratch directory into an argv (str.replace: `-c` code may hold braces)."""
    return [arg.replace(WORK, str(work)) for arg in argv]


def display(argv: list[str], work: Path | None = None) -> str:
    """A short, stable rendering of an argv for reports: no venv or temp paths."""
    names = {PYTHON: "python", str(pynerd_script()): "pynerd"}
    text = shlex.join(names.get(arg, arg) for arg in argv)
    return text.replace(str(work), "$WORK") if work is not None else text


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment for every timed command: no user PYNERD_* settings, no config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNERD_")}
    env["PYNERD_TOML"] = ""
    env.update(extra)
    return env
