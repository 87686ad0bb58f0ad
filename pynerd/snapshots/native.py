"""The native snapshotter: every snapshot is a complete directory tree.

For filesystems overlayfs cannot stack on, or kernels without it. A layer is
unpacked into a full copy of its parent with whiteouts applied as deletions;
an active snapshot is a copy of its parent, bind-mounted. Copies cost disk and
time (``fsutil.copy_tree`` uses copy_file_range, which reflinks on XFS/btrfs),
so layers are unpacked one after the other. A view is a read-only bind mount
of the parent itself: nothing can write through it, so nothing is copied.
"""

from __future__ import annotations

import os
from pathlib import Path

from pynerd.snapshots.base import KIND_VIEW, Mount
from pynerd.snapshots.common import DirSnapshotter
from pynerd.snapshots.fsutil import copy_tree
from pynerd.snapshots.storage import Record


class NativeSnapshotter(DirSnapshotter):
    name = "native"
    parallel_apply = False
    whiteouts = "delete"

    def _fill_layer(self, fs: Path, parent: Record | None) -> None:
        if parent is None:
            fs.mkdir()
            os.chmod(fs, 0o755)
        else:
            copy_tree(self.meta.content(parent.id) / "fs", fs)

    def _build_active(self, staging: Path, parent: Record | None) -> None:
        self._fill_layer(staging / "fs", parent)

    def _mounts(self, rec: Record) -> list[Mount]:
        if rec.kind == KIND_VIEW:
            assert rec.parent is not None
            parent = self.meta.require(rec.parent)
            return [Mount("bind", str(self.meta.content(parent.id) / "fs"), ("ro", "rbind"))]
        return [Mount("bind", str(self.meta.content(rec.id) / "fs"), ("rw", "rbind"))]
