"""Private daemons for peer benchmarks, and a guard that puts the host back as it was.

Comparing with docker or containerd means running their daemons, and those touch
the host beyond their data directories: dockerd writes /etc/docker/key.json and
/run/docker, podman /run/containers and its blob-info cache, either may flip a
forwarding sysctl. A benchmark must leave no trace, so every daemon lives under
the case's scratch directory, `HostGuard` records the few host paths they are
known to touch and restores them, and `leaks` double-checks processes, mounts,
links and firewall chains afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

# Host paths the peers are known to create: removed afterwards if they did not exist before.
CREATED_BY_PEERS = (
    "/etc/docker/key.json", "/run/docker", "/run/containers", "/run/libpod",
    "/var/lib/containers/storage", "/var/lib/containers/cache", "/var/lib/containers",
    "/run/containerd", "/var/lib/containerd", "/var/lib/docker", "/root/.docker",
)
# Directories shared with any runc user on the host (podman runs runc with its default
# --root): removed afterwards only if they did not exist before and are empty.
SHARED_DIRS = ("/run/runc",)
# Host files the peers are known to modify: restored afterwards to their old content.
MODIFIED_BY_PEERS = (
    "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/ipv6/conf/all/forwarding",
)


class HostGuard:
    """Snapshot of the peer-touched host paths; `restore()` undoes what changed since."""

    def __init__(self) -> None:
        self.absent = [p for p in CREATED_BY_PEERS if not os.path.lexists(p)]
        self.absent_shared = [p for p in SHARED_DIRS if not os.path.lexists(p)]
        self.saved: dict[str, bytes | None] = {}
        for path in MODIFIED_BY_PEERS:
            try:
                self.saved[path] = Path(path).read_bytes()
            except OSError:
                self.saved[path] = None

    def restore(self) -> list[str]:
        """Undo changes; returns what was done, for the record."""
        done = []
        for path, content in self.saved.items():
            try:
                now = Path(path).read_bytes()
            except OSError:
                now = None
            if now == content:
                continue
            if content is None:
                Path(path).unlink(missing_ok=True)
                done.append(f"removed {path}")
            else:
                Path(path).write_bytes(content)
                done.append(f"restored {path}")
        for path in self.absent:  # children before parents: the tuple lists them so
            if os.path.lexists(path):
                remove_tree(Path(path))
                done.append(f"removed {path}")
        for path in self.absent_shared:
            with contextlib.suppress(OSError):  # absent, or in use by someone: leave it
                os.rmdir(path)
                done.append(f"removed {path}")
        return done


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, deepest first (the order to unmount them in)."""
    root = str(path.resolve())
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        for esc, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
            point = point.replace(esc, char)
        if point == root or point.startswith(root + "/"):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_under(path: Path) -> None:
    """Unmount everything below `path`; lazily if a mount is still busy."""
    for point in mounts_under(path):
        if subprocess.run(["umount", point], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def remove_tree(path: Path) -> None:
    """rm -rf that never descends into (and deletes the content of) a mounted filesystem."""
    if not os.path.lexists(path):
        return
    unmount_under(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def processes_under(path: Path) -> list[int]:
    """Pids whose command line mentions `path`: the daemons (and their children) we started.

    Our scratch paths are unique per run, so this matches exactly our processes,
    unlike a match on a program name.
    """
    needle = str(path).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def kill_pids(pids: list[int], grace_s: float = 10.0) -> None:
    """SIGTERM, wait up to `grace_s`, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace_s
        while pids and time.monotonic() < deadline:
            pids = [p for p in pids if Path(f"/proc/{p}").exists() and not _zombie(p)]
            time.sleep(0.05)
        if not pids:
            return


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


class Daemon:
    """A daemon process started by the benchmark, its output in a log file."""

    def __init__(self, name: str, argv: list[str], log: Path,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.log, self.env = name, argv, log, env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: Callable[[], bool], timeout_s: float = 30.0) -> None:
        """Start and poll `ready()` until it holds; raise with the log's tail otherwise."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if ready():
                return
            time.sleep(0.1)
        tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready: {' | '.join(tail)}")

    def stop(self, grace_s: float = 20.0) -> None:
        """SIGTERM (a clean stop unmounts and stops its children), then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def run_quiet(argv: list[str], timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run a helper command (not timed), capturing its output."""
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout_s, check=False)


def links() -> set[str]:
    """Names of the network interfaces, to spot a bridge a daemon created."""
    return {p.name for p in Path("/sys/class/net").iterdir()}


def firewall() -> str:
    """The iptables rules (both tables a daemon would use), to spot chains it added."""
    out = []
    for argv in (["iptables", "-S"], ["iptables", "-t", "nat", "-S"]):
        if shutil.which(argv[0]):
            out.append(run_quiet(argv, 10).stdout)
    return "".join(out)


def contained_processes_under(path: Path) -> list[int]:
    """Pids in another mount namespace whose mounts mention `path`: our containers.

    A container's process (`sleep 300`) does not mention our scratch path on its
    command line, and its /proc/PID/root reads "/", but its mount table holds the
    rootfs (overlay upper/lower dirs, bind sources) we made below `path`.
    """
    needle = str(path.resolve()).encode()
    ours = os.readlink("/proc/self/ns/mnt")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "ns" / "mnt") == ours:
                continue
            if needle in (entry / "mountinfo").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroups(top: tuple[str, ...]) -> set[Path]:
    """Cgroup directories named `top` (first level, any hierarchy) and everything below.

    Only the parents the benchmarked tools use are looked at: other cgroups on the
    host are none of our business, even new ones.
    """
    found: set[Path] = set()
    for hierarchy in CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else ():
        for name in top:
            for parent, dirs, _ in os.walk(hierarchy / name):
                found.add(Path(parent))
                found.update(Path(parent) / d for d in dirs)
    return found


def remove_cgroups(paths: set[Path], ours: set[int]) -> list[str]:
    """rmdir (deepest first) the cgroups a run created; returns those our processes hold.

    The parents are shared with anyone on the host (`/pynerd/default/<id>` of someone
    else's test, `/docker/<id>` of another dockerd): a busy cgroup counts as our leak
    only if a process in it is one of `ours`; other busy ones are left alone.
    """
    leaked = []
    for path in sorted(paths, key=lambda p: len(p.parts), reverse=True):
        try:
            path.rmdir()
        except FileNotFoundError:
            continue
        except OSError as exc:
            try:
                pids = {int(x) for x in (path / "cgroup.procs").read_text().split()}
            except OSError:
                pids = set()
            if pids & ours:
                leaked.append(f"cgroup {path} ({exc.strerror}; our pids {sorted(pids & ours)})")
    return leaked


def netns() -> set[str]:
    """Named network namespaces (`ip netns` style bind mounts)."""
    found: set[str] = set()
    for base in ("/run/netns", "/var/run/netns"):
        with contextlib.suppress(OSError):
            found.update(os.path.join(base, n) for n in os.listdir(base))
    return found


def leaks(work: Path, links_before: set[str], firewall_before: str) -> list[str]:
    """What our daemons left behind: processes, mounts, interfaces, firewall rules."""
    found = [f"process {pid} still running" for pid in processes_under(work)]
    found += [f"container process {pid} still running (its mounts are below {work})"
              for pid in contained_processes_under(work)]
    found += [f"mount {point} still mounted" for point in mounts_under(work)]
    found += [f"network interface {name} appeared" for name in sorted(links() - links_before)]
    if firewall() != firewall_before:
        found.append("iptables rules changed")
    return found


class NetGuard:
    """Network state a bridge benchmark changes: interfaces and iptables; undone at the end.

    The peers' bridge modes add host-wide state that outlives their containers by design
    (docker0 and the DOCKER chains with FORWARD's policy set to DROP, podman's netavark
    chains, pynerd's bridges and chains, the portmap plugin's chains). The guard
    snapshots the interfaces and the filter and nat tables before, and afterwards
    deletes the interfaces that appeared and restores both tables from the snapshot.
    Run benchmarks on a quiet machine: a rule someone else adds meanwhile is undone too.
    """

    TABLES = ("filter", "nat")

    def __init__(self) -> None:
        self.links = links()
        self.tables = {t: run_quiet(["iptables-save", "-t", t], 10).stdout for t in self.TABLES}

    def restore(self) -> list[str]:
        done = []
        for name in sorted(links() - self.links):
            if run_quiet(["ip", "link", "del", name], 10).returncode == 0:
                done.append(f"deleted interface {name}")
        for table, saved in self.tables.items():
            now = run_quiet(["iptables-save", "-t", table], 10).stdout
            if _rules(now) != _rules(saved):
                subprocess.run(["iptables-restore", "-T", table], input=saved, text=True,
                               check=True, capture_output=True, timeout=30)
                done.append(f"restored iptables table {table}")
        return done


def _rules(save: str) -> list[str]:
    """iptables-save output without comments and counters, for comparison."""
    out = []
    for line in save.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith(":"):
            line = line.rsplit(" ", 1)[0]  # drop "[packets:bytes]"
        out.append(line)
    return out
