"""Run the pynerd CLI from tests: in-process for speed, or as a real subprocess."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

PYNERD = str(Path(sys.executable).parent / "pynerd")


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    """Invokes pynerd with this test's own data root and runtime dir."""

    def __init__(self, data_root: Path, run_root: Path) -> None:
        self.data_root = data_root
        self.run_root = run_root

    def argv(self, *args: str) -> list[str]:
        return [
            "--data-root",
            str(self.data_root),
            "--run-root",
            str(self.run_root),
            "--cni-netconfpath",
            str(self.netconf),
            *args,
        ]

    @property
    def netconf(self) -> Path:
        """This test's CNI config directory (its networks; removed after the test)."""
        return self.data_root.parent / "net.d"

    def __call__(self, *args: str, env: dict[str, str] | None = None) -> Result:
        """In-process: the same code path as the console script, minus interpreter start."""
        from pynerd_cli.main import run_argv  # the fast path of run/create, else typer

        out, err = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        try:
            if env:
                os.environ.update(env)
            with redirect_stdout(out), redirect_stderr(err):
                code = run_argv(self.argv(*args))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return Result(code, out.getvalue(), err.getvalue())

    def proc(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        raw: bool = False,
    ) -> Result:
        """As a real process; ``raw`` skips the per-test --data-root/--run-root flags."""
        full_env = {**os.environ, **(env or {})}
        p = subprocess.run(
            [PYNERD, *(args if raw else self.argv(*args))],
            capture_output=True,
            text=True,
            env=full_env,
            input=input,
            timeout=120,
        )
        return Result(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    yield Cli(tmp_path / "data", tmp_path / "run")
