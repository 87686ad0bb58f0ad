"""The container store: one JSON record per container, plus a unique-name index.

Records live in the namespace's key/value store, bucket ``containers`` (keyed by
the 64-hex ID); names in bucket ``names`` (keyed by name, value holds the ID), so
that creating a name is an exclusive create under the bucket lock: two
concurrent creates can never both win the same name.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

from pynerd.errors import InvalidArgument, no_such_container
from pynerd.state.kv import KVStore

Record = dict[str, Any]


class ContainerStore:
    def __init__(self, namespace_root: Path) -> None:
        kv = KVStore(namespace_root / "kv")
        self.namespace_root = namespace_root
        self.records = kv.bucket("containers")
        self.names = kv.bucket("names")

    def list(self) -> builtins.list[Record]:
        from pynerd.state.pending import wait_pending

        wait_pending(self.namespace_root)  # a `run` that just returned may still clean up
        return [value for _, value in self.records.items()]

    def find(self, ref: str) -> Record:
        """A container by full ID, exact name, or unique ID prefix (Docker's lookup order)."""
        if not ref:
            raise InvalidArgument("container name or ID must not be empty")
        from pynerd.state.pending import wait_pending

        wait_pending(self.namespace_root)
        record = self.records.get(ref) if len(ref) == 64 else None
        if record is not None:
            return record
        named = self.names.get(ref.lstrip("/"))
        if named is not None:
            record = self.records.get(named["Id"])
            if record is not None:
                return record
        matches = [k for k in self.records.keys() if k.startswith(ref)]  # noqa: SIM118
        if len(matches) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        if matches:
            record = self.records.get(matches[0])
            if record is not None:
                return record
        raise no_such_container(ref)
