"""runc, driven as a subprocess through a swappable :class:`pynerd.procs.Runner`."""

from __future__ import annotations

from dataclasses import dataclass

from pynerd.errors import Unavailable
from pynerd.procs import Runner, SubprocessRunner, find_executable


@dataclass(frozen=True)
class RuncVersion:
    version: str
    commit: str
    spec: str
    path: str


class Runc:
    def __init__(self, binary: str = "runc", runner: Runner | None = None) -> None:
        self.binary = binary
        self.runner: Runner = runner or SubprocessRunner()

    def path(self) -> str:
        found = find_executable(self.binary) if "/" not in self.binary else self.binary
        if not found:
            raise Unavailable(f"OCI runtime {self.binary!r} not found in $PATH (install runc)")
        return found

    def version(self) -> RuncVersion:
        path = self.path()
        out = self.runner.run([path, "--version"], timeout=10)
        if out.returncode != 0:
            raise Unavailable(f"{path} --version failed: {out.stderr.decode(errors='replace')}")
        return parse_version(out.stdout.decode(errors="replace"), path)


def parse_version(text: str, path: str = "runc") -> RuncVersion:
    """Parse ``runc --version``: 'runc version 1.1.5', 'commit: …', 'spec: 1.0.2-dev'."""
    version = commit = spec = ""
    for line in text.splitlines():
        if line.startswith("runc version "):
            version = line.split(" ", 2)[2].strip()
        elif line.startswith("commit:"):
            commit = line.split(":", 1)[1].strip()
        elif line.startswith("spec:"):
            spec = line.split(":", 1)[1].strip()
    return RuncVersion(version or "unknown", commit, spec, path)
