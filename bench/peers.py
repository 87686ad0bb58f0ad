"""Detect which peer tools (docker, podman, ctr, nerdctl) can be compared with.

Installed is not enough: a docker CLI without a daemon fails every command, so a
peer counts only if a cheap probe that needs its backend succeeds. Unusable
peers are skipped with a note, never reported as failures.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Peer:
    """How to check a peer: `probe` must exit 0 for the peer to be usable."""

    binary: str
    probe: tuple[str, ...]
    version: tuple[str, ...] = ("--version",)


PEERS: dict[str, Peer] = {
    "docker": Peer("docker", ("info",)),
    "podman": Peer("podman", ("info",)),
    "nerdctl": Peer("nerdctl", ("info",)),
    "ctr": Peer("ctr", ("version",)),  # needs the containerd socket; --version does not
}


@dataclass(frozen=True)
class PeerStatus:
    name: str
    path: str | None
    version: str | None
    usable: bool
    note: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _run(argv: list[str]) -> tuple[int | None, str]:
    """Exit status (None on timeout or exec failure) and the first useful output line."""
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=PROBE_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, type(exc).__name__
    text = (proc.stdout if proc.returncode == 0 else proc.stderr or proc.stdout).strip()
    return proc.returncode, text.splitlines()[0] if text else ""


def probe(name: str) -> PeerStatus:
    """Find, version and probe one peer."""
    peer = PEERS.get(name)
    if peer is None:
        return PeerStatus(name, None, None, False, "unknown peer (not in bench/peers.py)")
    path = shutil.which(peer.binary)
    if path is None:
        return PeerStatus(name, None, None, False, "not installed")
    rc, version = _run([path, *peer.version])
    probe_cmd = " ".join([peer.binary, *peer.probe])
    status, first_line = _run([path, *peer.probe])
    if status != 0:
        why = "timed out" if status is None else f"exit {status}"
        note = f"installed, but `{probe_cmd}` failed ({why}): {first_line}"
        return PeerStatus(name, path, version if rc == 0 else None, False, note)
    return PeerStatus(name, path, version if rc == 0 else None, True, f"`{probe_cmd}` ok")


def probe_all(names: set[str]) -> dict[str, PeerStatus]:
    return {name: probe(name) for name in sorted(names)}
