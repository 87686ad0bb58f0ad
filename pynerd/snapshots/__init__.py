"""Snapshotters: where image layers are unpacked and container root filesystems live.

``get_snapshotter(name, root)`` returns the overlayfs or the native
snapshotter over ``root`` (``<data_root>/snapshots/<name>``); the interface is
:class:`pynerd.snapshots.base.Snapshotter` (after containerd's), the on-disk
layout and crash-safety rules are in :mod:`pynerd.snapshots.storage`, mounting
in :mod:`pynerd.snapshots.mount`, unpacking a layer in :mod:`pynerd.images.apply`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pynerd.errors import InvalidArgument

if TYPE_CHECKING:
    from pynerd.snapshots.base import Snapshotter

NAMES = ("overlayfs", "native")


def get_snapshotter(name: str, root: Path) -> Snapshotter:
    """The snapshotter called ``name`` keeping its state under ``root``."""
    if name == "overlayfs":
        from pynerd.snapshots.overlay import OverlaySnapshotter

        return OverlaySnapshotter(root)
    if name == "native":
        from pynerd.snapshots.native import NativeSnapshotter

        return NativeSnapshotter(root)
    raise InvalidArgument(f"unknown snapshotter {name!r} (known: {', '.join(NAMES)})")
