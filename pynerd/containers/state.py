"""Container state transitions, written to the record under the bucket lock.

Both the CLI (create, start, stop, rm) and the monitor (running, exited,
health, restarts) change ``State``; every change is a read-modify-write of the
record in the ``containers`` bucket, so concurrent writers never lose each
other's updates. Times are RFC 3339 with nanoseconds, as Docker prints them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynerd.containers.store import ContainerStore
from pynerd.errors import no_such_container

ZERO_TIME = "0001-01-01T00:00:00Z"
Record = dict[str, Any]


def now_rfc3339() -> str:
    t = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t // 1_000_000_000)) + (
        f".{t % 1_000_000_000:09d}Z"
    )


def initial_state() -> dict[str, Any]:
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
    }


def update(
    namespace_root: Path,
    container_id: str,
    fn: Callable[[Record], None],
    durable: bool = True,
) -> Record:
    """Apply ``fn`` to the record in place, under the lock; NotFound if it is gone.

    ``durable=False`` for runtime details a crash makes moot (a sandbox's addresses)."""
    store = ContainerStore(namespace_root)

    def apply(record: Record | None) -> Record | None:
        if record is None:
            raise no_such_container(container_id)
        fn(record)
        return record

    result = store.records.update(container_id, apply, durable)
    assert result is not None
    return result


def mark_running(namespace_root: Path, container_id: str, pid: int) -> Record:
    def fn(r: Record) -> None:
        s = r["State"]
        s.update(
            Status="running",
            Running=True,
            Paused=False,
            Restarting=False,
            Dead=False,
            Pid=pid,
            ExitCode=0,
            Error="",
            StartedAt=now_rfc3339(),
        )

    return update(namespace_root, container_id, fn)


def mark_exited(
    namespace_root: Path,
    container_id: str,
    exit_code: int,
    oom_killed: bool = False,
    error: str = "",
) -> Record:
    def fn(r: Record) -> None:
        s = r["State"]
        s.update(
            Status="exited",
            Running=False,
            Paused=False,
            Restarting=False,
            Pid=0,
            ExitCode=exit_code,
            OOMKilled=oom_killed,
            Error=error,
            FinishedAt=now_rfc3339(),
        )

    return update(namespace_root, container_id, fn)


def mark_paused(namespace_root: Path, container_id: str, paused: bool) -> Record:
    def fn(r: Record) -> None:
        r["State"].update(Status="paused" if paused else "running", Paused=paused)

    return update(namespace_root, container_id, fn)


def mark_restarting(namespace_root: Path, container_id: str, exit_code: int) -> Record:
    def fn(r: Record) -> None:
        r["State"].update(
            Status="restarting",
            Running=True,
            Restarting=True,
            Pid=0,
            ExitCode=exit_code,
            FinishedAt=now_rfc3339(),
        )
        r["RestartCount"] = int(r.get("RestartCount", 0)) + 1

    return update(namespace_root, container_id, fn)


def set_health(namespace_root: Path, container_id: str, health: dict[str, Any]) -> Record:
    def fn(r: Record) -> None:
        r["State"]["Health"] = health

    return update(namespace_root, container_id, fn)


def set_private(namespace_root: Path, container_id: str, **values: Any) -> Record:
    """pynerd's own bookkeeping in ``record["Pynerd"]`` (not shown by inspect)."""

    def fn(r: Record) -> None:
        r.setdefault("Pynerd", {}).update(values)

    return update(namespace_root, container_id, fn)
