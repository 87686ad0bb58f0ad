"""Snapshot metadata, content directories and staging, shared by every snapshotter.

Layout under ``root`` (``<data_root>/snapshots/<snapshotter>``)::

    metadata/snapshots/<key>.json   {"id", "parent", "kind", "created", "labels"}
    metadata/snapshots/.lock        taken by every writer (ids, content renames too)
    metadata/sequence/next.json     {"next": N}: the id allocator (written under that lock)
    snapshots/<id>/fs               a snapshot's tree (overlay: layer diff or upperdir)
    snapshots/<id>/work             overlay workdir of an active snapshot
    staging/<pid>-<start>-<rand>/   a layer being unpacked, a tree being copied, or
                                    trash being deleted, owned by process <pid>

Ids are small integers (as containerd's) so that overlay's lowerdir list stays
short: see ``pynerd.snapshots.mount`` for the page-size limit on mount options.
``root`` and ``snapshots/`` are 0700: trees hold setuid binaries of images.

Crash safety (kill -9 at any instant): content is built in ``staging`` and only
renamed into ``snapshots/<id>`` under the lock, just before its record is written,
so a record never names a half-built tree. What a killed process can leave
behind: its staging dir (removed by the next ``new_staging`` of any process once
``/proc/<pid>`` shows the owner gone; the start time guards against pid reuse),
or a content dir whose record was not yet written or already deleted (an
orphan: removed when the directories outnumber the records).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pynerd.errors import AlreadyExists, InvalidArgument, NotFound
from pynerd.snapshots.base import KIND_ACTIVE, KIND_COMMITTED, KIND_VIEW, SnapshotInfo
from pynerd.snapshots.fsutil import remove_tree
from pynerd.state.kv import BucketTxn, KVStore
from pynerd.structs import frozen_record, record_field

_SEQ_KEY = "next"


def now_rfc3339() -> str:
    """UTC now with microseconds, e.g. 2026-01-02T03:04:05.123456Z (no datetime import)."""
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


@frozen_record
class Record:
    key: str
    id: str
    parent: str | None
    kind: str
    created: str
    labels: dict[str, str] = record_field(default_factory=dict, hash=False)

    def info(self) -> SnapshotInfo:
        # A view is a (read-only) active snapshot to callers: it is in use, keep its parents.
        kind = KIND_ACTIVE if self.kind == KIND_VIEW else self.kind
        return SnapshotInfo(self.key, self.parent, kind, self.created, dict(self.labels))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent": self.parent,
            "kind": self.kind,
            "created": self.created,
            "labels": self.labels,
        }

    @classmethod
    def from_json(cls, key: str, v: dict[str, Any]) -> Record:
        return cls(
            key,
            str(v["id"]),
            v.get("parent"),
            v["kind"],
            v.get("created", ""),
            dict(v.get("labels") or {}),
        )


def not_found(key: str) -> NotFound:
    return NotFound(f"snapshot {key} does not exist")


def _proc_start(pid: int) -> int | None:
    """Start time of live ``pid`` in clock ticks since boot; None if gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()  # the command name may hold spaces
    try:
        if fields[0] in (b"Z", b"X"):  # dead, not yet reaped: it will never clean up
            return None
        return int(fields[19])
    except (ValueError, IndexError):
        return None


_self_start: tuple[int, int] | None = None


def _my_tag() -> str:
    """``<pid>-<start>`` of this process (recomputed after a fork)."""
    global _self_start
    pid = os.getpid()
    if _self_start is None or _self_start[0] != pid:
        _self_start = (pid, _proc_start(pid) or 0)
    return f"{pid}-{_self_start[1]}"


def owner_alive(name: str) -> bool:
    """Whether the process named by a staging dir's ``<pid>-<start>-…`` prefix still runs.

    Names that do not parse are treated as alive: never delete what we cannot explain.
    """
    parts = name.split("-")
    try:
        pid, start = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return True
    return _proc_start(pid) == start


def discard(trash: Path) -> None:
    """Best effort: an orphaned extraction child may still be writing in there. What
    is left keeps our pid in its name, so a sweeper removes it after we are gone."""
    with contextlib.suppress(OSError):
        remove_tree(trash)


class MetaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        kv = KVStore(root / "metadata")
        self.bucket = kv.bucket("snapshots")
        self.sequence = kv.bucket("sequence")
        self.content_root = root / "snapshots"
        self.staging_root = root / "staging"

    # -- reads (lock-free)

    def get(self, key: str) -> Record | None:
        value = self.bucket.get(key)
        return None if value is None else Record.from_json(key, value)

    def require(self, key: str) -> Record:
        rec = self.get(key)
        if rec is None:
            raise not_found(key)
        return rec

    def records(self) -> list[Record]:
        return [Record.from_json(k, v) for k, v in self.bucket.items()]

    def content(self, snap_id: str) -> Path:
        return self.content_root / snap_id

    def chain(self, key: str | None) -> list[Record]:
        """``key`` and its ancestors, nearest first."""
        out: list[Record] = []
        while key is not None:
            rec = self.require(key)
            out.append(rec)
            key = rec.parent
            if len(out) > 10_000:
                raise InvalidArgument(f"snapshot {out[0].key}: parent chain has a loop")
        return out

    # -- writes

    @contextlib.contextmanager
    def txn(self) -> Iterator[MetaTxn]:
        self._ensure_dirs()
        with self.bucket.txn() as t:
            yield MetaTxn(self, t)

    def _ensure_dirs(self) -> None:
        for d in (self.root, self.content_root, self.staging_root):
            if not d.is_dir():
                d.mkdir(mode=0o700, parents=True, exist_ok=True)

    def new_staging(self) -> Path:
        """A fresh staging dir owned by this process; sweeps dead processes' leftovers first."""
        self._ensure_dirs()
        self.sweep_staging()
        self.sweep_orphans()
        path = self.staging_root / f"{_my_tag()}-{os.urandom(4).hex()}"
        path.mkdir(mode=0o700)
        return path

    def claim(self, path: Path) -> Path | None:
        """Move ``path`` into a staging dir of ours (atomic), to delete it at leisure."""
        trash = self.staging_root / f"{_my_tag()}-{os.urandom(4).hex()}.gc"
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            return None
        return trash

    def sweep_staging(self) -> int:
        """Remove staging dirs whose owner died (two sweepers race safely: one wins the claim)."""
        try:
            names = os.listdir(self.staging_root)
        except FileNotFoundError:
            return 0
        removed = 0
        for name in names:
            if owner_alive(name):
                continue
            trash = self.claim(self.staging_root / name)
            if trash is not None:
                discard(trash)
                removed += 1
        return removed

    def sweep_orphans(self) -> int:
        """Remove content dirs no record names (a writer died between rename and record)."""
        try:
            dirs = os.listdir(self.content_root)
        except FileNotFoundError:
            return 0
        if len(dirs) <= len(self.bucket.keys()):
            return 0
        trash: list[Path] = []
        with self.txn() as t:
            used = {r.id for r in t.records()}
            for name in os.listdir(self.content_root):
                if name not in used:
                    claimed = self.claim(self.content_root / name)
                    if claimed is not None:
                        trash.append(claimed)
        for p in trash:
            discard(p)
        return len(trash)


class MetaTxn:
    """Metadata operations valid while the snapshots lock is held."""

    def __init__(self, store: MetaStore, txn: BucketTxn) -> None:
        self.store = store
        self._txn = txn

    def get(self, key: str) -> Record | None:
        return self.store.get(key)

    def require(self, key: str) -> Record:
        return self.store.require(key)

    def records(self) -> list[Record]:
        return self.store.records()

    def require_committed_parent(self, parent: str | None) -> None:
        if parent is None:
            return
        rec = self.get(parent)
        if rec is None:
            raise NotFound(f"parent snapshot {parent} does not exist")
        if rec.kind != KIND_COMMITTED:
            raise InvalidArgument(f"parent snapshot {parent} is not committed")

    def add(self, rec: Record) -> None:
        if self.get(rec.key) is not None:
            raise AlreadyExists(f"snapshot {rec.key} already exists")
        self._txn.put(rec.key, rec.to_json())

    def delete(self, key: str) -> None:
        self._txn.delete(key)

    def publish(
        self, content: Path, key: str, parent: str | None, kind: str, labels: dict[str, str] | None
    ) -> Record:
        """Rename built ``content`` to ``snapshots/<new id>`` and write its record."""
        snap_id = self.allocate_id()
        os.rename(content, self.store.content(snap_id))
        rec = Record(key, snap_id, parent, kind, now_rfc3339(), dict(labels or {}))
        self._txn.put(key, rec.to_json())
        return rec

    def allocate_id(self) -> str:
        # Lock order: snapshots (held by our caller), then sequence.
        with self.store.sequence.txn() as seq:
            value = seq.get(_SEQ_KEY)
            n = int(value["next"]) if value else self._first_id()
            while self.store.content(str(n)).exists():  # never reuse a directory
                n += 1
            seq.put(_SEQ_KEY, {"next": n + 1})
        return str(n)

    def _first_id(self) -> int:
        ids = [int(n) for n in os.listdir(self.store.content_root) if n.isdigit()]
        return max(ids, default=0) + 1
