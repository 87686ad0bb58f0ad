"""Shell completion of live names: one <Tab> on a store with 100 containers.

A shell waits for the completion on every <Tab>, so its budget is absolute: under
~150 ms on a store of 100 containers. The completion scripts complete commands and
flags by themselves; names come from `pynerd __complete KIND` (pynerd_cli.complete),
which reads the name index without importing typer. Two cases: that call alone, and
a whole bash <Tab> (`_pynerd` from completions/pynerd.bash, in a fresh bash).
The store is made in setup from a busybox rootfs tar (`import`, then 100 `create`).
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from case import PYTHON, WORK, Case, pynerd_script

HERE = Path(__file__).resolve().parent
BASH_COMPLETION = HERE.parent / "completions" / "pynerd.bash"
ROOTS = ["--data-root", f"{WORK}/data", "--run-root", f"{WORK}/run"]
CONTAINERS = 100


def _pynerd(work: Path, *args: str) -> None:
    argv = [str(pynerd_script()), *(a.replace(WORK, str(work)) for a in ROOTS), *args]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)


def _setup(work: Path) -> None:
    rootfs = work / "rootfs.tar"
    subprocess.run(
        ["bash", str(HERE.parent / "scripts" / "busybox-rootfs.sh"), str(rootfs)],
        check=True,
        capture_output=True,
    )
    _pynerd(work, "import", str(rootfs), "busybox:latest")
    for i in range(CONTAINERS):
        _pynerd(work, "create", "--net", "none", "--name", f"box-{i}", "busybox", "true")


def _teardown(work: Path) -> None:
    names = [f"box-{i}" for i in range(CONTAINERS)]
    _pynerd(work, "rm", "-f", *names)


def _write_tab_script(work: Path) -> None:
    """$WORK/tab.sh: bash running one <Tab> on `pynerd ... rm `, as readline calls it."""
    line = f"{pynerd_script()} --data-root {work}/data rm "
    (work / "tab.sh").write_text(
        f"source {shlex.quote(str(BASH_COMPLETION))}\n"
        f"COMP_LINE={shlex.quote(line)}; COMP_POINT=${{#COMP_LINE}}\n"
        "_pynerd\n"
        f'[ "${{#COMPREPLY[@]}}" -eq {CONTAINERS} ] || '
        '{ echo "got ${#COMPREPLY[@]}" >&2; exit 1; }\n'
    )


def _setup_tab(work: Path) -> None:
    _setup(work)
    _write_tab_script(work)


def cases() -> list[Case]:
    return [
        Case(
            name="complete-names-100",
            description=f"`pynerd __complete containers` with {CONTAINERS} containers",
            pynerd=["__complete", "containers", *ROOTS],
            baseline=[PYTHON, "-c", "pass"],
            setup=_setup,
            teardown=_teardown,
            importtime=True,
        ),
        Case(
            name="complete-bash-100",
            description=f"one bash <Tab> on `pynerd rm ` with {CONTAINERS} containers "
            "(`_pynerd` of completions/pynerd.bash in a fresh bash)",
            pynerd=["bash", "--norc", f"{WORK}/tab.sh"],
            baseline=["bash", "--norc", "-c", f"source {shlex.quote(str(BASH_COMPLETION))}"],
            setup=_setup_tab,
            teardown=_teardown,
            full_argv=True,
        ),
    ]
