"""Garbage collection of blobs and snapshots that no image and no container uses.

The content store and the snapshotters are shared by all namespaces, so the
roots are every image record of every namespace, plus every active snapshot
(a container's rootfs) and its ancestors. Pulls, loads and imports hold
:func:`gc_shared` for their whole run, and a collection takes it exclusively,
so a blob that a pull has just committed cannot vanish before the pull writes
the image record that references it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from pynerd.config import Config
from pynerd.content.store import ContentStore
from pynerd.errors import PynerdError
from pynerd.images import manifest as mf
from pynerd.state.lock import file_lock


@contextmanager
def gc_shared(cfg: Config) -> Iterator[None]:
    """Held by anything that adds content and then references it (pull, load, import)."""
    cfg.data_root.mkdir(parents=True, exist_ok=True)
    with file_lock(cfg.data_root / "gc.lock", shared=True):
        yield


@dataclass(frozen=True)
class Collected:
    blobs: int
    snapshots: int
    bytes: int


def _all_records(cfg: Config) -> Iterator[dict[str, Any]]:
    from pynerd.images.store import ImageStore

    ns_dir = cfg.data_root / "namespaces"
    try:
        namespaces = os.listdir(ns_dir)
    except FileNotFoundError:
        return
    for ns in namespaces:
        yield from ImageStore(ns_dir / ns).list()


def _mark_blobs(content: ContentStore, digest: str, live: set[str], depth: int = 0) -> None:
    """Mark a manifest or index and everything it references that is present."""
    if digest in live or depth > 4 or not content.exists(digest):
        return
    live.add(digest)
    try:
        data = content.read(digest)
        mt = mf.media_type_of(data)
    except PynerdError:
        return
    if mt in mf.INDEX_TYPES:
        for entry in mf.index_entries(data):
            _mark_blobs(content, entry["digest"], live, depth + 1)
    else:
        m = mf.parse_manifest(data, mt)
        live.add(m.config["digest"])
        live.update(layer["digest"] for layer in m.layers)


def collect(cfg: Config) -> Collected:
    """Remove every unreferenced blob and committed snapshot; returns what was freed."""
    from pynerd.snapshots import get_snapshotter

    content = ContentStore(cfg.data_root / "content")
    cfg.data_root.mkdir(parents=True, exist_ok=True)
    with file_lock(cfg.data_root / "gc.lock"):
        live_blobs: set[str] = set()
        live_chains: set[str] = set()
        for record in _all_records(cfg):
            _mark_blobs(content, record["Target"]["digest"], live_blobs)
            _mark_blobs(content, record["Manifest"]["digest"], live_blobs)
            live_blobs.add(record["Config"])
            try:
                config = mf.load_json(content.read(record["Config"]), "image config")
                live_chains.update(mf.chain_ids(mf.config_diff_ids(config)))
            except PynerdError:
                pass
        freed = removed_blobs = 0
        for digest in content.list():
            if digest not in live_blobs:
                with suppress(PynerdError):
                    freed += content.size(digest)
                removed_blobs += content.delete(digest)
        removed_snaps = 0
        root = cfg.data_root / "snapshots"
        for name in ("overlayfs", "native"):
            if (root / name).exists():
                removed_snaps += _collect_snapshots(get_snapshotter(name, root / name), live_chains)
    return Collected(removed_blobs, removed_snaps, freed)


def _collect_snapshots(snap: Any, live_chains: set[str]) -> int:
    infos = {i.key: i for i in snap.walk()}
    keep: set[str] = set()
    for info in infos.values():
        if info.kind == "active" or info.key in live_chains:
            key: str | None = info.key
            while key is not None and key not in keep:
                keep.add(key)
                key = infos[key].parent if key in infos else None
    removed = 0
    doomed = [k for k in infos if k not in keep]
    # children before parents: remove leaves until nothing is left
    while doomed:
        parents = {infos[k].parent for k in doomed}
        leaves = [k for k in doomed if k not in parents]
        if not leaves:
            break
        for k in leaves:
            try:
                snap.remove(k)
                removed += 1
            except PynerdError:
                pass
            doomed.remove(k)
    return removed
