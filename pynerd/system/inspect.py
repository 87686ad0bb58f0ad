"""``inspect``: any object by name or ID, in Docker's JSON shape."""

from __future__ import annotations

from typing import Any

from pynerd.config import Config
from pynerd.errors import InvalidArgument, NotFound, PynerdError

TYPES = ("container", "image", "network", "volume")


def inspect_objects(
    cfg: Config, names: list[str], type: str | None = None, size: bool = False
) -> tuple[list[dict[str, Any]], list[PynerdError]]:
    """Objects found (in argument order) and one error per name that matched nothing."""
    if type is not None and type not in TYPES:
        raise InvalidArgument(f'"{type}" is not a valid value for --type')
    found: list[dict[str, Any]] = []
    errors: list[PynerdError] = []
    for name in names:
        try:
            found.append(_one(cfg, name, type, size))
        except NotFound as e:
            if type is None:
                errors.append(NotFound(f"No such object: {name}"))
            else:
                errors.append(e)
    return found, errors


def _one(cfg: Config, name: str, type: str | None, size: bool = False) -> dict[str, Any]:
    """Docker's lookup order without --type: container, image, network, volume."""
    if type in (None, "container"):
        from pynerd.containers.control import find

        try:
            record = find(cfg, name)
            if size:
                from pynerd.containers.listing import with_sizes

                record = with_sizes(cfg, record)
            return {k: v for k, v in record.items() if k != "Pynerd"}  # private bookkeeping
        except NotFound:
            if type == "container":
                raise
    if type in (None, "image"):
        from pynerd.images.view import ImageCatalog

        try:
            return ImageCatalog(cfg).view(name).inspect()
        except NotFound:
            if type == "image":
                raise
    if type in (None, "network"):
        from pynerd.containers.network import reaper
        from pynerd.network.manage import inspect as inspect_networks

        found, errors = inspect_networks(cfg, [name], reaper(cfg))
        if found:
            return found[0]
        if type == "network":
            raise errors[0]
    from pynerd.volumes.store import VolumeStore

    return VolumeStore(cfg.namespace_root).get(name)


def inspect_images(cfg: Config, names: list[str]) -> tuple[list[dict[str, Any]], list[PynerdError]]:
    from pynerd.images.view import ImageCatalog

    catalog = ImageCatalog(cfg)
    found: list[dict[str, Any]] = []
    errors: list[PynerdError] = []
    for name in names:
        try:
            found.append(catalog.view(name).inspect())
        except NotFound as e:
            errors.append(e)
    return found, errors
