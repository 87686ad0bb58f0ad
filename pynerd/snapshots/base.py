"""The snapshotter interface and the values it hands out (after containerd's core/snapshots).

A snapshot is a directory tree identified by a key. *Committed* snapshots are
immutable image layers, keyed by chain ID and stacked through ``parent``;
*active* snapshots are writable trees on top of a committed parent (a
container's rootfs); *view* snapshots are read-only actives (``cp``/``export``
of an image). Image layers are not written through ``prepare``/``commit`` but
through a staging area (``begin_layer``/``commit_layer``) so that a layer being
unpacked is never visible, and so that overlay layers can be unpacked in
parallel before their parents exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pynerd.structs import frozen_record, record_field

KIND_COMMITTED = "committed"
KIND_ACTIVE = "active"
KIND_VIEW = "view"  # stored kind of a view; SnapshotInfo shows it as KIND_ACTIVE


@frozen_record
class Mount:
    """One mount(2) call, as containerd describes it: ``type``, ``source``, ``options``.

    Options mix flags (``ro``, ``rbind``, ``nosuid``…) and filesystem data
    (``lowerdir=…``); :func:`pynerd.snapshots.mount.mount_all` tells them apart.
    """

    type: str
    source: str
    options: tuple[str, ...] = ()


@frozen_record
class SnapshotInfo:
    key: str
    parent: str | None
    kind: str  # "committed" | "active" (views, read-only actives, report "active" too)
    created: str  # RFC 3339, UTC
    labels: dict[str, str] = record_field(default_factory=dict, hash=False)


@frozen_record
class LayerWriter:
    """A staging directory to unpack one layer into (``path``), owned by this process.

    ``staging`` is the directory that ``commit_layer`` renames into place or that
    ``abort_layer`` removes; ``path`` lies inside it.
    """

    path: Path
    staging: Path


class Snapshotter(Protocol):
    name: str
    parallel_apply: bool  # a layer can be unpacked without its parent's content (overlay)
    whiteouts: str  # how apply_layer stores OCI whiteouts: "overlay" or "delete"

    def exists(self, key: str) -> bool: ...

    def stat(self, key: str) -> SnapshotInfo:
        """NotFound if ``key`` does not exist."""
        ...

    def begin_layer(self, parent: str | None) -> LayerWriter:
        """A staging dir: empty (overlay) or a full copy of committed ``parent`` (native)."""
        ...

    def commit_layer(
        self,
        writer: LayerWriter,
        key: str,
        parent: str | None,
        labels: dict[str, str] | None = None,
    ) -> None:
        """Publish the staged layer as committed ``key`` atomically.

        If ``key`` exists already (another process won the race) the staging dir is
        discarded silently. ``parent`` must exist (and be committed) by now. The
        writer is consumed whatever happens.
        """
        ...

    def abort_layer(self, writer: LayerWriter) -> None:
        """Discard the staging dir; idempotent."""
        ...

    def prepare(
        self, key: str, parent: str | None, labels: dict[str, str] | None = None
    ) -> list[Mount]:
        """A new writable active snapshot on committed ``parent``; AlreadyExists if taken."""
        ...

    def view(self, key: str, parent: str, labels: dict[str, str] | None = None) -> list[Mount]:
        """A new read-only snapshot of committed ``parent``."""
        ...

    def mounts(self, key: str) -> list[Mount]:
        """How to mount active or view ``key`` (InvalidArgument for a committed one)."""
        ...

    def commit(self, name: str, key: str, labels: dict[str, str] | None = None) -> None:
        """Turn active ``key`` (unmounted by now) into committed ``name``."""
        ...

    def remove(self, key: str) -> None:
        """Conflict if other snapshots have ``key`` as parent; NotFound if missing."""
        ...

    def walk(self) -> list[SnapshotInfo]: ...

    def usage(self, key: str) -> int:
        """Bytes allocated by this snapshot's own directory (hardlinks counted once)."""
        ...

    def upper_dir(self, key: str) -> Path:
        """Where active ``key``'s changes live (overlay: the upperdir; native: the tree)."""
        ...
