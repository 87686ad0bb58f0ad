"""``rm`` and ``container prune``: take a container apart in the reverse order of create."""

from __future__ import annotations

import contextlib
from typing import Any

from pynerd.config import Config
from pynerd.containers.layout import ContainerPaths, paths
from pynerd.containers.store import ContainerStore
from pynerd.errors import Conflict, NotFound, PynerdError


def discard_files(cfg: Config, cid: str, p: ContainerPaths | None = None) -> None:
    """Unmount and remove the rootfs snapshot and the container's directories (idempotent)."""
    from pynerd.snapshots import get_snapshotter
    from pynerd.snapshots.mount import unmount

    p = p or paths(cfg, cid)
    if p.rootfs.exists():
        unmount(p.rootfs)
    snap = get_snapshotter(cfg.snapshotter, cfg.data_root / "snapshots" / cfg.snapshotter)
    with contextlib.suppress(NotFound):
        snap.remove(cid)
    import shutil  # not at module level: ~1.5 ms that `run` does not need

    shutil.rmtree(p.dir, ignore_errors=True)
    shutil.rmtree(p.run_dir, ignore_errors=True)


def destroy(cfg: Config, record: dict[str, Any], remove_volumes: bool) -> None:
    """Remove a container that is not running: runtime state, files, volumes, name, record."""
    from pynerd.containers.runtime import runc_for
    from pynerd.volumes.mounts import release

    cid = record["Id"]
    runc = runc_for(cfg)
    if runc.root is None or (runc.root / cid).exists():  # the monitor usually deleted it
        runc.delete(cid, force=True)
    if (record.get("Pynerd") or {}).get("Sandbox"):
        from pynerd.network.sandbox import forget
        from pynerd.network.sandbox import release as release_network

        release_network(cfg, cid)  # before the files: it rewrites peers' hosts files
        forget(cfg, cid)
    discard_files(cfg, cid)
    # Docker removes anonymous volumes with --rm and rm -v; named volumes never.
    release(
        cfg.namespace_root,
        record,
        remove_volumes or bool(record.get("HostConfig", {}).get("AutoRemove")),
    )
    store = ContainerStore(cfg.namespace_root)
    release_name(store, record)
    store.records.delete(cid)


def release_name(store: ContainerStore, record: dict[str, Any]) -> None:
    """Free the container's name, unless another container has taken it meanwhile."""
    name = str(record.get("Name", "")).lstrip("/")
    with store.names.txn() as t:
        owner = t.get(name)
        if owner is not None and owner.get("Id") == record["Id"]:
            t.delete(name)


class RemoveResult:
    def __init__(self) -> None:
        self.removed: list[str] = []  # the arguments, echoed like Docker
        self.errors: list[PynerdError] = []
        # `rm -f` of a missing container: reported, yet no failure (Docker 20.10+)
        self.warnings: list[PynerdError] = []


def remove(
    cfg: Config, refs: list[str], force: bool = False, volumes: bool = False
) -> RemoveResult:
    from pynerd.containers.lifecycle import kill_and_wait, refresh

    store = ContainerStore(cfg.namespace_root)
    result = RemoveResult()
    for ref in refs:
        try:
            try:
                record = refresh(cfg, store.find(ref))
            except NotFound as e:
                if not force:
                    raise
                result.warnings.append(e)
                continue
            status = record["State"]["Status"]
            if status in ("running", "paused", "restarting"):
                if not force:
                    raise Conflict(
                        f'cannot remove container "/{record["Name"].lstrip("/")}": container '
                        "is running: stop the container before removing or force remove"
                    )
                record = kill_and_wait(cfg, record)
            destroy(cfg, record, volumes)
            result.removed.append(ref)
        except PynerdError as e:
            result.errors.append(e)
    return result


def prune(cfg: Config, filters: list[str] | None = None) -> tuple[list[str], int]:
    """Remove every stopped container; returns their IDs and the bytes reclaimed."""
    from pynerd.containers.lifecycle import refresh
    from pynerd.filters import label_matches, parse_filters, until_bound

    f = parse_filters(filters or [], ("until", "label"))
    removed: list[str] = []
    for record in ContainerStore(cfg.namespace_root).list():
        record = refresh(cfg, record)
        if record["State"]["Status"] in ("running", "paused", "restarting"):
            continue
        if "label" in f and not label_matches(record["Config"].get("Labels"), f["label"]):
            continue
        if "until" in f and any(record["Created"] >= until_bound(u) for u in f["until"]):
            continue
        destroy(cfg, record, False)
        removed.append(record["Id"])
    return removed, 0
