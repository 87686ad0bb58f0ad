"""The process seam: every external program pynerd runs goes through a Runner.

Tests replace the runner with a fake that records arguments and returns canned
results, so unit tests need neither root nor the real binaries.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Protocol

from pynerd.structs import frozen_record


@frozen_record
class Completed:
    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes


class Runner(Protocol):
    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> Completed: ...


class SubprocessRunner:
    """Runs programs for real."""

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> Completed:
        import subprocess

        p = subprocess.run(
            list(args),
            input=input,
            capture_output=True,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            check=False,
        )
        return Completed(tuple(args), p.returncode, p.stdout, p.stderr)


def find_executable(name: str, paths: Sequence[str] | None = None) -> str | None:
    """``name`` on the given search paths, or on $PATH when none are given."""
    if paths is None:  # $PATH, as shutil.which (not imported: ~1.5 ms on every `run`)
        if os.sep in name:
            return name if os.path.isfile(name) and os.access(name, os.X_OK) else None
        paths = [d or "." for d in os.environ.get("PATH", os.defpath).split(os.pathsep)]
    for d in paths:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
