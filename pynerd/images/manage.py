"""Tagging and removing images (``tag``, ``rmi``, ``image prune``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pynerd.config import Config
from pynerd.errors import Conflict, NotFound, PynerdError
from pynerd.images.store import ImageStore, Record


def _now() -> str:
    from pynerd.images.pull import now_rfc3339

    return now_rfc3339()


def tag(cfg: Config, source: str, target: str) -> str:
    """Give the image ``source`` names another name; returns the canonical new name."""
    from pynerd.registry.reference import parse_reference

    store = ImageStore(cfg.namespace_root)
    record = store.lookup(source)[0]
    ref = parse_reference(target)
    if ref.digest:
        from pynerd.errors import InvalidArgument

        raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
    new = {**record, "Name": str(ref), "Updated": _now()}
    old = store.get(new["Name"])
    store.put(new)
    if old is not None and old["Config"] != new["Config"]:
        _keep_dangling(store, old)
    return str(new["Name"])


def _keep_dangling(store: ImageStore, old: Record) -> None:
    """The name moved to another image: keep the old one listed as <none>:<none>."""
    if not store.by_id(old["Config"]):
        store.put({**old, "Name": old["Config"], "Dangling": True})


@dataclass
class RemoveResult:
    lines: list[str] = field(default_factory=list)  # "Untagged: …" / "Deleted: …"
    errors: list[PynerdError] = field(default_factory=list)


def _users(cfg: Config, image_id: str) -> list[dict[str, Any]]:
    from pynerd.containers.store import ContainerStore

    return [c for c in ContainerStore(cfg.namespace_root).list() if c.get("Image") == image_id]


def remove(cfg: Config, targets: list[str], force: bool = False) -> RemoveResult:
    """Remove each target (name or ID); failures are collected per target, like Docker."""
    from pynerd.images.view import familiar

    store = ImageStore(cfg.namespace_root)
    result = RemoveResult()
    deleted_any = False
    for text in targets:
        records: list[Record] = []
        try:
            records = store.lookup(text)
            image_id = records[0]["Config"]
            short = image_id[7:19]
            by_id = _is_id(text, image_id)
            everyone = store.by_id(image_id)
            users = _users(cfg, image_id)
            if by_id:
                names = [r for r in everyone if not r.get("Dangling")]
                if len(names) > 1 and not force:
                    raise Conflict(
                        f"conflict: unable to delete {short} (must be forced) - "
                        "image is referenced in multiple repositories"
                    )
                running = [c for c in users if c.get("State", {}).get("Status") == "running"]
                if running:
                    raise Conflict(
                        f"conflict: unable to delete {short} (cannot be forced) - "
                        f"image is being used by running container {running[0]['Id'][:12]}"
                    )
                if users and not force:
                    raise Conflict(
                        f"conflict: unable to delete {short} (must be forced) - "
                        f"image is being used by stopped container {users[0]['Id'][:12]}"
                    )
                victims = everyone
            else:
                victims = records
                last = len(everyone) == 1
                if last and users and not force:
                    name = familiar(records[0]["Name"]).rsplit(":", 1)[0]
                    raise Conflict(
                        f'conflict: unable to remove repository reference "{text}" (must force) - '
                        f"container {users[0]['Id'][:12]} is using its referenced image {short}"
                        if name
                        else "conflict"
                    )
            for r in victims:
                store.delete(r["Name"])
                if not r.get("Dangling") and not r["Name"].startswith("sha256:"):
                    result.lines.append(f"Untagged: {familiar(r['Name'])}")
                    if "@" not in r["Name"]:
                        repo = familiar(r["Name"]).rsplit(":", 1)[0]
                        result.lines.append(f"Untagged: {repo}@{r['Target']['digest']}")
            if not store.by_id(image_id):
                if users:  # forced while a container uses it: keep it, dangling
                    store.put({**victims[0], "Name": image_id, "Dangling": True})
                else:
                    result.lines.append(f"Deleted: {image_id}")
                    deleted_any = True
        except NotFound as e:
            if not (force and not records):  # Docker: -f makes a missing image no failure
                result.errors.append(e)
        except PynerdError as e:
            result.errors.append(e)
    if deleted_any:
        from pynerd.images.gc import collect

        collect(cfg)
    return result


def _is_id(text: str, image_id: str) -> bool:
    ident = text[7:] if text.startswith("sha256:") else text
    return (
        bool(ident)
        and image_id[7:].startswith(ident)
        and all(c in "0123456789abcdef" for c in ident)
    )


@dataclass
class PruneResult:
    deleted: list[str]
    space: int


def prune(cfg: Config, all: bool = False, filters: list[str] | None = None) -> PruneResult:
    """Remove dangling images (with ``all``: every image no container uses), then GC."""
    from pynerd.filters import label_matches, parse_filters, until_bound
    from pynerd.images.gc import collect
    from pynerd.images.view import familiar

    f = parse_filters(filters or [], ("until", "label", "dangling"))
    store = ImageStore(cfg.namespace_root)
    used = {c.get("Image") for c in _users_all(cfg)}
    lines: list[str] = []
    doomed_ids: set[str] = set()
    for r in store.list():
        if r["Config"] in used:
            continue
        if not all and not r.get("Dangling"):
            continue
        if "label" in f:
            labels = _labels(cfg, r)
            if not label_matches(labels, f["label"]):
                continue
        if "until" in f and any(r.get("Created", "") >= until_bound(u) for u in f["until"]):
            continue
        store.delete(r["Name"])
        if not r.get("Dangling"):
            lines.append(f"untagged: {familiar(r['Name'])}")
        doomed_ids.add(r["Config"])
    for image_id in sorted(doomed_ids):
        if not store.by_id(image_id):
            lines.append(f"deleted: {image_id}")
    freed = collect(cfg).bytes if doomed_ids else 0
    return PruneResult(lines, freed)


def _users_all(cfg: Config) -> list[dict[str, Any]]:
    from pynerd.containers.store import ContainerStore

    return ContainerStore(cfg.namespace_root).list()


def _labels(cfg: Config, r: Record) -> dict[str, str]:
    from pynerd.content.store import ContentStore
    from pynerd.images.manifest import load_json

    config = load_json(ContentStore(cfg.data_root / "content").read(r["Config"]), "image config")
    return dict((config.get("config") or {}).get("Labels") or {})
