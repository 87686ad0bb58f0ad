"""Finding CNI plugin binaries on the configured search path and asking their versions."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pynerd.procs import Runner, SubprocessRunner, find_executable
from pynerd.structs import frozen_record

# Plugins pynerd relies on, in the order `info` reports them.
KNOWN_PLUGINS = (
    "bridge",
    "host-local",
    "loopback",
    "portmap",
    "firewall",
    "tuning",
    "macvlan",
    "ipvlan",
)


@frozen_record
class PluginInfo:
    name: str
    path: str
    version: str
    cni_versions: tuple[str, ...]


def discover(cni_path: Sequence[str]) -> dict[str, str]:
    """Map each known plugin found on ``cni_path`` to its binary."""
    found = {}
    for name in KNOWN_PLUGINS:
        path = find_executable(name, cni_path)
        if path:
            found[name] = path
    return found


def find_plugin(plugin_type: str, cni_path: Sequence[str]) -> str | None:
    """The binary of plugin ``plugin_type`` on ``cni_path`` (libcni's FindInPath).

    A type is a file name, never a path: "../x" or "/bin/sh" are not plugins.
    """
    if not plugin_type or "/" in plugin_type or plugin_type in (".", ".."):
        return None
    return find_executable(plugin_type, cni_path)


def plugin_info(name: str, path: str, runner: Runner | None = None) -> PluginInfo:
    """The plugin's own version line and the CNI spec versions it supports.

    Run without CNI_COMMAND a plugin prints 'CNI bridge plugin v1.3.0'; with
    CNI_COMMAND=VERSION it prints the spec versions as JSON.
    """
    r = runner or SubprocessRunner()
    about = r.run([path], env={}, timeout=10)
    version = "unknown"
    for line in (about.stdout + about.stderr).decode(errors="replace").splitlines():
        if line.startswith("CNI ") and " plugin " in line:
            version = line.rsplit(" ", 1)[-1]
            break
    spec = r.run([path], env={"CNI_COMMAND": "VERSION"}, input=b"{}", timeout=10)
    try:
        versions = tuple(json.loads(spec.stdout).get("supportedVersions", ()))
    except ValueError:
        versions = ()
    return PluginInfo(name, path, version, versions)
