"""Starting containers: ``start``, ``run``, ``restart``; the monitor does the rest.

``run`` = ``create`` + ``start``. A detached start hands the container to its own
monitor process (:mod:`pynerd.containers.monitor`) and returns once it runs; a
foreground start without a tty runs the monitor loop inside the CLI process,
which is what makes ``run --rm`` fast (no extra interpreter). See
docs/architecture.md for why.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pynerd.config import Config
from pynerd.containers import state
from pynerd.containers.control import (
    RUNNING,
    for_each,
    kill_and_wait,
    refresh,
    stop,
)
from pynerd.containers.layout import paths
from pynerd.containers.options import CreateOptions
from pynerd.errors import PynerdError
from pynerd.images.events import ProgressFn
from pynerd.structs import frozen_record

__all__ = [
    "RunResult",
    "kill_and_wait",
    "monitor_config",
    "refresh",
    "restart",
    "run",
    "start",
    "start_many",
]

Record = dict[str, Any]


@frozen_record
class RunResult:
    container_id: str
    exit_code: int  # the container's, or 0 when detached


def cleanup_argv(cfg: Config, cid: str) -> list[str]:
    """The command a monitor runs to remove an ``--rm`` container after it exited."""
    return [
        sys.executable,
        "-m",
        "pynerd.containers.cleanup",
        "--data-root",
        str(cfg.data_root),
        "--run-root",
        str(cfg.run_root),
        "--namespace",
        cfg.namespace,
        "--snapshotter",
        cfg.snapshotter,
        cid,
    ]


def _console_size() -> list[int]:
    try:
        size = os.get_terminal_size(sys.stdin.fileno())
        return [size.lines, size.columns]
    except OSError:
        return [24, 80]


def monitor_config(cfg: Config, record: Record) -> dict[str, Any]:
    from pynerd.containers.runtime import runc_for

    cid = record["Id"]
    p = paths(cfg, cid)
    c, hc = record["Config"], record["HostConfig"]
    return {
        "id": cid,
        "bundle": str(p.bundle),
        "runc": runc_for(cfg).path(),
        "runc_root": str(p.runc_root),
        "run_dir": str(p.run_dir),
        "namespace_root": str(cfg.namespace_root),
        "log_path": str(p.log),
        "tty": bool(c.get("Tty")),
        "stdin": bool(c.get("OpenStdin")),
        "stdin_once": bool(c.get("StdinOnce")),
        "restart": hc.get("RestartPolicy") or "no",
        "healthcheck": c.get("Healthcheck"),
        "auto_remove": bool(hc.get("AutoRemove")),
        "on_exit_remove": cleanup_argv(cfg, cid),
        "attach_first": False,
        "console_size": _console_size() if c.get("Tty") else [24, 80],
        "network": _network_release(cfg, record),
    }


def _network_release(cfg: Config, record: Record) -> dict[str, Any] | None:
    """What the monitor needs to release the sandbox after the last exit (CNI modes)."""
    generation = (record.get("Pynerd") or {}).get("NetGeneration")
    if not generation:
        return None
    return {
        "data_root": str(cfg.data_root),
        "run_root": str(cfg.run_root),
        "namespace": cfg.namespace,
        "cni_path": list(cfg.cni_path),
        "cni_netconfpath": str(cfg.cni_netconfpath),
        "generation": generation,
    }


def _prepare_start(cfg: Config, record: Record) -> Record:
    """Make a created or exited container startable again; the record, networked."""
    from pynerd.containers.runtime import runc_for
    from pynerd.snapshots import get_snapshotter
    from pynerd.snapshots.mount import is_mounted, mount_all

    cid = record["Id"]
    p = paths(cfg, cid)
    runc_for(cfg).delete(cid, force=True)  # a previous run's state, if any
    if not is_mounted(p.rootfs):  # e.g. after a reboot
        snap = get_snapshotter(cfg.snapshotter, cfg.data_root / "snapshots" / cfg.snapshotter)
        mount_all(snap.mounts(cid), p.rootfs)
    state.set_private(cfg.namespace_root, cid, StopRequested=False)
    from pynerd.containers.network import up

    return up(cfg, record)


def start(cfg: Config, record: Record) -> Record:
    """Start in the background (``start`` without -a); a running container is left alone."""
    from pynerd.containers.monitor import start_detached

    record = refresh(cfg, record)
    if record["State"]["Status"] in RUNNING:
        return record
    record = _prepare_start(cfg, record)
    try:
        start_detached(monitor_config(cfg, record))  # type: ignore[arg-type]
    except BaseException:
        _network_down(cfg, record)
        raise
    return record


def start_many(cfg: Config, refs: list[str]) -> Any:
    return for_each(cfg, refs, lambda r: start(cfg, r))


def start_attached(cfg: Config, record: Record, stdin: bool) -> int:
    """``start -a [-i]``: run attached to the caller's stdio; returns the exit code."""
    from pynerd.containers.monitor import run_foreground

    record = _prepare_start(cfg, record)
    c = record["Config"]
    try:
        code = run_foreground(
            monitor_config(cfg, record),  # type: ignore[arg-type]
            0 if stdin else None,
            1,
            2,
            tty=bool(c.get("Tty")),
        )
    except BaseException:
        _network_down(cfg, record)
        raise
    from pynerd.containers.monitor import DETACHED

    if code != DETACHED:
        _network_down(cfg, record)
    return code


def _after_exit(cfg: Config, record: Record) -> None:
    """A foreground run's deferred teardown without ``--rm``: runc's state, the sandbox."""
    from pynerd.containers.runtime import runc_for

    runc = runc_for(cfg)
    if runc.root is None or (runc.root / record["Id"]).exists():
        runc.delete(record["Id"], force=True)
    _network_down(cfg, record)


def _remove_later(cfg: Config, record: Record) -> None:
    """``--rm`` after a foreground run: what others could trip over now, the rest deferred.

    See :mod:`pynerd.state.pending`: the name and the published ports are free and
    the record says ``removing`` before ``run`` returns; a forked child removes the rest.
    """
    from pynerd.containers.remove import destroy, release_name
    from pynerd.containers.store import ContainerStore
    from pynerd.state.pending import defer

    cid = record["Id"]
    release_name(ContainerStore(cfg.namespace_root), record)

    def removing(r: Record) -> None:
        r["State"]["Status"] = "removing"

    record = state.update(cfg.namespace_root, cid, removing, durable=False)
    if (record.get("Pynerd") or {}).get("Sandbox"):
        from pynerd.network.sandbox import free_ports

        free_ports(cfg, cid)
    defer(cfg.namespace_root, lambda: destroy(cfg, record, True))


def _network_down(cfg: Config, record: Record) -> None:
    from pynerd.containers.network import down, uses_cni

    if uses_cni(record):
        down(cfg, record["Id"], (record.get("Pynerd") or {}).get("NetGeneration"))


def run(cfg: Config, opts: CreateOptions, progress: ProgressFn | None = None) -> RunResult:
    """``run``: create, start, and (without -d) stream and wait; returns the exit code."""
    from pynerd.containers import network
    from pynerd.containers.create import create
    from pynerd.containers.monitor import DETACHED, run_foreground, start_detached
    from pynerd.containers.remove import destroy
    from pynerd.containers.store import ContainerStore

    early = _EarlySandbox(cfg)
    try:
        cid = create(cfg, opts, progress, on_sandbox=early.start)
    except BaseException:
        early.abandon()
        raise
    store = ContainerStore(cfg.namespace_root)
    record = store.records.get(cid)
    assert record is not None
    try:
        if network.uses_cni(record):
            record = network.record_sandbox(cfg, record, early.result())
        config = monitor_config(cfg, record)
        # a foreground run's runc state is deleted after the exit code is returned
        config["defer_delete"] = not opts.detach
        if opts.detach:
            try:
                start_detached(config)  # type: ignore[arg-type]
            except BaseException:
                _network_down(cfg, record)
                raise
            return RunResult(cid, 0)

        def remove() -> None:
            gone = store.records.get(cid)
            if gone is not None:
                _remove_later(cfg, gone)

        code = run_foreground(
            config,  # type: ignore[arg-type]
            0 if opts.interactive else None,
            1,
            2,
            tty=opts.tty,
            sig_proxy=opts.sig_proxy,
            detach_keys=opts.detach_keys,
            remove=remove if opts.rm else None,
        )
        if code != DETACHED and not opts.rm:
            from pynerd.state.pending import defer

            if network.uses_cni(record):
                from pynerd.network.sandbox import free_ports

                free_ports(cfg, cid)  # a re-run may publish the same ports at once
            defer(cfg.namespace_root, lambda: _after_exit(cfg, record))
        return RunResult(cid, 0 if code == DETACHED else code)
    except PynerdError:
        if opts.rm:
            gone = store.records.get(cid)
            if gone is not None:
                destroy(cfg, gone, True)
        else:
            _network_down(cfg, record)
        raise


class _EarlySandbox:
    """``run`` attaches the network while ``create`` mounts and writes the rest.

    CNI ADD is two plugin processes (~12-15 ms, mostly on the other core), ``create``'s
    remaining work is file system calls and fsyncs: a thread started as soon as the
    sandbox request is known (:func:`pynerd.containers.create.create`'s ``on_sandbox``)
    overlaps them. The thread only runs :func:`pynerd.network.sandbox.attach`, which
    touches no file ``create`` writes; it is joined before anything forks.
    """

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.thread: Any = None
        self.sandbox: Any = None
        self.error: BaseException | None = None
        self.cid = ""

    def start(self, request: Any) -> None:
        import threading

        from pynerd.network.sandbox import attach

        self.cid = request.container_id

        def work() -> None:
            try:
                self.sandbox = attach(self.cfg, request)
            except BaseException as e:  # re-raised by result()
                self.error = e

        self.thread = threading.Thread(target=work, name="attach", daemon=True)
        self.thread.start()

    def result(self) -> Any:
        """The attached sandbox (the attach's own error if it failed)."""
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.sandbox is not None
        return self.sandbox

    def abandon(self) -> None:
        """``create`` failed: wait for the attach and undo it."""
        if self.thread is None:
            return
        self.thread.join()
        if self.sandbox is not None:
            from pynerd.network.sandbox import release

            release(self.cfg, self.cid)


def restart(cfg: Config, record: Record, timeout: int | None = None) -> None:
    record = stop(cfg, record, timeout)
    start(cfg, record)
