"""The image store: one record per image name, in the namespace's ``images`` bucket.

Keys are full references (``docker.io/library/busybox:latest``); values hold the
target manifest descriptor and the config digest, like containerd's image
metadata. Blobs themselves live in the shared content store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pynerd.state.kv import KVStore

Record = dict[str, Any]


class ImageStore:
    def __init__(self, namespace_root: Path) -> None:
        self.records = KVStore(namespace_root / "kv").bucket("images")

    def list(self) -> list[Record]:
        return [value for _, value in self.records.items()]
