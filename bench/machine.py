"""Describe the machine and tree a result came from, so numbers stay comparable."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _first(path: str, key: str) -> str | None:
    """Value of the first `key: value` line of a /proc file."""
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(ROOT), *args],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def pynerd_version() -> str:
    from pynerd import __version__

    return str(__version__)


def info() -> dict[str, object]:
    """CPU, memory, kernel, Python and the git state of the tree under test."""
    mem_kb = _first("/proc/meminfo", "MemTotal")
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {
        "hostname": socket.gethostname(),
        "cpu_model": _first("/proc/cpuinfo", "model name") or platform.processor() or None,
        "nproc": os.cpu_count(),
        "memory_gib": round(int(mem_kb.split()[0]) / 2**20, 1) if mem_kb else None,
        "kernel": platform.release(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "pynerd_version": pynerd_version(),
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
    }
