"""The result cache: what ADD returned, kept for CHECK and DEL (libcni's format).

One file per attachment, ``<cache_dir>/results/<network>-<containerID>-<ifname>``, in
libcni's ``cniCacheV1`` JSON so cnitool/nerdctl tooling reads it too::

    {"kind": "cniCacheV1", "containerId": …, "config": <base64 of the list JSON>,
     "ifName": …, "networkName": …, "netns": …, "cniArgs": [[k, v], …],
     "capabilityArgs": {…}, "result": {…}}

(``config`` is base64 because libcni's field is a Go ``[]byte``.) Writes are atomic
renames but not fsynced: everything a cache entry describes (netns, veth, iptables
rules) is gone after a power loss anyway, and ADD is on the critical path of ``run``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pynerd.network.cni.errors import CNIError
from pynerd.state.atomic import atomic_write
from pynerd.structs import frozen_record

KIND = "cniCacheV1"


@frozen_record
class CacheEntry:
    container_id: str
    network_name: str
    ifname: str
    config: bytes  # the network list's JSON at ADD time
    netns: str
    cni_args: list[tuple[str, str]]
    capability_args: dict[str, Any]
    result: dict[str, Any] | None


def cache_path(cache_dir: Path, network: str, container_id: str, ifname: str) -> Path:
    if not network or not container_id or not ifname:
        raise CNIError(
            f"cache file path requires network name ({network!r}), container ID "
            f"({container_id!r}), and interface name ({ifname!r})"
        )
    return cache_dir / "results" / f"{network}-{container_id}-{ifname}"


def write(path: Path, entry: CacheEntry) -> None:
    obj: dict[str, Any] = {
        "kind": KIND,
        "containerId": entry.container_id,
        "config": _b64encode(entry.config),
        "ifName": entry.ifname,
        "networkName": entry.network_name,
    }
    if entry.netns:
        obj["netns"] = entry.netns
    if entry.cni_args:
        obj["cniArgs"] = [[k, v] for k, v in entry.cni_args]
    if entry.capability_args:
        obj["capabilityArgs"] = entry.capability_args
    if entry.result is not None:
        obj["result"] = entry.result
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write(path, json.dumps(obj).encode(), mode=0o600, durable=False)


def read(path: Path) -> CacheEntry | None:
    """The entry at ``path``; None if there is none; CNIError if it is unreadable.

    A file without ``kind`` is libcni's legacy cache: the bare result JSON.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise CNIError(f"cannot read cached result {path}: {e.strerror}") from None
    try:
        obj = json.loads(data)
        if not isinstance(obj, dict):
            raise ValueError("not an object")
        if "kind" not in obj:  # legacy: the result itself
            return CacheEntry("", "", "", b"", "", [], {}, obj)
        if obj["kind"] != KIND:
            raise ValueError(f"wrong kind {obj['kind']!r}")
        return CacheEntry(
            container_id=str(obj.get("containerId", "")),
            network_name=str(obj.get("networkName", "")),
            ifname=str(obj.get("ifName", "")),
            config=_b64decode(obj.get("config") or ""),
            netns=str(obj.get("netns", "")),
            cni_args=[(str(k), str(v)) for k, v in obj.get("cniArgs") or []],
            capability_args=dict(obj.get("capabilityArgs") or {}),
            result=obj.get("result"),
        )
    except (ValueError, TypeError) as e:
        raise CNIError(f"invalid cached result {path}: {e}") from None


def remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _b64encode(data: bytes) -> str:
    import binascii  # base64 itself costs ~1 ms to import; binascii is built in

    return binascii.b2a_base64(data, newline=False).decode()


def _b64decode(text: str) -> bytes:
    import binascii

    return binascii.a2b_base64(text)
