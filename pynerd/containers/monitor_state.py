"""Record updates for the monitor process: the same locked writes as ``pynerd.state.kv``, lean.

A detached container's monitor lives as long as the container, so every module it
imports is resident memory times the number of containers. ``pynerd.state.kv``
(urllib.parse, re, enum …) and ``json`` (re) cost ~1.1-2.8 MB of private memory
in a ``python -S -E`` process (measured with /proc/PID/smaps_rollup); this module
imports only ``os``, ``time``, ``fcntl`` and CPython's ``_json`` accelerator, whose
scanner and encoder are exactly what ``json.loads``/``json.dumps`` run.

The on-disk protocol is the one of :mod:`pynerd.state.kv` / :mod:`pynerd.state.atomic`
and must stay in step with it: the record is ``<ns_root>/kv/containers/<key>.json``
(key percent-encoded like ``kv.encode_key``), writers hold an exclusive ``flock`` on
``<bucket>/.lock``, sweep ``.tmp-*`` leftovers, write ``.tmp-<name>.<pid>.<hex>``,
fsync, rename over the record, fsync the directory. The transitions mirror
:mod:`pynerd.containers.state` field by field (a unit test compares the two).
"""

from __future__ import annotations

import fcntl
import os

from pynerd.timestamps import now_rfc3339

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ClassVar

    Record = dict[str, Any]

try:
    import _json
except ImportError:  # not CPython: fall back to the json package (costs memory, not behaviour)
    _json = None  # type: ignore[assignment]

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-~:@+,=")
LOCK_NAME = ".lock"
TEMP_PREFIX = ".tmp-"
ZERO_TIME = "0001-01-01T00:00:00Z"


class suppress:
    """``contextlib.suppress`` without contextlib (it imports collections and functools)."""

    def __init__(self, *exceptions: type[BaseException]) -> None:
        self.exceptions = exceptions

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, value: object, tb: object) -> bool:
        return kind is not None and issubclass(kind, self.exceptions)


class _DecodeContext:
    """What the C scanner reads from ``json.JSONDecoder`` (strict, hooks, number parsers)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: ClassVar[dict[str, str]] = {}

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


def _no_default(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


if _json is not None:
    _scan = _json.make_scanner(_DecodeContext())  # type: ignore[arg-type]
    # Arguments as json.JSONEncoder passes them for dumps(v, separators=(",", ":")).
    _encode = _json.make_encoder(
        {}, _no_default, _json.encode_basestring_ascii, None, ":", ",", False, False, True
    )

    def loads(text: str) -> Any:
        """``json.loads`` for documents pynerd wrote (UTF-8 text, one value)."""
        text = text.strip(" \t\n\r")
        try:
            value, end = _scan(text, 0)
        except StopIteration as e:
            raise ValueError(f"invalid JSON at {e.value}") from None
        if end != len(text):
            raise ValueError(f"extra data at {end}")
        return value

    def dumps(value: Any) -> str:
        """``json.dumps(value, separators=(",", ":"))``, byte for byte."""
        return "".join(_encode(value, 0))

else:  # pragma: no cover
    import json

    def loads(text: str) -> Any:
        return json.loads(text)

    def dumps(value: Any) -> str:
        return json.dumps(value, separators=(",", ":"))


def encode_key(key: str) -> str:
    """``pynerd.state.kv.encode_key`` without urllib: percent-encode all but the safe set."""
    out = []
    for ch in key:
        if ch in _SAFE:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode())
    encoded = "".join(out)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    return encoded + ".json"


def record_path(namespace_root: str, container_id: str) -> str:
    return os.path.join(namespace_root, "kv", "containers", encode_key(container_id))


def read_record(namespace_root: str, container_id: str) -> Record | None:
    """The record as last written (lock-free, like ``Bucket.get``); None if it is gone."""
    try:
        with open(record_path(namespace_root, container_id), encoding="utf-8") as f:
            value: Record = loads(f.read())
            return value
    except FileNotFoundError:
        return None


def _sweep(directory: str) -> None:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        if name.startswith(TEMP_PREFIX):
            with suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))


def _atomic_write(path: str, data: bytes, durable: bool = True) -> None:
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f"{TEMP_PREFIX}{name}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def update_record(
    namespace_root: str, container_id: str, fn: Callable[[Record], None], durable: bool = True
) -> Record | None:
    """Apply ``fn`` to the record under the bucket lock; None (nothing written) if it is gone.

    A record that vanished was removed (``rm -f``) while the container ran: the monitor
    then has nobody left to report to, which is not an error. ``durable=False`` skips the
    fsyncs, as ``pynerd.state.kv`` does, for a change a crash makes moot.
    """
    path = record_path(namespace_root, container_id)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        return None
    lock = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _sweep(directory)
        record = read_record(namespace_root, container_id)
        if record is None:
            return None
        fn(record)
        _atomic_write(path, dumps(record).encode(), durable)
        return record
    finally:
        os.close(lock)


# Transitions: keep in step with pynerd.containers.state.


def running_fn(pid: int, health: bool = False) -> Callable[[Record], None]:
    """``state.mark_running``; with a healthcheck, Health restarts at "starting" (as Docker)."""

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
        if health:
            h = s.get("Health") or {}
            s["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": h.get("Log") or []}

    return fn


def exited_fn(
    exit_code: int, oom_killed: bool = False, error: str = ""
) -> Callable[[Record], None]:
    """``state.mark_exited``."""

    def fn(r: Record) -> None:
        r["State"].update(
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

    return fn


def failed_fn(exit_code: int, error: str) -> Callable[[Record], None]:
    """The container never ran (create/start failed): Status stays, as in Docker."""

    def fn(r: Record) -> None:
        r["State"].update(ExitCode=exit_code, Error=error, Pid=0)

    return fn


def restarting_fn(exit_code: int, oom_killed: bool = False) -> Callable[[Record], None]:
    """``state.mark_restarting`` (RestartCount counts restarts decided, as Docker's)."""

    def fn(r: Record) -> None:
        r["State"].update(
            Status="restarting",
            Running=True,
            Restarting=True,
            Pid=0,
            ExitCode=exit_code,
            OOMKilled=oom_killed,
            FinishedAt=now_rfc3339(),
        )
        r["RestartCount"] = int(r.get("RestartCount", 0)) + 1

    return fn


def health_fn(health: dict[str, Any]) -> Callable[[Record], None]:
    def fn(r: Record) -> None:
        r["State"]["Health"] = health

    return fn


def stop_requested(record: Record | None) -> bool:
    """The CLI sets ``Pynerd.StopRequested`` before it signals a container it stops."""
    if record is None:
        return True  # removed: nothing to restart
    return bool((record.get("Pynerd") or {}).get("StopRequested"))
