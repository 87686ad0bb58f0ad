"""Host-state snapshots to catch what a pynerd test run leaves behind.

A container engine that forgets a mount, a netns, a veth, an iptables rule or a monitor
process breaks the *next* run, often far from the culprit, so the session compares
``snapshot()`` at start and end and reports anything new via ``diff()``.

Only resources that plausibly belong to pynerd are looked at (names/paths/cmdlines that
mention pynerd, runc, CNI, veth, or the session's temp base) so unrelated host churn does
not fail the run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

MOUNT_MARKERS = ("pynerd",)
LINK_PREFIXES = ("pn", "pynerd", "veth", "cni")
IPTABLES_MARKERS = re.compile(r"cni|pynerd", re.IGNORECASE)
PROC_MARKERS = re.compile(r"runc|pynerd")
# Env var the plugin sets to a per-session value; processes carrying another session's
# value belong to a concurrent test run and are not ours to report.
SESSION_ENV = "PYNERD_RIG_SESSION"


@dataclass(frozen=True)
class HostState:
    """What ``snapshot`` saw; every field is a set of human-readable descriptions."""

    mounts: frozenset[str] = field(default_factory=frozenset)
    netns: frozenset[str] = field(default_factory=frozenset)
    links: frozenset[str] = field(default_factory=frozenset)
    iptables: frozenset[str] = field(default_factory=frozenset)
    # (pid, starttime) -> cmdline; starttime guards against pid reuse.
    procs: dict[tuple[int, int], str] = field(default_factory=dict)


def _unescape(s: str) -> str:
    """Undo /proc/self/mountinfo octal escapes (``\\040`` for space etc.)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def _mounts(markers: tuple[str, ...]) -> frozenset[str]:
    out = set()
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) < 5 or len(rfields) < 2:
            continue
        point, root = _unescape(fields[4]), _unescape(fields[3])
        fstype, source = rfields[0], _unescape(rfields[1])
        options = rfields[2] if len(rfields) > 2 else ""
        text = " ".join((point, root, source, options))
        if any(m in text for m in markers):
            out.add(f"mount {point} ({fstype} from {source})")
    return frozenset(out)


def _netns() -> frozenset[str]:
    names: set[str] = set()
    for base in ("/run/netns", "/var/run/netns"):
        with contextlib.suppress(OSError):
            names.update(os.listdir(base))
    return frozenset(f"netns {n}" for n in names)


def _links() -> frozenset[str]:
    out = set()
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return frozenset()
    for name in names:
        is_bridge = os.path.isdir(f"/sys/class/net/{name}/bridge")
        if is_bridge or name.startswith(LINK_PREFIXES):
            out.add(f"link {name}" + (" (bridge)" if is_bridge else ""))
    return frozenset(out)


def _iptables() -> frozenset[str]:
    """CNI/pynerd lines of iptables-save and ip6tables-save; empty if unavailable."""
    out = set()
    for tool in ("iptables-save", "ip6tables-save"):
        exe = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin")
        if not exe:
            continue
        try:
            res = subprocess.run([exe], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        table = "?"
        for line in res.stdout.splitlines():
            if line.startswith("*"):
                table = line[1:]
            elif not line.startswith("#") and IPTABLES_MARKERS.search(line):
                line = re.sub(r"\[\d+:\d+\]", "", line).strip()  # drop packet counters
                out.add(f"{tool[:-5]} -t {table} {line}")
    return frozenset(out)


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, starttime) from /proc/PID/stat, None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2 :].split()  # comm may contain spaces and parens
    return int(rest[1]), int(rest[19])


def _ancestors() -> set[int]:
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        st = _stat(pid)
        if st is None:
            break
        pid = st[0]
    return pids


def _session_of(pid: int) -> str | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    prefix = SESSION_ENV.encode() + b"="
    for item in env:
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def _procs() -> dict[tuple[int, int], str]:
    out: dict[tuple[int, int], str] = {}
    skip = _ancestors()
    mine = os.environ.get(SESSION_ENV)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in skip:
            continue
        pid = int(entry)
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").strip()
        except OSError:
            continue
        text = cmd.decode(errors="replace")
        if not text or not PROC_MARKERS.search(text):
            continue
        if mine is not None:
            other = _session_of(pid)
            if other is not None and other != mine:
                continue  # a concurrent test session's process
        st = _stat(pid)
        if st is not None:
            out[(pid, st[1])] = text[:300]
    return out


def snapshot(extra_markers: tuple[str, ...] = ()) -> HostState:
    """Capture leak-relevant host state.

    ``extra_markers`` (e.g. the pytest temp base) widen the mount filter beyond "pynerd".
    """
    return HostState(
        mounts=_mounts(MOUNT_MARKERS + tuple(extra_markers)),
        netns=_netns(),
        links=_links(),
        iptables=_iptables(),
        procs=_procs(),
    )


def diff(before: HostState, after: HostState) -> list[str]:
    """Descriptions of everything present in ``after`` but not in ``before``."""
    new: list[str] = []
    for name in ("mounts", "netns", "links", "iptables"):
        old_set: frozenset[str] = getattr(before, name)
        new_set: frozenset[str] = getattr(after, name)
        new.extend(sorted(new_set - old_set))
    for key in sorted(after.procs.keys() - before.procs.keys()):
        new.append(f"process {key[0]}: {after.procs[key]}")
    return new
