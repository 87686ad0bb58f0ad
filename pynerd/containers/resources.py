"""``linux.resources`` and devices: memory, CPU, pids and the device cgroup, as Docker sets them.

Validation and wording follow dockerd's verifyPlatformContainerResources; flag values are
parsed here (the CLI keeps them as typed) and their errors worded as docker/cli's flag errors.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any, TypeVar

from pynerd.containers.options import CreateOptions
from pynerd.containers.units import (
    DeviceMapping,
    parse_cpus,
    parse_device,
    parse_memory_swap,
    parse_size,
)
from pynerd.errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024  # dockerd's linuxMinMemory
CPU_PERIOD = 100_000  # µs; docker sets quota against a 100ms period for --cpus
MIN_SHARES, MAX_SHARES = 2, 262144
DEFAULT_SHM_SIZE = 64 * 1024 * 1024

T = TypeVar("T")


def flag_value(flag: str, value: str, parse: Callable[[str], T]) -> T:
    """Parse ``value``, wording a failure as docker/cli's flag error."""
    try:
        return parse(value)
    except InvalidArgument as e:
        raise InvalidArgument(
            f'invalid argument "{value}" for "{flag}" flag: {e.message}'
        ) from None


# -- host facts (module functions, so tests can replace them) -----------------------------


def cgroup2() -> bool:
    """Unified hierarchy only (a hybrid host's /sys/fs/cgroup/unified does not count)."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def nproc() -> int:
    """CPUs this process may run on (Go's runtime.NumCPU, which Docker uses)."""
    try:
        return len(os.sched_getaffinity(0))
    except OSError:
        return os.cpu_count() or 1


def available_cpus() -> str:
    """The host's cpuset, as Docker's sysinfo reads it."""
    for path in (
        "/sys/fs/cgroup/cpuset.cpus.effective",
        "/sys/fs/cgroup/cpuset/cpuset.cpus",
        "/sys/devices/system/cpu/online",
    ):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text:
            return text
    return f"0-{nproc() - 1}"


def swap_limit_supported() -> bool:
    """Whether the memory cgroup accounts swap (else Docker limits memory without swap)."""
    if not cgroup2():
        return os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    try:
        with open("/proc/self/cgroup") as f:
            own = next((ln[3:].strip() for ln in f if ln.startswith("0::")), "/")
    except OSError:
        own = "/"
    base = "/sys/fs/cgroup" + own.rstrip("/")
    if os.path.exists(base + "/memory.swap.max"):
        return True
    try:
        return any(
            os.path.exists(e.path + "/memory.swap.max") for e in os.scandir(base) if e.is_dir()
        )
    except OSError:
        return False


# -- memory, cpu, pids --------------------------------------------------------------------


def parse_uint_list(text: str) -> set[int]:
    """``0-2,4`` → {0, 1, 2, 4} (moby's parsers.ParseUintList)."""
    if not text:
        raise InvalidArgument("empty string")
    out: set[int] = set()
    for part in text.split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise InvalidArgument(f"invalid format: {text}")
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a:
            raise InvalidArgument(f"invalid format: {text}")
        out.update(range(a, b + 1))
    return out


def memory_resources(opts: CreateOptions) -> dict[str, int]:
    mem = flag_value("-m, --memory", opts.memory, parse_size) if opts.memory else 0
    swap = (
        flag_value("--memory-swap", opts.memory_swap, parse_memory_swap) if opts.memory_swap else 0
    )
    if mem != 0 and mem < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if mem > 0 and swap > 0 and swap < mem:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if mem == 0 and swap > 0:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if mem > 0 and swap == 0:
        swap = 2 * mem  # Docker's default: as much swap as memory
    out = {}
    if mem:
        out["limit"] = mem
    if swap and mem and swap_limit_supported():
        out["swap"] = swap  # OCI swap = memory + swap; runc converts it for cgroup v2
    return out


def cpu_resources(opts: CreateOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if opts.cpu_shares:
        if opts.cpu_shares < 0:
            raise InvalidArgument("shares: invalid argument")
        out["shares"] = min(max(opts.cpu_shares, MIN_SHARES), MAX_SHARES)
    if opts.cpus:
        nano = flag_value("--cpus", opts.cpus, parse_cpus)
        n = nproc()
        if nano < 0 or nano > n * 1_000_000_000:
            raise InvalidArgument(
                f"Range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"
            )
        if nano:
            out["quota"] = nano * CPU_PERIOD // 1_000_000_000
            out["period"] = CPU_PERIOD
    if opts.cpuset_cpus:
        try:
            wanted = parse_uint_list(opts.cpuset_cpus)
        except InvalidArgument as e:
            raise InvalidArgument(
                f"Invalid value {opts.cpuset_cpus} for cpuset cpus: {e.message}"
            ) from None
        have = available_cpus()
        if not wanted <= parse_uint_list(have):
            raise InvalidArgument(
                f"Requested CPUs are not available - requested {opts.cpuset_cpus}, "
                f"available: {have}"
            )
        out["cpus"] = opts.cpuset_cpus
    return out


def shm_size(opts: CreateOptions) -> int:
    if not opts.shm_size:
        return DEFAULT_SHM_SIZE
    size = flag_value("--shm-size", opts.shm_size, parse_size)
    if size < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    return size or DEFAULT_SHM_SIZE


# -- devices ------------------------------------------------------------------------------


def _rule(kind: str, major: int | None, minor: int | None, access: str = "rwm") -> dict[str, Any]:
    rule: dict[str, Any] = {"allow": True, "type": kind}
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    rule["access"] = access
    return rule


def default_device_rules() -> list[dict[str, Any]]:
    """moby's cgroup device list, then the rules runc appends itself (written out so the
    spec means the same to any runtime): mknod anything, the pty devices, tun."""
    return [
        {"allow": False, "access": "rwm"},
        _rule("c", 1, 5),  # /dev/zero
        _rule("c", 1, 3),  # /dev/null
        _rule("c", 1, 9),  # /dev/urandom
        _rule("c", 1, 8),  # /dev/random
        _rule("c", 5, 0),  # /dev/tty
        _rule("c", 5, 1),  # /dev/console
        {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},  # fuse
        _rule("c", None, None, "m"),
        _rule("b", None, None, "m"),
        _rule("c", 1, 7),  # /dev/full
        _rule("c", 136, None),  # /dev/pts/*
        _rule("c", 5, 2),  # /dev/ptmx
        _rule("c", 10, 200),  # /dev/net/tun
    ]


def _device_node(path: str, container_path: str) -> dict[str, Any] | None:
    """containerd's DeviceFromPath: None if ``path`` is not a device node."""
    st = os.lstat(path)
    if stat.S_ISBLK(st.st_mode):
        kind = "b"
    elif stat.S_ISCHR(st.st_mode):
        kind = "c"
    else:
        return None
    return {
        "path": container_path,
        "type": kind,
        "major": os.major(st.st_rdev),
        "minor": os.minor(st.st_rdev),
        "fileMode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
    }


def devices_from_path(dev: DeviceMapping) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One ``--device``: a node, or every node under a directory (moby DevicesFromPath)."""
    host = dev.path_on_host
    if os.path.islink(host):
        host = os.path.realpath(host)
    try:
        node = _device_node(host, dev.path_in_container)
        reason = "not a device node"
    except OSError as e:
        node, reason = None, f"lstat {host}: {(e.strerror or str(e)).lower()}"
    nodes = [node] if node else []
    if node is None and os.path.isdir(host):
        for top, _dirs, files in os.walk(host):
            for name in sorted(files):
                full = os.path.join(top, name)
                inside = dev.path_in_container + full[len(host) :]
                try:
                    child = _device_node(full, inside)
                except OSError:
                    continue
                if child:
                    nodes.append(child)
    if not nodes:
        raise InvalidArgument(
            f'error gathering device information while adding custom device "{dev.path_on_host}"'
            f": {reason}"
        )
    rules = [_rule(n["type"], n["major"], n["minor"], dev.permissions) for n in nodes]
    return nodes, rules


_SKIP_DEV_DIRS = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every device node of the host, for ``--privileged`` (containerd's HostDevices)."""
    out: list[dict[str, Any]] = []
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return out
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _SKIP_DEV_DIRS:
                out += host_devices(entry.path)
            continue
        if entry.name == "console":
            continue
        try:
            node = _device_node(entry.path, entry.path)
        except OSError:
            continue
        if node:
            out.append(node)
    return out


def devices(opts: CreateOptions) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(``linux.devices``, ``linux.resources.devices``) for the container."""
    mappings = [flag_value("--device", d, parse_device) for d in opts.devices]
    if opts.privileged:
        nodes = host_devices()
        for m in mappings:
            if m.path_on_host != m.path_in_container:
                nodes += devices_from_path(DeviceMapping(m.path_on_host, m.path_in_container))[0]
        return nodes, [{"allow": True, "access": "rwm"}]
    nodes, rules = [], default_device_rules()
    for m in mappings:
        n, r = devices_from_path(m)
        nodes += n
        rules += r
    return nodes, rules


def resources(opts: CreateOptions, device_rules: list[dict[str, Any]]) -> dict[str, Any]:
    """``linux.resources``: the device rules (from :func:`devices`), memory, cpu, pids."""
    out: dict[str, Any] = {"devices": device_rules}
    memory = memory_resources(opts)
    if memory:
        out["memory"] = memory
    cpu = cpu_resources(opts)
    if cpu:
        out["cpu"] = cpu
    if opts.pids_limit is not None:
        out["pids"] = {"limit": opts.pids_limit if opts.pids_limit > 0 else -1}
    return out
