"""``pynerd __complete KIND [GLOBAL FLAGS]``: live names for the shell completions.

The completion scripts in ``completions/`` know the commands and flags already (they
are generated from the command tree); they call this only for the names of live
objects. A shell waits for it on every <Tab>, so it stays lean: ``main()`` hands argv
here before typer is imported, and this reads the stores' files directly (the name
index, the volume and image buckets, the CNI config directory) with nothing heavier
than ``json`` and ``urllib.parse``. It never fails loudly: a missing or unreadable
store completes nothing, and the exit code is 0.

KIND is one of :data:`KINDS`. The global flags are those the user typed before the
command on the line being completed (``--data-root``, ``-n/--namespace``,
``--cni-netconfpath``); the environment and the TOML file apply as for any command.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

KINDS = (
    "containers",
    "running-containers",
    "stopped-containers",
    "paused-containers",
    "images",
    "volumes",
    "networks",
)
# Global flags that decide where the names live: flag -> config key.
_FLAGS = {
    "--data-root": "data_root",
    "--run-root": "run_root",
    "-n": "namespace",
    "--namespace": "namespace",
    "--cni-netconfpath": "cni_netconfpath",
}
_PSEUDO_NETWORKS = ("bridge", "host", "none")


def parse_flags(args: list[str]) -> dict[str, Any]:
    flags: dict[str, Any] = {}
    i = 0
    while i < len(args):
        name, eq, value = args[i].partition("=")
        if name in _FLAGS:
            if not eq:
                i += 1
                if i >= len(args):
                    break
                value = args[i]
            flags[_FLAGS[name]] = value
        i += 1
    return flags


def _bucket(ns_root: Path, name: str) -> Any:
    from pynerd.state.kv import Bucket

    return Bucket(ns_root / "kv" / name)


def _keys(ns_root: Path, name: str) -> list[str]:
    try:
        keys: list[str] = _bucket(ns_root, name).keys()
    except OSError:
        return []
    return keys


def _get(ns_root: Path, bucket: str, key: str) -> Any:
    try:
        return _bucket(ns_root, bucket).get(key)
    except (OSError, ValueError):
        return None


def container_names(ns_root: Path, states: Iterable[str] | None = None) -> list[str]:
    names = _keys(ns_root, "names")
    if states is None:
        return names
    wanted = set(states)
    out = []
    for name in names:
        ref = _get(ns_root, "names", name)
        cid = ref.get("Id") if isinstance(ref, dict) else None
        record = _get(ns_root, "containers", cid) if isinstance(cid, str) and cid else None
        state = record.get("State") if isinstance(record, dict) else None
        if isinstance(state, dict) and state.get("Status") in wanted:
            out.append(name)
    return out


def image_names(ns_root: Path) -> list[str]:
    """``repo:tag`` as ``pynerd images`` shows them (busybox:latest, not docker.io/…)."""
    from pynerd.registry.reference import parse_reference

    out = []
    for key in _keys(ns_root, "images"):
        try:
            ref = parse_reference(key)
        except Exception:
            continue
        if ref.tag is not None:
            out.append(f"{ref.familiar_name}:{ref.tag}")
    return out


def volume_names(ns_root: Path) -> list[str]:
    return _keys(ns_root, "volumes")


def _read_json(path: Path) -> Any:
    import json

    try:
        with open(path, "rb") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def network_names(netconfpath: Path) -> list[str]:
    """The networks ``pynerd network ls`` lists: CNI config lists, plus the built-ins."""
    out = list(_PSEUDO_NETWORKS)
    try:
        files = sorted(os.listdir(netconfpath))
    except OSError:
        return out
    for fname in files:
        if fname.startswith(".") or not fname.endswith((".conflist", ".conf", ".json")):
            continue
        doc = _read_json(netconfpath / fname)
        name = doc.get("name") if isinstance(doc, dict) else None
        if isinstance(name, str) and name and name not in out:
            out.append(name)
    return out


def names(kind: str, flags: dict[str, Any]) -> list[str]:
    from pynerd.config import load

    cfg = load(flags, os.environ)
    ns_root = cfg.namespace_root
    if kind == "containers":
        found = container_names(ns_root)
    elif kind == "running-containers":
        found = container_names(ns_root, ("running",))
    elif kind == "stopped-containers":
        found = container_names(ns_root, ("created", "exited", "dead"))
    elif kind == "paused-containers":
        found = container_names(ns_root, ("paused",))
    elif kind == "images":
        found = image_names(ns_root)
    elif kind == "volumes":
        found = volume_names(ns_root)
    elif kind == "networks":
        found = network_names(cfg.cni_netconfpath)
    else:
        found = []
    return sorted(set(found))


def main(argv: list[str]) -> int:
    if not argv:
        sys.stderr.write(f"usage: pynerd __complete {{{','.join(KINDS)}}} [GLOBAL FLAGS]\n")
        return 2
    try:
        found = names(argv[0], parse_flags(argv[1:]))
    except Exception:  # a broken config or store completes nothing, silently
        found = []
    if found:
        sys.stdout.write("\n".join(found) + "\n")
    return 0
