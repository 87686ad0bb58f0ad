"""Signals and waiting: ``kill``, ``stop``, ``wait``, ``pause``/``unpause``, ``rename``.

A stop records ``Pynerd.StopRequested`` before signalling, so the monitor does
not apply the restart policy to a container the user stopped (Docker's rule).
"""

from __future__ import annotations

import contextlib
import os
import signal as _signal
import time
from typing import Any

from pynerd.config import Config
from pynerd.containers import state
from pynerd.containers.names import validate_name
from pynerd.containers.store import ContainerStore
from pynerd.errors import AlreadyExists, Conflict, InvalidArgument, PynerdError

Record = dict[str, Any]
RUNNING = ("running", "paused", "restarting")


def parse_signal(value: str | int) -> int:
    """``KILL``, ``SIGKILL``, ``kill`` or ``9`` → 9 (Docker accepts all of them)."""
    text = str(value).strip().upper()
    if text.isdigit():
        return int(text)
    name = text if text.startswith("SIG") else "SIG" + text
    try:
        return int(getattr(_signal, name))
    except AttributeError:
        raise InvalidArgument(f"Invalid signal: {value}") from None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return fields[0] != b"Z"  # a zombie has exited already
    except (OSError, IndexError):
        return False


def refresh(cfg: Config, record: Record) -> Record:
    """The record, corrected when the process it claims is running is gone.

    A container whose monitor was killed keeps running (it is its own process
    tree) and stays "running"; one whose init is gone with nobody to record its
    exit is marked exited with 255 (exit status unknown) by the monitor module's
    ``reconcile``, so ``ps`` shows the truth.
    """
    st = record.get("State", {})
    if st.get("Status") not in RUNNING or st.get("Status") == "restarting":
        return record
    if _alive(int(st.get("Pid") or 0)):
        return record
    from pynerd.containers.layout import paths
    from pynerd.containers.monitor import monitor_alive, reconcile
    from pynerd.containers.runtime import runc_for

    run_dir = str(paths(cfg, record["Id"]).run_dir)
    if monitor_alive(run_dir):
        return record  # the monitor is about to record the exit
    fixed = reconcile(str(cfg.namespace_root), run_dir, runc_for(cfg), record["Id"])
    if fixed is not None and fixed["State"]["Status"] not in RUNNING:
        from pynerd.containers.network import down, uses_cni

        if uses_cni(fixed):  # found dead: nobody else will release its network
            down(cfg, fixed["Id"], (fixed.get("Pynerd") or {}).get("NetGeneration"))
    return fixed if fixed is not None else record


def find(cfg: Config, ref: str) -> Record:
    return refresh(cfg, ContainerStore(cfg.namespace_root).find(ref))


def signal(cfg: Config, record: Record, sig: int) -> None:
    if record["State"]["Status"] not in RUNNING:
        raise Conflict(
            f"Cannot kill container: {record['Id'][:12]}: container {record['Id']} is not running"
        )
    pid = int(record["State"].get("Pid") or 0)
    if pid and _alive(pid):
        try:
            os.kill(pid, sig)  # faster than `runc kill`, same effect on the init
            return
        except ProcessLookupError:
            pass
    from pynerd.containers.runtime import runc_for

    try:
        runc_for(cfg).kill(record["Id"], sig)
    except PynerdError as e:
        # The init exited between our look and the kill: the monitor records the exit.
        if "does not exist" in e.message or "not running" in e.message:
            raise Conflict(f"Container {record['Id']} is not running") from None
        raise


def wait_exit(cfg: Config, cid: str, timeout: float | None = None) -> Record | None:
    """Poll until the record says the container stopped; None on time-out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.005
    store = ContainerStore(cfg.namespace_root)
    while True:
        record = store.records.get(cid)
        if record is None:
            return None
        record = refresh(cfg, record)
        if record["State"]["Status"] not in RUNNING:
            return record
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def kill_and_wait(cfg: Config, record: Record) -> Record:
    """SIGKILL and wait (``rm -f``); paused containers are thawed so the kill lands."""
    if record["State"]["Status"] == "paused":
        from pynerd.containers.runtime import runc_for

        runc_for(cfg).resume(record["Id"])
    state.set_private(cfg.namespace_root, record["Id"], StopRequested=True)
    with contextlib.suppress(Conflict):
        signal(cfg, record, _signal.SIGKILL)
    done = wait_exit(cfg, record["Id"], 10)
    if done is None:
        return state.mark_exited(cfg.namespace_root, record["Id"], 137)
    return done


def stop(cfg: Config, record: Record, timeout: int | None = None) -> Record:
    """StopSignal, wait ``timeout`` seconds (record's StopTimeout, default 10), then SIGKILL."""
    if record["State"]["Status"] not in RUNNING:
        return record
    state.set_private(cfg.namespace_root, record["Id"], StopRequested=True)
    if timeout is None:
        timeout = int(record.get("Config", {}).get("StopTimeout", 10))
    if record["State"]["Status"] == "paused":
        from pynerd.containers.runtime import runc_for

        runc_for(cfg).resume(record["Id"])
    sig = parse_signal(record.get("Config", {}).get("StopSignal") or "SIGTERM")
    try:
        signal(cfg, record, sig)
    except Conflict:
        return refresh(cfg, record)
    done = wait_exit(cfg, record["Id"], max(0, timeout))
    return done if done is not None else kill_and_wait(cfg, record)


class MultiResult:
    """What a multi-target command did: the targets that worked, the errors of the rest."""

    def __init__(self) -> None:
        self.ok: list[str] = []
        self.errors: list[PynerdError] = []


def for_each(cfg: Config, refs: list[str], action: Any) -> MultiResult:
    """Run ``action(record)`` on every target, collecting failures like Docker."""
    result = MultiResult()
    for ref in refs:
        try:
            action(find(cfg, ref))
            result.ok.append(ref)
        except PynerdError as e:
            result.errors.append(e)
    return result


def pause(cfg: Config, record: Record) -> None:
    from pynerd.containers.runtime import runc_for

    if record["State"]["Status"] != "running":
        raise Conflict(f"Container {record['Id']} is not running")
    runc_for(cfg).pause(record["Id"])
    state.mark_paused(cfg.namespace_root, record["Id"], True)


def unpause(cfg: Config, record: Record) -> None:
    from pynerd.containers.runtime import runc_for

    if record["State"]["Status"] != "paused":
        raise Conflict(f"Container {record['Id']} is not paused")
    runc_for(cfg).resume(record["Id"])
    state.mark_paused(cfg.namespace_root, record["Id"], False)


def rename(cfg: Config, ref: str, new_name: str) -> None:
    store = ContainerStore(cfg.namespace_root)
    record = store.find(ref)
    new = validate_name(new_name)
    old = str(record["Name"]).lstrip("/")
    if new == old:
        raise InvalidArgument("Renaming a container with the same name as its current name")
    try:
        store.names.create(new, {"Id": record["Id"]})
    except AlreadyExists:
        raise Conflict(
            f'Error when allocating new name: Conflict. The container name "/{new}" '
            f'is already in use by container "{(store.names.get(new) or {}).get("Id", "")}". '
            "You have to remove (or rename) that container to be able to reuse that "
            "name."
        ) from None

    def fn(r: Record) -> None:
        r["Name"] = "/" + new

    state.update(cfg.namespace_root, record["Id"], fn)
    store.names.delete(old)
    if (record.get("Pynerd") or {}).get("Sandbox"):
        from pynerd.network.sandbox import rename as rename_endpoint

        rename_endpoint(cfg, record["Id"], new)  # peers resolve the new name
