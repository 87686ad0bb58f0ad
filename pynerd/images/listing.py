"""``images``: rows as Docker shows them, with its filters."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pynerd.config import Config
from pynerd.filters import label_matches, parse_filters
from pynerd.format.listing import ListingSpec
from pynerd.format.units import human_duration, human_size
from pynerd.images.view import ImageCatalog, ImageView, split_name

IMAGES_SPEC = ListingSpec(
    default_table="table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    headers={
        "Repository": "REPOSITORY",
        "Tag": "TAG",
        "ID": "IMAGE ID",
        "Digest": "DIGEST",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "Size": "SIZE",
        "Containers": "CONTAINERS",
        "SharedSize": "SHARED SIZE",
        "UniqueSize": "UNIQUE SIZE",
        "VirtualSize": "SIZE",
        "Platform": "PLATFORM",
    },
)
IMAGES_DIGEST_TABLE = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)
IMAGE_FILTERS = ("dangling", "label", "reference", "before", "since", "until")


@dataclass(frozen=True)
class ImagesOptions:
    repository: str | None = None
    all: bool = False
    digests: bool = False
    no_trunc: bool = False
    filters: list[str] = field(default_factory=list)


def parse_created(value: str) -> float:
    if not value:
        return 0.0
    from datetime import datetime

    text = value.replace("Z", "+00:00")
    if "." in text:  # Python's parser takes at most microseconds
        head, _, tail = text.partition(".")
        frac = "".join(c for c in tail if c.isdigit())
        text = f"{head}.{frac[:6]}{tail[len(frac) :]}"
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return 0.0


class ImageRow:
    def __init__(self, view: ImageView, trunc: bool = True, now: float | None = None) -> None:
        self.view = view
        self.trunc = trunc
        self.now = time.time() if now is None else now
        self.Repository, self.Tag = split_name(view.record["Name"])
        if "@" in view.record["Name"]:
            self.Tag = "<none>"

    @property
    def ID(self) -> str:
        return self.view.id[7:19] if self.trunc else self.view.id

    @property
    def Digest(self) -> str:
        if self.view.record.get("Dangling"):
            return "<none>"
        return str(self.view.record["Target"]["digest"])

    @property
    def created(self) -> float:
        return parse_created(self.view.config.get("created", ""))

    @property
    def CreatedSince(self) -> str:
        if not self.created:
            return "N/A"
        return human_duration(self.now - self.created) + " ago"

    @property
    def CreatedAt(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(self.created))

    @property
    def Size(self) -> str:
        return human_size(self.view.size)

    VirtualSize = Size

    @property
    def Containers(self) -> str:
        return "N/A"

    SharedSize = Containers
    UniqueSize = Containers

    @property
    def Platform(self) -> str:
        return str(self.view.record.get("Platform", ""))

    def to_json(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "Containers",
                "CreatedAt",
                "CreatedSince",
                "Digest",
                "ID",
                "Repository",
                "SharedSize",
                "Size",
                "Tag",
                "UniqueSize",
                "VirtualSize",
            )
        }


def _matches_reference(name: str, patterns: list[str]) -> bool:
    from fnmatch import fnmatchcase

    repo, tag = split_name(name)
    candidates = [repo, f"{repo}:{tag}", name]
    return any(fnmatchcase(c, p) for p in patterns for c in candidates)


def list_images(cfg: Config, opts: ImagesOptions) -> list[ImageRow]:
    f = parse_filters(opts.filters, IMAGE_FILTERS)
    catalog = ImageCatalog(cfg)
    views = catalog.views()
    now = time.time()
    rows = [ImageRow(v, trunc=not opts.no_trunc, now=now) for v in views]
    if opts.repository:
        rows = [r for r in rows if _matches_reference(r.view.record["Name"], [opts.repository])]
    if "dangling" in f:
        want_dangling = f["dangling"][-1].lower() in ("true", "1")
        rows = [r for r in rows if bool(r.view.record.get("Dangling")) == want_dangling]
    if "label" in f:
        rows = [
            r
            for r in rows
            if label_matches((r.view.config.get("config") or {}).get("Labels"), f["label"])
        ]
    if "reference" in f:
        rows = [r for r in rows if _matches_reference(r.view.record["Name"], f["reference"])]
    for key in ("before", "since"):
        for ref in f.get(key, []):
            pivot = ImageRow(catalog.view(ref)).created
            rows = [
                r for r in rows if (r.created < pivot if key == "before" else r.created > pivot)
            ]
    rows.sort(key=lambda r: (-r.created, r.Repository, r.Tag))
    return rows
