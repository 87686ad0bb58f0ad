"""``history``: the layers of an image, newest first, as Docker prints them."""

from __future__ import annotations

import time
from typing import Any

from pynerd.config import Config
from pynerd.format.listing import ListingSpec
from pynerd.format.units import human_duration, human_size
from pynerd.images.listing import parse_created
from pynerd.images.view import ImageCatalog

HISTORY_SPEC = ListingSpec(
    default_table="table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    headers={
        "ID": "IMAGE",
        "CreatedSince": "CREATED",
        "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY",
        "Size": "SIZE",
        "Comment": "COMMENT",
    },
)


class HistoryRow:
    def __init__(self, entry: dict[str, Any], trunc: bool, human: bool, now: float) -> None:
        self.entry, self.trunc, self.human, self.now = entry, trunc, human, now

    @property
    def ID(self) -> str:
        i = str(self.entry["Id"])
        return i[7:19] if self.trunc and i.startswith("sha256:") else i

    @property
    def CreatedSince(self) -> str:
        t = parse_created(self.entry["Created"])
        if not self.human:
            return self.CreatedAt
        return human_duration(self.now - t) + " ago" if t else "N/A"

    @property
    def CreatedAt(self) -> str:
        return str(self.entry["Created"])

    @property
    def CreatedBy(self) -> str:
        text = " ".join(str(self.entry["CreatedBy"]).split())
        if self.trunc and len(text) > 45:
            text = text[:44] + "…"
        return text

    @property
    def Size(self) -> str:
        return human_size(self.entry["Size"]) if self.human else str(self.entry["Size"])

    @property
    def Comment(self) -> str:
        return str(self.entry["Comment"])

    def to_json(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size")
        }


def history_rows(
    cfg: Config, image: str, no_trunc: bool = False, human: bool = True
) -> list[HistoryRow]:
    now = time.time()
    entries = ImageCatalog(cfg).view(image).history()
    return [HistoryRow(e, not no_trunc, human, now) for e in entries]
