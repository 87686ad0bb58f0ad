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
from typing import Any

from peers import PeerStatus

#: Replaced, in every argv element of a case, by the case's private scratch directory.
WORK = "{work}"
#: Replaced by the `pynerd` script: for a `full_argv` case whose command is a wrapper
#: (`sh -c '{pynerd} run -d ... && {pynerd} rm -f ...'`), not `pynerd ARGS`.
PYNERD = "{pynerd}"

PYTHON = sys.executable

#: A case hook: gets the case's scratch directory.
Hook = Callable[[Path], None]


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
class Reference:
    """A computed time to compare pynerd with, e.g. a machine bound: not a command.

    Some references are a sum of measured parts (download + decompression / cores)
    that no single command takes, so setup measures them and hands in samples that
    are summarized like a command's. `detail` is kept in the results JSON.
    """

    label: str
    description: str
    samples_s: list[float]
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prepared:
    """What a case's setup may return; returning None means "nothing to add".

    `subst` maps extra placeholders (e.g. "{ref}" for an image reference only known
    once setup has pushed it) to their values, substituted like `{work}`. `peers`
    holds the status of peers the setup provides itself (private daemons) for cases
    with `peers_from_setup`. `notes` are Markdown lines shown under the results.
    """

    subst: dict[str, str] = field(default_factory=dict)
    peers: dict[str, PeerStatus] = field(default_factory=dict)
    references: list[Reference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    """One thing to measure: a pynerd command and what to compare it with.

    `pynerd` holds the arguments after the program name. `baseline` is a full argv
    (the reference for `target`); `peers` maps a peer tool name (see peers.py) to
    a full argv, run only if that tool is installed and works. `setup`/`teardown`
    receive the case's scratch directory, which the harness creates and removes;
    setup may return a `Prepared`. `target` is the highest acceptable
    median(pynerd)/median(baseline); `targets` does the same for peers and references
    by label. `prepare` maps a label ("pynerd", "baseline", a peer) to a hook run
    before every run of that command, outside the timed region (e.g. empty a store).
    `runs`/`quick_runs`/`warmups` override the harness defaults for slow cases.
    With `peers_from_setup` the peers are not probed globally: setup starts private
    instances and reports them in `Prepared.peers`. With `full_argv`, `pynerd` is a
    whole argv (a shell wrapper timing two pynerd commands as one sample) in which
    `{pynerd}` stands for the script; such cases get no import profile.
    """

    name: str
    description: str
    pynerd: list[str]
    baseline: list[str] | None = None
    peers: dict[str, list[str]] = field(default_factory=dict)
    setup: Callable[[Path], Prepared | None] | None = None
    teardown: Callable[[Path], None] | None = None
    target: float | None = None
    targets: dict[str, float] = field(default_factory=dict)
    prepare: dict[str, Hook] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    importtime: bool = False
    runs: int | None = None
    quick_runs: int | None = None
    warmups: int | None = None
    timeout_s: float | None = None
    peers_from_setup: bool = False
    full_argv: bool = False


def expand(argv: list[str], work: Path, subst: dict[str, str] | None = None) -> list[str]:
    """Substitute the scratch directory and `subst` placeholders into an argv.

    str.replace rather than str.format: `-c` code may hold braces.
    """
    pairs = [(WORK, str(work)), (PYNERD, str(pynerd_script())), *(subst or {}).items()]
    out = []
    for arg in argv:
        for key, value in pairs:
            arg = arg.replace(key, value)
        out.append(arg)
    return out


def display(argv: list[str], work: Path | None = None,
            subst: dict[str, str] | None = None) -> str:
    """A short, stable rendering of an argv for reports: no venv, temp paths or ports.

    Substituted values are shown by name again ("{ref}" -> `$REF`), so a report
    does not change with the registry's random port.
    """
    names = {str(pynerd_script()): "pynerd", PYTHON: "python"}
    text = shlex.join(names.get(arg, arg) for arg in argv)
    for path, name in names.items():  # also inside `sh -c` strings
        text = text.replace(path + " ", name + " ")
    for key, value in (subst or {}).items():
        text = text.replace(value, "$" + key.strip("{}").upper())
    return text.replace(str(work), "$WORK") if work is not None else text


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment for every timed command: no user PYNERD_* settings, no config file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNERD_")}
    env["PYNERD_TOML"] = ""
    env.update(extra)
    return env
