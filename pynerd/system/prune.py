"""``system prune``: stopped containers, unused networks, unused images (and volumes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pynerd.config import Config


@dataclass
class SystemPruneResult:
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # "untagged: …" / "deleted: …" lines
    volumes: list[str] = field(default_factory=list)
    space: int = 0


def system_prune(
    cfg: Config, all: bool = False, volumes: bool = False, filters: list[str] | None = None
) -> SystemPruneResult:
    """Docker's order: containers first, so the images and volumes they held become unused."""
    from pynerd.containers.remove import prune as prune_containers
    from pynerd.images.manage import prune as prune_images

    result = SystemPruneResult()
    result.containers, space = prune_containers(cfg, filters)
    result.space += space
    from pynerd.containers.network import reaper
    from pynerd.network.manage import prune as prune_networks

    result.networks = prune_networks(
        cfg, [f for f in (filters or []) if f.startswith(("label", "until"))], reaper(cfg)
    )
    if volumes:
        from pynerd.volumes.store import VolumeStore

        names, freed = VolumeStore(cfg.namespace_root).prune(filters or [], False)
        result.volumes, result.space = names, result.space + freed
    images = prune_images(cfg, all, [f for f in (filters or []) if not f.startswith("label!=")])
    result.images, result.space = images.deleted, result.space + images.space
    return result
