"""The image store: one record per image name, in the namespace's ``images`` bucket.

Keys are canonical references (``docker.io/library/busybox:latest``, or
``name@sha256:…`` for an image pulled by digest); values hold what ``pull``
resolved, like containerd's image metadata::

    {"Name": "docker.io/library/busybox:latest",
     "Target": {"mediaType": ..., "digest": ..., "size": ...},   # what the name points to
     "Manifest": {...descriptor of the platform manifest used...},
     "Config": "sha256:…",                                         # the image ID
     "Platform": "linux/amd64", "Created": "<RFC 3339>", "Updated": "<RFC 3339>"}

Blobs live in the shared content store and layers in the snapshotter; this
store only names them. Several names may share one image ID (``tag``).
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from pynerd.errors import InvalidArgument, no_such_image
from pynerd.state.kv import KVStore

Record = dict[str, Any]
_HEX = set("0123456789abcdef")


class ImageStore:
    def __init__(self, namespace_root: Path) -> None:
        self.records = KVStore(namespace_root / "kv").bucket("images")

    def list(self) -> builtins.list[Record]:
        return [value for _, value in self.records.items()]

    def get(self, name: str) -> Record | None:
        return self.records.get(name)

    def put(self, record: Record) -> None:
        self.records.put(record["Name"], record)

    def delete(self, name: str) -> bool:
        return self.records.delete(name)

    def by_id(self, image_id: str) -> builtins.list[Record]:
        return [r for r in self.list() if r.get("Config") == image_id]

    def lookup(self, text: str) -> builtins.list[Record]:
        """Records for a user's image argument: an ID (prefix), a digest or a reference.

        Docker's order: a full or short ID first, then a reference. Returns every
        record sharing the matched image (so ``rmi ID`` sees all its tags); raises
        ``No such image`` when nothing matches.
        """
        ident = text[7:] if text.startswith("sha256:") else text
        if ident and len(ident) <= 64 and set(ident) <= _HEX:
            ids = {r["Config"] for r in self.list() if r.get("Config", "")[7:].startswith(ident)}
            if len(ids) > 1:
                raise InvalidArgument(f"{text}: image ID prefix is ambiguous")
            if ids:
                return self.by_id(ids.pop())
        from pynerd.registry.reference import parse_reference

        try:
            ref = parse_reference(text)
        except InvalidArgument:
            raise no_such_image(text) from None
        record = self.get(str(ref))
        if record is None and ref.digest:
            # name@digest: any record of that repository whose target or manifest has it
            for r in self.list():
                if r["Name"].rsplit(":", 1)[0].split("@")[0] == ref.name and ref.digest in (
                    r.get("Target", {}).get("digest"),
                    r.get("Manifest", {}).get("digest"),
                ):
                    record = r
                    break
        if record is None:
            raise no_such_image(text if ":" in text or "@" in text else f"{text}:latest")
        return [record]
