"""The OCI runtime spec (config.json) pynerd hands to runc, with Docker's defaults.

:func:`build_spec` composes the pieces: the process (:mod:`spec_process`), capabilities
(:mod:`caps`), seccomp (:mod:`seccomp`), mounts and masked paths (:mod:`spec_mounts`),
resources and devices (:mod:`resources`). Everything Docker would reject is rejected here
with Docker's wording; :func:`check_options` runs the checks that need no rootfs, so
``create`` can fail before it prepares anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pynerd.containers import resources as res
from pynerd.containers.caps import tweak_caps
from pynerd.containers.options import CreateOptions, ResolvedMount
from pynerd.containers.seccomp import SecurityOptions, parse_security_opts, seccomp_for
from pynerd.containers.spec_mounts import (
    INIT_PATH_IN_CONTAINER,
    READONLY_PATHS,
    build_mounts,
    masked_paths,
)
from pynerd.containers.spec_process import (
    ExecOptions,
    ProcessSpec,
    exec_process,
    resolve_process,
    stop_signal,
)
from pynerd.containers.units import (
    parse_cpus,
    parse_device,
    parse_go_duration,
    parse_size,
    parse_ulimit,
)
from pynerd.errors import InvalidArgument, Unavailable
from pynerd.structs import frozen_record

__all__ = [
    "ContainerFiles",
    "ExecOptions",
    "ProcessSpec",
    "build_spec",
    "check_options",
    "exec_process",
    "parse_cpus",
    "parse_device",
    "parse_go_duration",
    "parse_size",
    "parse_ulimit",
    "resolve_process",
    "stop_signal",
]

OCI_VERSION = "1.0.2"

# Namespaced sysctls Docker accepts (docker/cli opts.ValidateSysctl).
_SYSCTLS = {
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
}
_SYSCTL_PREFIXES = ("net.", "fs.mqueue.")


@frozen_record
class ContainerFiles:
    """Host files bind-mounted at /etc/hostname, /etc/hosts and /etc/resolv.conf."""

    hostname: Path
    hosts: Path
    resolv_conf: Path


def parse_sysctl(text: str) -> tuple[str, str]:
    """``net.ipv4.ip_forward=1`` → (key, value); only namespaced sysctls are allowed."""
    key, sep, value = text.partition("=")
    if sep and (key in _SYSCTLS or key.startswith(_SYSCTL_PREFIXES)):
        return key, value
    raise InvalidArgument(
        f'invalid argument "{text}" for "--sysctl" flag: sysctl \'{text}\' is not allowed'
    )


def _in_user_namespace() -> bool:
    try:
        with open("/proc/self/uid_map") as f:
            return f.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def sysctls(opts: CreateOptions, netns: str | None) -> dict[str, str]:
    """Docker's defaults for a private netns (unprivileged ping and low ports), the NIS domain
    name (Docker sets it as a sysctl: runtimes need no domainname support), then --sysctl."""
    out: dict[str, str] = {}
    if opts.domainname:
        out["kernel.domainname"] = opts.domainname
    if netns != "host":
        if not _in_user_namespace() and os.path.exists("/proc/sys/net/ipv4/ping_group_range"):
            out["net.ipv4.ping_group_range"] = "0 2147483647"
        if os.path.exists("/proc/sys/net/ipv4/ip_unprivileged_port_start"):
            out["net.ipv4.ip_unprivileged_port_start"] = "0"
    for item in opts.sysctls:
        key, value = parse_sysctl(item)
        if netns == "host" and key.startswith("net."):
            raise InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
        out[key] = value
    return out


def rlimits(opts: CreateOptions) -> list[dict[str, object]]:
    """``--ulimit``s (last one per name wins); none by default, the caller's are inherited."""
    by_name = {}
    for text in opts.ulimits:
        ul = res.flag_value("--ulimit", text, parse_ulimit)
        by_name[ul.name] = ul
    return [ul.rlimit() for ul in by_name.values()]


def find_init() -> str:
    """docker-init on PATH, else tini (Debian's tini-static)."""
    dirs = [*os.environ.get("PATH", "").split(":"), "/usr/local/bin", "/usr/bin", "/bin"]
    for name in ("docker-init", "tini-static", "tini"):
        for d in dirs:
            path = os.path.join(d or ".", name)
            if os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    raise Unavailable('exec: "docker-init": executable file not found in $PATH')


def check_options(opts: CreateOptions, netns: str | None = None) -> SecurityOptions:
    """Every check :func:`build_spec` makes that needs no rootfs and no mounts."""
    sec = parse_security_opts(opts.security_opt)
    tweak_caps(opts.cap_add, opts.cap_drop, opts.privileged)
    res.memory_resources(opts)
    res.cpu_resources(opts)
    res.shm_size(opts)
    for d in opts.devices:
        res.flag_value("--device", d, parse_device)
    rlimits(opts)
    sysctls(opts, netns)
    return sec


def _namespaces(netns: str | None) -> list[dict[str, str]]:
    out = [{"type": "mount"}]
    if netns != "host":
        out.append({"type": "network", "path": netns} if netns else {"type": "network"})
    out += [{"type": "uts"}, {"type": "pid"}, {"type": "ipc"}]
    if res.cgroup2():
        out.append({"type": "cgroup"})  # Docker's default cgroupns is private on v2 only
    return out


def _process(
    proc: ProcessSpec, args: Sequence[str], caps: list[str], opts: CreateOptions, nnp: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "terminal": proc.terminal,
        "user": {"uid": proc.uid, "gid": proc.gid, "additionalGids": proc.additional_gids},
        "args": list(args),
        "env": proc.env,
        "cwd": proc.cwd,
        "capabilities": {"bounding": caps, "effective": list(caps), "permitted": list(caps)},
        "noNewPrivileges": nnp,
        "oomScoreAdj": 0,
    }
    limits = rlimits(opts)
    if limits:
        out["rlimits"] = limits
    return out


def build_spec(
    opts: CreateOptions,
    image_config: Mapping[str, Any] | None,
    rootfs: Path,
    container_id: str,
    hostname: str,
    mounts: list[ResolvedMount],
    files: ContainerFiles,
    netns: str | None,
    init_path: str | None = None,
    cgroups_path: str | None = None,
) -> dict[str, Any]:
    """config.json for runc, as a dict. ``root.path`` is "rootfs", relative to the bundle;
    ``rootfs`` is where that directory is mounted now (users and workdir are resolved in it).

    ``netns``: a namespace path to join, "host" for none of our own, None for a new one.
    ``container_id`` is not written into the spec (Docker does not either).
    """
    sec = check_options(opts, netns)
    caps = tweak_caps(opts.cap_add, opts.cap_drop, opts.privileged)
    proc = resolve_process(opts, image_config, rootfs, hostname)
    args = proc.args
    if opts.init:
        init_path = init_path or find_init()
        args = [INIT_PATH_IN_CONTAINER, "--", *args]
    else:
        init_path = None
    nodes, device_rules = res.devices(opts)
    mount_list, propagation = build_mounts(
        mounts,
        files,
        shm_size=res.shm_size(opts),
        read_only=opts.read_only,
        privileged=opts.privileged,
        init_path=init_path,
    )
    unconfined_paths = opts.privileged or sec.systempaths_unconfined
    linux: dict[str, Any] = {
        "namespaces": _namespaces(netns),
        "maskedPaths": [] if unconfined_paths else masked_paths(),
        "readonlyPaths": [] if unconfined_paths else list(READONLY_PATHS),
        "devices": nodes,
        "resources": res.resources(opts, device_rules),
    }
    sysctl = sysctls(opts, netns)
    if sysctl:
        linux["sysctl"] = sysctl
    seccomp = seccomp_for(sec, caps, opts.privileged)
    if seccomp is not None:
        linux["seccomp"] = seccomp
    if cgroups_path:
        linux["cgroupsPath"] = cgroups_path
    if propagation:
        linux["rootfsPropagation"] = propagation
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": _process(proc, args, caps, opts, sec.no_new_privileges),
        "root": {"path": "rootfs", "readonly": opts.read_only},
        "hostname": hostname,
    }
    spec["mounts"] = mount_list
    spec["linux"] = linux
    return spec
