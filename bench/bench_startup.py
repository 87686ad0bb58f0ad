"""Start-up cost: the commands every user runs most, on an empty store.

The foundation target is that pynerd costs at most 1.3x what importing typer
alone costs on the same interpreter: the CLI framework is the floor we accept,
everything pynerd adds on top must stay small.
"""

from __future__ import annotations

from case import PYTHON, WORK, Case

BASELINE = [PYTHON, "-c", "import typer"]
TARGET = 1.3
# A fresh, private store: global flags go before the subcommand.
ROOTS = ["--data-root", f"{WORK}/data", "--run-root", f"{WORK}/run"]


def cases() -> list[Case]:
    return [
        Case(
            name="startup-help",
            description="`pynerd --help`: root help, no subcommand module imported",
            pynerd=["--help"],
            baseline=BASELINE,
            peers={"docker": ["docker", "--help"], "podman": ["podman", "--help"],
                   "nerdctl": ["nerdctl", "--help"], "ctr": ["ctr", "--help"]},
            target=TARGET,
        ),
        Case(
            name="startup-version",
            description="`pynerd version`: client and runtime versions (warm version cache)",
            pynerd=[*ROOTS, "version"],
            baseline=BASELINE,
            peers={"docker": ["docker", "version"], "podman": ["podman", "version"],
                   "nerdctl": ["nerdctl", "version"], "ctr": ["ctr", "version"]},
            target=TARGET,
            importtime=True,
        ),
        Case(
            name="startup-ps",
            description="`pynerd ps` on an empty store (fresh --data-root/--run-root)",
            pynerd=[*ROOTS, "ps"],
            baseline=BASELINE,
            peers={"docker": ["docker", "ps"], "podman": ["podman", "ps"],
                   "nerdctl": ["nerdctl", "ps"], "ctr": ["ctr", "containers", "ls"]},
            target=TARGET,
            importtime=True,
        ),
    ]
