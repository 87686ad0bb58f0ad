"""Container state transitions, written to the record under the bucket lock.

Both the CLI (create, start, stop, rm) and the monitor (running, exited,
health, restarts) change ``State``; every change is a read-modify-write of the
record in the ``containers`` bucket, so concurrent writers never lose each
other's updates. Times are RFC 3339 with nanoseconds, as Docker prints them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynerd.containers import monitor_state as ms
from pynerd.containers.store import ContainerStore
from pynerd.errors import no_such_container
from pynerd.timestamps import now_rfc3339 as now_rfc3339  # callers use state.now_rfc3339

ZERO_TIME = "0001-01-01T00:00:00Z"
Record = dict[str, Any]


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
    return update(namespace_root, container_id, ms.running_fn(pid))


def mark_exited(
    namespace_root: Path,
    container_id: str,
    exit_code: int,
    oom_killed: bool = False,
    error: str = "",
) -> Record:
    return update(namespace_root, container_id, ms.exited_fn(exit_code, oom_killed, error))


def mark_paused(namespace_root: Path, container_id: str, paused: bool) -> Record:
    def fn(r: Record) -> None:
        r["State"].update(Status="paused" if paused else "running", Paused=paused)

    return update(namespace_root, container_id, fn)


def mark_restarting(namespace_root: Path, container_id: str, exit_code: int) -> Record:
    return update(namespace_root, container_id, ms.restarting_fn(exit_code))


def set_health(namespace_root: Path, container_id: str, health: dict[str, Any]) -> Record:
    return update(namespace_root, container_id, ms.health_fn(health))


def set_private(namespace_root: Path, container_id: str, **values: Any) -> Record:
    """pynerd's own bookkeeping in ``record["Pynerd"]`` (not shown by inspect)."""

    def fn(r: Record) -> None:
        r.setdefault("Pynerd", {}).update(values)

    return update(namespace_root, container_id, fn)
