"""``create``: everything a container needs before its first start.

Order matters for crash safety: the name is reserved first (so two concurrent
creates cannot both win it), then the snapshot, files and spec are prepared,
and the record is written last. If anything fails, what was made is undone;
a kill -9 in between leaves a reserved name whose record is missing, which
:func:`pynerd.containers.remove.sweep_orphans` releases later.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynerd.config import Config
from pynerd.containers import etcfiles, state
from pynerd.containers.layout import ContainerPaths, paths
from pynerd.containers.names import generate_name, new_id, validate_name
from pynerd.containers.options import CreateOptions
from pynerd.containers.store import ContainerStore
from pynerd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from pynerd.images.events import ProgressFn

INIT_BINARY = "/usr/bin/tini-static"


def _image(cfg: Config, opts: CreateOptions, progress: ProgressFn | None) -> Any:
    """The image view, pulled on demand per ``--pull``."""
    from pynerd.images.view import ImageCatalog

    if opts.pull not in ("always", "missing", "never"):
        raise InvalidArgument(
            f'invalid pull option: "{opts.pull}": must be one of "always", "missing" or "never"'
        )
    catalog = ImageCatalog(cfg)
    if opts.pull == "always":
        from pynerd.images.pull import PullOptions, pull

        pull(cfg, PullOptions(opts.image, opts.platform), progress)
        return catalog.view(opts.image)
    try:
        return catalog.view(opts.image)
    except NotFound:
        if opts.pull == "never":
            raise
    if progress is not None:
        from pynerd.images.events import Progress
        from pynerd.registry.reference import parse_reference

        progress(
            Progress("", f"Unable to find image '{parse_reference(opts.image).familiar()}' locally")
        )
    from pynerd.images.pull import PullOptions, pull

    pull(cfg, PullOptions(opts.image, opts.platform), progress)
    return catalog.view(opts.image)


def _reserve_name(store: ContainerStore, name: str | None, cid: str) -> str:
    if name is not None:
        name = validate_name(name)
        try:
            store.names.create(name, {"Id": cid})
        except AlreadyExists:
            other = (store.names.get(name) or {}).get("Id", "")
            raise Conflict(
                f'Conflict. The container name "/{name}" is already in use by container '
                f'"{other}". You have to remove (or rename) that container to be able to '
                "reuse that name."
            ) from None
        return name
    for attempt in range(10):
        candidate = generate_name(attempt)
        try:
            store.names.create(candidate, {"Id": cid})
            return candidate
        except AlreadyExists:
            continue
    raise Conflict("could not generate a unique container name")


def _labels(opts: CreateOptions, image_labels: dict[str, str] | None) -> dict[str, str]:
    labels = dict(image_labels or {})
    lines: list[str] = []
    for f in opts.label_files:
        try:
            lines += [ln.strip() for ln in Path(f).read_text().splitlines()]
        except OSError as e:
            raise InvalidArgument(f"open {f}: {e.strerror}") from None
    for item in [*lines, *opts.labels]:
        if not item or item.startswith("#"):
            continue
        k, _, v = item.partition("=")
        labels[k] = v
    return labels


def create(
    cfg: Config,
    opts: CreateOptions,
    progress: ProgressFn | None = None,
    on_sandbox: Callable[[Any], None] | None = None,
) -> str:
    """Create a container; returns its 64-hex ID.

    ``on_sandbox`` (``run`` passes it) gets the container's sandbox request as soon as
    its name and /etc files exist, before the snapshot is mounted and the spec and
    record are written, so the network can be attached meanwhile (see ``lifecycle.run``).
    """
    from pynerd.containers import spec as specmod
    from pynerd.images import manifest as mf
    from pynerd.snapshots import get_snapshotter
    from pynerd.snapshots.mount import mount_all, unmount

    image = _image(cfg, opts, progress)
    image_cfg: dict[str, Any] = dict(image.config.get("config") or {})
    cid = new_id()
    exposed = [*(image_cfg.get("ExposedPorts") or {}), *opts.expose]
    net: dict[str, Any]
    if opts.network == ("none",) and not (opts.publish or opts.publish_all):
        net = {"netns": None, "mode": "none", "networks": [], "ports": [], "bindings": {},
               "settings": {}}  # fmt: skip
    else:
        from pynerd.containers.network import plan

        net = plan(cfg, opts, cid, exposed)
    netns: str | None = net["netns"]
    network_mode: str = net["mode"]
    extra_hosts = _extra_hosts(cfg, opts.add_hosts)
    net["extra_hosts"] = extra_hosts
    store = ContainerStore(cfg.namespace_root)
    name = _reserve_name(store, opts.name, cid)
    p = paths(cfg, cid)
    snap = get_snapshotter(cfg.snapshotter, cfg.data_root / "snapshots" / cfg.snapshotter)
    mounted = False
    mounts: list[Any] = []
    try:
        p.dir.mkdir(parents=True, mode=0o710)
        hostname = opts.hostname or (cid[:12] if network_mode != "host" else os.uname().nodename)
        etcfiles.write(p.hostname, hostname + "\n")
        if network_mode == "host":
            etcfiles.write(p.hosts, Path("/etc/hosts").read_text())
        else:
            etcfiles.write(p.hosts, etcfiles.hosts_content(hostname, (), extra_hosts))
        etcfiles.write(
            p.resolv_conf,
            etcfiles.resolv_content(dns=opts.dns, search=opts.dns_search, options=opts.dns_options),
        )
        if on_sandbox is not None and net["networks"]:
            from pynerd.containers.network import sandbox_request

            on_sandbox(
                sandbox_request(
                    cid, name, hostname, p.hosts, net["networks"], net["ports"], extra_hosts
                )
            )
        top = mf.chain_ids(mf.config_diff_ids(image.config))[-1]
        snap.prepare(cid, top, {"pynerd.container": cid})
        p.rootfs.mkdir()
        mount_all(snap.mounts(cid), p.rootfs)
        mounted = True
        inspect_mounts: list[dict[str, Any]] = []
        if opts.mounts or opts.volumes_from or image_cfg.get("Volumes"):
            # the volumes code is only imported when there is something to mount
            from pynerd.volumes.mounts import mounts_for_inspect, parse_volumes_from, resolve

            volumes_from = []
            for spec_text in opts.volumes_from:
                ref, mode = parse_volumes_from(spec_text)
                volumes_from.append((store.find(ref), mode))
            mounts = resolve(
                cfg.namespace_root,
                list(opts.mounts),
                image_cfg.get("Volumes"),
                volumes_from,
                p.rootfs,
            )
            inspect_mounts = mounts_for_inspect(mounts)
        files = specmod.ContainerFiles(p.hostname, p.hosts, p.resolv_conf)
        init_path = INIT_BINARY if opts.init else None
        if init_path and not os.path.exists(init_path):
            raise InvalidArgument(f"--init: {init_path} not found (apt-get install tini)")
        spec = specmod.build_spec(
            opts,
            image_cfg,
            p.rootfs,
            cid,
            hostname,
            mounts,
            files,
            netns,
            init_path=init_path,
            cgroups_path=f"/pynerd/{cfg.namespace}/{cid}",
        )
        process = spec["process"]
        _write_json(p.spec, spec)
        record = _record(
            cfg,
            opts,
            image,
            image_cfg,
            cid,
            name,
            hostname,
            p,
            process,
            inspect_mounts,
            net,
        )
        store.records.create(cid, record)
    except BaseException:
        if mounted:
            unmount(p.rootfs)
        if mounts:
            from pynerd.volumes.mounts import discard

            discard(cfg.namespace_root, mounts)
        _undo(cfg, cid, name, p)
        raise
    if opts.cidfile:
        _write_cidfile(opts.cidfile, cid)
    return cid


def _extra_hosts(cfg: Config, add_hosts: tuple[str, ...]) -> list[str]:
    """``--add-host`` with ``host-gateway`` resolved, as Docker does, to the default
    bridge network's gateway (whatever network the container is on)."""
    if not any(h.rpartition(":" if "=" not in h else "=")[2] == "host-gateway" for h in add_hosts):
        return list(add_hosts)
    from pynerd.network.networks import NetworkStore

    gateway = NetworkStore(cfg).ensure_default().ipam[0]["Gateway"]
    out = []
    for h in add_hosts:
        sep = "=" if "=" in h else ":"
        name, _, ip = h.partition(sep)
        out.append(f"{name}{sep}{gateway}" if ip == "host-gateway" else h)
    return out


def _undo(cfg: Config, cid: str, name: str, p: ContainerPaths) -> None:
    from pynerd.containers.remove import discard_files

    discard_files(cfg, cid, p)
    ContainerStore(cfg.namespace_root).names.delete(name)


def _write_json(path: Path, obj: Any) -> None:
    import json

    from pynerd.state.atomic import atomic_write

    atomic_write(path, json.dumps(obj, indent=1).encode(), mode=0o600)


def _write_cidfile(path: str, cid: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InvalidArgument(
            f"container ID file found, make sure the other container isn't running or delete {path}"
        ) from None
    with os.fdopen(fd, "w") as f:
        f.write(cid)


def _record(
    cfg: Config,
    opts: CreateOptions,
    image: Any,
    image_cfg: dict[str, Any],
    cid: str,
    name: str,
    hostname: str,
    p: ContainerPaths,
    process: dict[str, Any],
    mounts: list[dict[str, Any]],
    net: dict[str, Any],
) -> dict[str, Any]:
    """The container record, in the shape of Docker's ``inspect`` output."""
    from pynerd.containers.spec import stop_signal

    args = list(process.get("args") or [])
    if opts.init and args[:2] == ["/sbin/docker-init", "--"]:
        args = args[2:]
    ports: dict[str, Any] = {p_: {} for p_ in (image_cfg.get("ExposedPorts") or {})}
    for e in opts.expose:
        ports.setdefault(e if "/" in e else f"{e}/tcp", {})
    health = None if opts.no_healthcheck else image_cfg.get("Healthcheck")
    if opts.health_cmd is not None or opts.no_healthcheck:
        health = _healthcheck(opts, health)
    created = state.now_rfc3339()
    config: dict[str, Any] = {
        "Hostname": hostname,
        "Domainname": opts.domainname or "",
        "User": opts.user if opts.user is not None else image_cfg.get("User", ""),
        "AttachStdin": opts.interactive and not opts.detach,
        "AttachStdout": not opts.detach,
        "AttachStderr": not opts.detach,
        "ExposedPorts": ports or None,
        "Tty": opts.tty,
        "OpenStdin": opts.interactive,
        "StdinOnce": opts.interactive and not opts.detach,
        "Env": list(process.get("env") or []),
        "Cmd": list(opts.command) if opts.command else image_cfg.get("Cmd"),
        "Healthcheck": health,
        "Image": opts.image,
        "Volumes": image_cfg.get("Volumes"),
        "WorkingDir": process.get("cwd", "/") if opts.workdir else image_cfg.get("WorkingDir", ""),
        "Entrypoint": ([opts.entrypoint] if opts.entrypoint else None)
        if opts.entrypoint is not None
        else image_cfg.get("Entrypoint"),
        "OnBuild": None,
        "Labels": _labels(opts, image_cfg.get("Labels")),
        "StopSignal": stop_signal(opts, image_cfg),
    }
    if opts.stop_timeout is not None:
        config["StopTimeout"] = opts.stop_timeout
    if config["Healthcheck"] is None:
        del config["Healthcheck"]
    restart_name, _, restart_max = opts.restart.partition(":")
    if restart_name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy format: {opts.restart}")
    host_config = {
        "Binds": [f"{m['Source']}:{m['Destination']}" for m in mounts if m["Type"] == "bind"],
        "NetworkMode": net["mode"],
        "PortBindings": net["bindings"],
        "PublishAllPorts": opts.publish_all,
        "RestartPolicy": {
            "Name": restart_name,
            "MaximumRetryCount": int(restart_max) if restart_max else 0,
        },
        "AutoRemove": opts.rm,
        "VolumesFrom": list(opts.volumes_from) or None,
        "CapAdd": list(opts.cap_add) or None,
        "CapDrop": list(opts.cap_drop) or None,
        "Dns": list(opts.dns),
        "DnsOptions": list(opts.dns_options),
        "DnsSearch": list(opts.dns_search),
        "ExtraHosts": list(opts.add_hosts) or None,
        "GroupAdd": list(opts.group_add) or None,
        "Init": opts.init or None,
        "Privileged": opts.privileged,
        "ReadonlyRootfs": opts.read_only,
        "SecurityOpt": list(opts.security_opt) or None,
        "Tmpfs": None,
        "ShmSize": 67108864,
        "Runtime": "runc",
        "Memory": 0,
        "NanoCpus": 0,
        "CpuShares": opts.cpu_shares or 0,
        "CpusetCpus": opts.cpuset_cpus or "",
        "PidsLimit": opts.pids_limit,
        "Sysctls": dict(s.split("=", 1) for s in opts.sysctls) or None,
    }
    return {
        "Id": cid,
        "Created": created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": state.initial_state(),
        "Image": image.id,
        "ResolvConfPath": str(p.resolv_conf),
        "HostnamePath": str(p.hostname),
        "HostsPath": str(p.hosts),
        "LogPath": str(p.log),
        "Name": "/" + name,
        "RestartCount": 0,
        "Driver": cfg.snapshotter,
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config,
        "GraphDriver": {"Name": cfg.snapshotter, "Data": None},
        "Mounts": mounts,
        "Config": config,
        "NetworkSettings": {
            "Bridge": "",
            "SandboxID": "",
            "HairpinMode": False,
            "Ports": {},
            "SandboxKey": "",
            "Networks": net["settings"],
        },
        "Pynerd": {
            "Sandbox": bool(net["networks"]),
            "ExtraHosts": net["extra_hosts"],
            "Networks": net["networks"],
            "Ports": net["ports"],
            "Snapshotter": cfg.snapshotter,
            "SnapshotKey": cid,
            "ImageName": image.record["Name"],
        },
    }


def _healthcheck(opts: CreateOptions, base: dict[str, Any] | None) -> dict[str, Any] | None:
    from pynerd.containers.spec import parse_go_duration

    if opts.no_healthcheck:
        return {"Test": ["NONE"]}
    hc = dict(base or {})
    if opts.health_cmd is not None:
        hc["Test"] = ["CMD-SHELL", opts.health_cmd]
    for key, value in (
        ("Interval", opts.health_interval),
        ("Timeout", opts.health_timeout),
        ("StartPeriod", opts.health_start_period),
    ):
        if value is not None:
            hc[key] = int(parse_go_duration(value) * 1e9)
    if opts.health_retries is not None:
        hc["Retries"] = opts.health_retries
    return hc
