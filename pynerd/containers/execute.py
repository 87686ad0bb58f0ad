"""``exec`` and ``logs``: a new process in a running container, and its output history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pynerd.config import Config
from pynerd.containers.control import find
from pynerd.containers.layout import paths
from pynerd.errors import Conflict


def exec_in(cfg: Config, ref: str, opts: Any, detach: bool = False) -> int:
    """Run ``opts.cmd`` in the container; returns its exit code (0 when detached).

    Without -d, runc stays in the foreground with the caller's stdio: with -t it
    allocates the pty itself and relays the caller's terminal, so there is no
    relay process of ours in between.
    """
    import subprocess

    from pynerd.containers.runtime import runc_for
    from pynerd.containers.spec_process import exec_process
    from pynerd.runtime.runc import exec_error

    record = find(cfg, ref)
    status = record["State"]["Status"]
    if status == "paused":
        raise Conflict(f"container {record['Id']} is paused, unpause the container before exec")
    if status != "running":
        raise Conflict(f"container {record['Id']} is not running")
    p = paths(cfg, record["Id"])
    spec = json.loads(p.spec.read_text())
    group_add = tuple(record.get("HostConfig", {}).get("GroupAdd") or ())
    if group_add and not getattr(opts, "group_add", ()):
        from pynerd.structs import replace

        opts = replace(opts, group_add=group_add)
    process = exec_process(opts, spec, p.rootfs)
    runc = runc_for(cfg)
    if detach:
        runc.exec(
            record["Id"],
            process,
            tty=False,
            detach=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return 0
    proc = runc.exec(
        record["Id"],
        process,
        tty=opts.tty,
        stdin=0 if (opts.interactive or opts.tty) else subprocess.DEVNULL,
        stdout=1,
        stderr=2,
    )
    code = int(proc.wait())
    error = exec_error(proc)
    if error is not None:
        raise error
    return code


@dataclass(frozen=True)
class LogsOptions:
    follow: bool = False
    since: str | None = None
    until: str | None = None
    tail: str = "all"
    timestamps: bool = False


def logs(cfg: Config, ref: str, opts: LogsOptions) -> Iterator[tuple[str, bytes]]:
    """(stream, bytes) of the container's json-file log, as ``docker logs`` shows it."""
    from pynerd.containers.control import RUNNING
    from pynerd.containers.logs import parse_since, read_logs
    from pynerd.errors import InvalidArgument

    record = find(cfg, ref)
    tail: int | None = None
    if opts.tail not in ("all", ""):
        try:
            tail = int(opts.tail)
        except ValueError:
            raise InvalidArgument(f"invalid value for --tail: {opts.tail!r}") from None
    cid = record["Id"]

    def running() -> bool:
        from pynerd.containers.store import ContainerStore

        current = ContainerStore(cfg.namespace_root).records.get(cid)
        return bool(current) and current["State"]["Status"] in RUNNING  # type: ignore[index]

    return read_logs(
        paths(cfg, cid).log,
        follow=opts.follow,
        since=parse_since(opts.since) if opts.since else None,
        until=parse_since(opts.until) if opts.until else None,
        tail=tail,
        timestamps=opts.timestamps,
        is_running=running,
    )


def attach_to(cfg: Config, ref: str, stdin: bool, detach_keys: str | None, sig_proxy: bool) -> int:
    """``attach``: live output of a running container (and stdin); its exit code at the end."""
    from pynerd.containers.monitor import DETACHED, attach

    record = find(cfg, ref)
    if record["State"]["Status"] != "running":
        raise Conflict("You cannot attach to a stopped container, start it first")
    c = record["Config"]
    code = attach(
        str(paths(cfg, record["Id"]).run_dir),
        0 if stdin and c.get("OpenStdin") else None,
        1,
        2,
        tty=bool(c.get("Tty")),
        detach_keys=detach_keys,
        sig_proxy=sig_proxy,
    )
    return 0 if code == DETACHED else code
