"""Network configuration lists: loading ``.conflist``/``.conf`` files the way libcni does.

libcni's rules, kept so a directory shared with nerdctl, Podman or containerd means the
same thing to pynerd:

- ``*.conflist`` files are lists; ``*.conf`` and ``*.json`` files hold one plugin and are
  wrapped into a one-plugin list (``{"name", "cniVersion", "plugins": [conf]}``).
- files are read in lexical order of their names; a ``.conflist`` always beats a
  ``.conf``/``.json`` of the same network name, and within a kind the first file wins.
- an invalid file is an error (naming the file), not silently skipped.

Deviations, both for robustness: dot-files are ignored (pynerd's atomic writes leave
``.tmp-*`` files), and a network's name, ``cniVersion`` and each plugin's ``type`` are
validated at load time instead of at the first ADD, because the name ends up in the
result-cache file name and must not contain ``/``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pynerd.errors import network_not_found
from pynerd.network.cni import version
from pynerd.network.cni.errors import NetworkConfigError
from pynerd.structs import frozen_record, record_field

LIST_EXTENSIONS = (".conflist",)
SINGLE_EXTENSIONS = (".conf", ".json")
# The spec's rule for network names (libcni's utils.ValidateNetworkName).
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$")


@frozen_record
class NetworkConfigList:
    """One network: its plugins, in ADD order, as the raw JSON objects of the file.

    ``raw`` is the list's JSON as libcni keeps it (for a wrapped ``.conf``, the
    synthesized list), stored in the result cache as ``config``.
    """

    name: str
    cni_version: str
    plugins: list[dict[str, Any]] = record_field(compare=False)
    raw: bytes = record_field()
    path: Path | None = None
    disable_check: bool = False


def parse_list(data: bytes, path: Path | None = None) -> NetworkConfigList:
    """Parse a configuration list (the content of a ``.conflist`` file at ``path``)."""
    where = path or "<config>"
    obj = _json_object(data, where)
    name = _name(obj, where)
    cni_version = _cni_version(obj, where)
    disable_check = _bool(obj, "disableCheck", where)
    if "plugins" not in obj:
        raise NetworkConfigError(where, "no 'plugins' key")
    plugins = obj["plugins"]
    if not isinstance(plugins, list):
        raise NetworkConfigError(where, "'plugins' must be a list")
    if not plugins:
        raise NetworkConfigError(where, "no plugins in list")
    for i, plugin in enumerate(plugins):
        _check_plugin(plugin, f"plugin {i}", where)
    return NetworkConfigList(name, cni_version, plugins, bytes(data), path, disable_check)


def parse_single(data: bytes, path: Path | None = None) -> NetworkConfigList:
    """Parse a single-plugin ``.conf`` and wrap it into a list, as libcni's ConfListFromConf."""
    where = path or "<config>"
    obj = _json_object(data, where)
    _check_plugin(obj, "config", where)
    name = _name(obj, where)
    cni_version = _cni_version(obj, where)
    raw = json.dumps({"name": name, "cniVersion": cni_version, "plugins": [obj]}).encode()
    return NetworkConfigList(name, cni_version, [obj], raw, path)


def load_file(path: Path) -> NetworkConfigList:
    """Load one file; its extension says whether it is a list or a single config."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise NetworkConfigError(path, f"cannot read: {e.strerror}") from None
    if path.suffix in LIST_EXTENSIONS:
        return parse_list(data, path)
    return parse_single(data, path)


def config_files(directory: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Files of ``directory`` with one of ``extensions``, sorted by name; none if it is absent."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    except OSError as e:
        raise NetworkConfigError(directory, f"cannot list: {e.strerror}") from None
    found = []
    for entry in entries:
        if entry.name.startswith(".") or os.path.splitext(entry.name)[1] not in extensions:
            continue
        try:
            if entry.is_dir():
                continue
        except OSError:
            continue
        found.append(Path(entry.path))
    return sorted(found, key=lambda p: p.name)


def _candidates(directory: Path) -> Iterator[NetworkConfigList]:
    """Every configuration in libcni's precedence order: lists first, then single configs."""
    for path in config_files(directory, LIST_EXTENSIONS):
        yield load_file(path)
    for path in config_files(directory, SINGLE_EXTENSIONS):
        yield load_file(path)


def load_all(directory: Path) -> dict[str, NetworkConfigList]:
    """All networks of ``directory`` by name; for duplicate names the one libcni would load."""
    networks: dict[str, NetworkConfigList] = {}
    for net in _candidates(directory):
        networks.setdefault(net.name, net)
    return networks


def load(directory: Path, name: str) -> NetworkConfigList:
    """The network ``name`` (libcni's LoadConfList); NotFound ``network NAME not found``."""
    for net in _candidates(directory):
        if net.name == name:
            return net
    raise network_not_found(name)


def _json_object(data: bytes, path: Path | str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise NetworkConfigError(path, f"invalid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise NetworkConfigError(path, "expected a JSON object")
    return obj


def _name(obj: dict[str, Any], path: Path | str) -> str:
    name = obj.get("name")
    if name is None:
        raise NetworkConfigError(path, "missing 'name'")
    if not isinstance(name, str):
        raise NetworkConfigError(path, "'name' must be a string")
    if not NAME_RE.match(name):
        raise NetworkConfigError(
            path,
            f"invalid network name {name!r}: it must start with a letter or digit and "
            "contain only letters, digits, '_', '.' and '-'",
        )
    return name


def _cni_version(obj: dict[str, Any], path: Path | str) -> str:
    value = obj.get("cniVersion")
    if value is None:
        raise NetworkConfigError(path, "missing 'cniVersion'")
    if not isinstance(value, str) or not version.is_valid(value):
        raise NetworkConfigError(path, f"invalid cniVersion {value!r}")
    return value


def _bool(obj: dict[str, Any], key: str, path: Path | str) -> bool:
    """A boolean that libcni also accepts as the strings "true"/"false"."""
    value = obj.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise NetworkConfigError(path, f"invalid value {value!r} for {key!r}")


def _check_plugin(plugin: Any, what: str, path: Path | str) -> None:
    if not isinstance(plugin, dict):
        raise NetworkConfigError(path, f"{what}: expected a JSON object")
    kind = plugin.get("type")
    if not kind:
        raise NetworkConfigError(path, f"{what}: missing 'type'")
    if not isinstance(kind, str) or "/" in kind:
        raise NetworkConfigError(path, f"{what}: invalid 'type' {kind!r}")
    caps = plugin.get("capabilities", {})
    if not isinstance(caps, dict) or not all(isinstance(v, bool) for v in caps.values()):
        raise NetworkConfigError(path, f"{what}: 'capabilities' must map names to booleans")
