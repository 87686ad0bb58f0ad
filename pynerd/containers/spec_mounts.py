"""The spec's mounts and path restrictions, with Docker's defaults and ordering rules.

Order, as moby's WithMounts builds it: the default mounts (/proc, /dev, /dev/pts, /sys,
/sys/fs/cgroup, /dev/mqueue, /dev/shm) minus those a user mount replaces, the init binary,
then the user's mounts together with /etc/hostname, /etc/hosts and /etc/resolv.conf, sorted
by depth so that a parent is mounted before its children.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pynerd.containers.options import ResolvedMount
from pynerd.errors import InvalidArgument

if TYPE_CHECKING:
    from pynerd.containers.spec import ContainerFiles

INIT_PATH_IN_CONTAINER = "/sbin/docker-init"

MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_KEEP_WRITABLE = ("/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev")


def masked_paths() -> list[str]:
    """moby's list plus each CPU's thermal_throttle directory (side channel, moby 28)."""
    base = "/sys/devices/system/cpu"
    try:
        cpus = [e.name for e in os.scandir(base) if e.name[:3] == "cpu" and e.name[3:].isdigit()]
    except OSError:
        cpus = []
    cpus.sort(key=lambda name: int(name[3:]))
    throttles = (f"{base}/{c}/thermal_throttle" for c in cpus)
    return [*MASKED_PATHS, *(p for p in throttles if os.path.isdir(p))]


def default_mounts(shm_size: int) -> list[dict[str, Any]]:
    def m(dest: str, kind: str, source: str, *options: str) -> dict[str, Any]:
        return {"destination": dest, "type": kind, "source": source, "options": list(options)}

    return [
        m("/proc", "proc", "proc", "nosuid", "noexec", "nodev"),
        m("/dev", "tmpfs", "tmpfs", "nosuid", "strictatime", "mode=755", "size=65536k"),
        m(
            "/dev/pts",
            "devpts",
            "devpts",
            *("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"),
        ),
        m("/sys", "sysfs", "sysfs", "nosuid", "noexec", "nodev", "ro"),
        m("/sys/fs/cgroup", "cgroup", "cgroup", "ro", "nosuid", "noexec", "nodev"),
        m("/dev/mqueue", "mqueue", "mqueue", "nosuid", "noexec", "nodev"),
        m("/dev/shm", "tmpfs", "shm", "nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"),
    ]


# mount(8) flags -> collision key (same key: the later option wins); propagation shares one
_FLAG_KEYS = {
    **dict.fromkeys(("ro", "rw"), "rdonly"),
    **dict.fromkeys(("suid", "nosuid"), "nosuid"),
    **dict.fromkeys(("dev", "nodev"), "nodev"),
    **dict.fromkeys(("exec", "noexec"), "noexec"),
    **dict.fromkeys(("sync", "async"), "sync"),
    "dirsync": "dirsync",
    "remount": "remount",
    **dict.fromkeys(("mand", "nomand"), "mand"),
    **dict.fromkeys(("atime", "noatime"), "noatime"),
    **dict.fromkeys(("diratime", "nodiratime"), "nodiratime"),
    "bind": "bind",
    "rbind": "rbind",
    **dict.fromkeys(("relatime", "norelatime"), "relatime"),
    **dict.fromkeys(("strictatime", "nostrictatime"), "strictatime"),
    **dict.fromkeys((*PROPAGATIONS, "unbindable", "runbindable"), "propagation"),
}
_TMPFS_DATA = ("size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol")


def merge_tmpfs_options(options: Sequence[str]) -> list[str]:
    """moby's MergeTmpfsOptions: drop duplicates, a later option overriding an earlier one."""
    seen: set[str] = set()
    out: list[str] = []
    for option in reversed(options):
        if option == "defaults":
            continue
        key = _FLAG_KEYS.get(option)
        if key is None:
            name, sep, _ = option.partition("=")
            if not sep or name not in _TMPFS_DATA:
                raise InvalidArgument(f'invalid tmpfs option ["{option}"]')
            key = "data:" + name
        if key not in seen:
            seen.add(key)
            out.insert(0, option)
    return out


def user_mount(m: ResolvedMount) -> dict[str, Any]:
    """A ResolvedMount as an OCI mount; bind and volume mounts default to rbind+rprivate."""
    options = list(m.options)
    if m.type == "tmpfs":
        if not m.rw and "ro" not in options:
            options.append("ro")
        merged = merge_tmpfs_options(["noexec", "nosuid", "nodev", "rprivate", *options])
        return {"destination": m.destination, "type": "tmpfs", "source": "tmpfs", "options": merged}
    if "bind" not in options and "rbind" not in options:
        options.insert(0, "rbind")
    if not m.rw and "ro" not in options:
        options.append("ro")
    if m.propagation and not any(o in PROPAGATIONS for o in options):
        options.append(m.propagation)
    return {"destination": m.destination, "type": "bind", "source": m.source, "options": options}


def _depth(dest: str) -> int:
    return os.path.normpath(dest).count("/")


def file_mounts(files: ContainerFiles, read_only: bool) -> list[dict[str, Any]]:
    """/etc/resolv.conf, /etc/hostname, /etc/hosts: writable unless --read-only (Docker)."""
    out = []
    for dest, src in (
        ("/etc/resolv.conf", files.resolv_conf),
        ("/etc/hostname", files.hostname),
        ("/etc/hosts", files.hosts),
    ):
        if not os.path.exists(src):
            continue  # Docker skips a network file it cannot stat
        options = ["rbind", "ro", "rprivate"] if read_only else ["rbind", "rprivate"]
        out.append({"destination": dest, "type": "bind", "source": str(src), "options": options})
    return out


def build_mounts(
    mounts: Iterable[ResolvedMount],
    files: ContainerFiles,
    *,
    shm_size: int,
    read_only: bool,
    privileged: bool,
    init_path: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """(``mounts``, ``linux.rootfsPropagation`` or None) as moby's WithMounts builds them."""
    users = [user_mount(m) for m in mounts]
    user_dests = {u["destination"] for u in users}
    users += [f for f in file_mounts(files, read_only) if f["destination"] not in user_dests]
    users.sort(key=lambda u: _depth(u["destination"]))  # stable: same depth keeps its order
    user_dests = {u["destination"] for u in users}

    out = []
    for d in default_mounts(shm_size):
        dest = d["destination"]
        if dest in user_dests or ("/dev" in user_dests and dest.startswith("/dev/")):
            continue
        out.append(d)
    if init_path and INIT_PATH_IN_CONTAINER not in user_dests:
        out.append(
            {
                "destination": INIT_PATH_IN_CONTAINER,
                "type": "bind",
                "source": init_path,
                "options": ["bind", "ro"],
            }
        )
    out += users

    if read_only:
        for m in out:
            dest = m["destination"]
            if dest in _KEEP_WRITABLE or dest in user_dests or "ro" in m["options"]:
                continue
            m["options"].append("ro")
    if privileged:
        for m in out:
            if m["destination"] == "/sys" or m["type"] == "cgroup":
                m["options"] = [o for o in m["options"] if o != "ro"]
    return out, _rootfs_propagation(users)


def _rootfs_propagation(users: list[dict[str, Any]]) -> str | None:
    """A shared (slave) bind needs a shared (slave) rootfs, as moby sets it."""
    result: str | None = None
    for m in users:
        if m["type"] != "bind":
            continue
        opts = set(m["options"])
        if opts & {"shared", "rshared"}:
            result = "shared"
        elif opts & {"slave", "rslave"} and result is None:
            result = "rslave"
    return result
