"""What the overlay and native snapshotters share: the whole lifecycle over ``MetaStore``.

A subclass says only how a snapshot's directory is built (``_fill_layer``,
``_build_active``) and how it is mounted (``_mounts``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

from pynerd.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from pynerd.snapshots.base import (
    KIND_ACTIVE,
    KIND_COMMITTED,
    KIND_VIEW,
    LayerWriter,
    Mount,
    SnapshotInfo,
)
from pynerd.snapshots.fsutil import disk_usage, remove_tree
from pynerd.snapshots.storage import MetaStore, Record, discard, now_rfc3339


class DirSnapshotter(ABC):
    name: str
    parallel_apply: bool
    whiteouts: str

    def __init__(self, root: Path) -> None:
        self.root = root
        self.meta = MetaStore(root)

    # -- subclass hooks

    @abstractmethod
    def _fill_layer(self, fs: Path, parent: Record | None) -> None:
        """Create ``fs``: what a layer on ``parent`` is unpacked into."""

    @abstractmethod
    def _build_active(self, staging: Path, parent: Record | None) -> None:
        """Create the content of a new active snapshot in ``staging``."""

    @abstractmethod
    def _mounts(self, rec: Record) -> list[Mount]: ...

    def _finish_layer(self, fs: Path, parent: Record | None) -> None:  # noqa: B027
        """Last touches to a staged layer, once its parent is known to exist (under the lock)."""

    def _after_commit(self, content: Path) -> None:  # noqa: B027  (optional hook)
        """Clean-up once an active snapshot's content became a committed one."""

    # -- reads

    def exists(self, key: str) -> bool:
        return self.meta.get(key) is not None

    def stat(self, key: str) -> SnapshotInfo:
        return self.meta.require(key).info()

    def walk(self) -> list[SnapshotInfo]:
        return [r.info() for r in self.meta.records()]

    def usage(self, key: str) -> int:
        return disk_usage(self.meta.content(self.meta.require(key).id))

    def upper_dir(self, key: str) -> Path:
        rec = self.meta.require(key)
        if rec.kind == KIND_VIEW:
            raise InvalidArgument(f"snapshot {key} is a read-only view")
        return self.meta.content(rec.id) / "fs"

    def mounts(self, key: str) -> list[Mount]:
        rec = self.meta.require(key)
        if rec.kind == KIND_COMMITTED:
            raise InvalidArgument(f"snapshot {key} is committed: mount a view of it")
        return self._mounts(rec)

    # -- layers

    def begin_layer(self, parent: str | None) -> LayerWriter:
        parent_rec = None
        if parent is not None and not self.parallel_apply:
            parent_rec = self._committed(parent)
        staging = self.meta.new_staging()
        try:
            self._fill_layer(staging / "fs", parent_rec)
        except BaseException:
            remove_tree(staging)
            raise
        return LayerWriter(path=staging / "fs", staging=staging)

    def commit_layer(
        self,
        writer: LayerWriter,
        key: str,
        parent: str | None,
        labels: dict[str, str] | None = None,
    ) -> None:
        staging = self._own(writer)
        try:
            with self.meta.txn() as t:
                if t.get(key) is not None:
                    return  # another process unpacked the same layer first: theirs is as good
                t.require_committed_parent(parent)
                self._finish_layer(writer.path, t.get(parent) if parent is not None else None)
                t.publish(staging, key, parent, KIND_COMMITTED, labels)
        finally:
            remove_tree(staging)  # nothing left to remove once published

    def abort_layer(self, writer: LayerWriter) -> None:
        remove_tree(self._own(writer))

    def _own(self, writer: LayerWriter) -> Path:
        if writer.staging.parent != self.meta.staging_root or writer.path.parent != writer.staging:
            raise InvalidArgument(f"{writer.staging} is not a staging directory of {self.root}")
        return writer.staging

    # -- active snapshots

    def prepare(
        self, key: str, parent: str | None, labels: dict[str, str] | None = None
    ) -> list[Mount]:
        return self._create(key, parent, KIND_ACTIVE, labels)

    def view(self, key: str, parent: str, labels: dict[str, str] | None = None) -> list[Mount]:
        if not parent:
            raise InvalidArgument("a view needs a parent snapshot")
        return self._create(key, parent, KIND_VIEW, labels)

    def _create(
        self, key: str, parent: str | None, kind: str, labels: dict[str, str] | None
    ) -> list[Mount]:
        if self.exists(key):
            raise AlreadyExists(f"snapshot {key} already exists")
        parent_rec = self._committed(parent) if parent is not None else None
        staging = self.meta.new_staging()
        try:
            if kind == KIND_VIEW:
                (staging / "fs").mkdir()
            else:
                self._build_active(staging, parent_rec)
            with self.meta.txn() as t:
                if t.get(key) is not None:
                    raise AlreadyExists(f"snapshot {key} already exists")
                t.require_committed_parent(parent)
                rec = t.publish(staging, key, parent, kind, labels)
        finally:
            remove_tree(staging)
        return self._mounts(rec)

    def commit(self, name: str, key: str, labels: dict[str, str] | None = None) -> None:
        with self.meta.txn() as t:
            rec = t.require(key)
            if rec.kind != KIND_ACTIVE:
                raise InvalidArgument(f"snapshot {key} is not active")
            # Add before delete: a crash in between leaves two records sharing one
            # directory (remove() keeps it while referenced), never none.
            t.add(
                Record(name, rec.id, rec.parent, KIND_COMMITTED, now_rfc3339(), dict(labels or {}))
            )
            t.delete(key)
        self._after_commit(self.meta.content(rec.id))

    def remove(self, key: str) -> None:
        trash = None
        with self.meta.txn() as t:
            rec = t.require(key)
            records = t.records()
            children = sorted(r.key for r in records if r.parent == key)
            if children:
                raise Conflict(
                    f"cannot remove snapshot {key}: it is the parent of {len(children)} "
                    f"snapshot(s) ({', '.join(children[:3])}{', …' if len(children) > 3 else ''})"
                )
            t.delete(key)
            if not any(r.id == rec.id and r.key != key for r in records):
                trash = self.meta.claim(self.meta.content(rec.id))
        if trash is not None:
            discard(trash)

    def _committed(self, key: str) -> Record:
        rec = self.meta.get(key)
        if rec is None:
            raise NotFound(f"parent snapshot {key} does not exist")
        if rec.kind != KIND_COMMITTED:
            raise InvalidArgument(f"parent snapshot {key} is not committed")
        return rec
