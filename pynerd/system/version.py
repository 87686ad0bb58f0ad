"""``version``: the client and engine sections in Docker's JSON shape.

Slow facts (runc's and the CNI plugins' versions need an exec each) are cached
in the runtime dir keyed by the binary's path, size and mtime, so a repeated
``pynerd version`` costs a stat per binary, not a process.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from pynerd import __version__
from pynerd.config import Config
from pynerd.procs import Runner

API_VERSION = "1.43"  # the Docker Engine API level whose JSON shapes pynerd follows
_BUILD_TIME = "unknown"


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


def client_section(cfg: Config) -> dict[str, Any]:
    return {
        "Platform": {"Name": "pynerd"},
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "GitCommit": "",
        "GoVersion": f"python{platform.python_version()}",
        "Os": sys.platform,
        "Arch": _arch(),
        "BuildTime": _BUILD_TIME,
        "Context": "default",
        "Experimental": False,
    }


class _VersionCache:
    """Versions of external binaries, invalidated when the binary changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data: dict[str, Any] = json.loads(path.read_bytes())
        except (OSError, ValueError):
            self.data = {}
        self.dirty = False

    def get(self, binary: str, compute: Any) -> Any:
        st = os.stat(binary)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
        hit = self.data.get(binary)
        if hit and hit.get("stamp") == stamp:
            return hit["value"]
        value = compute()
        self.data[binary] = {"stamp": stamp, "value": value}
        self.dirty = True
        return value

    def save(self) -> None:
        if not self.dirty:
            return
        from pynerd.state.atomic import atomic_write

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(self.data).encode(), durable=False)
        except OSError:
            pass  # a cache; failing to write it only costs time next run


def runc_component(cfg: Config, cache: _VersionCache, runner: Runner | None) -> dict[str, Any]:
    from pynerd.runtime.runc import Runc

    runc = Runc(runner=runner)
    path = runc.path()

    def compute() -> dict[str, Any]:
        v = runc.version()
        return {"Version": v.version, "GitCommit": v.commit, "Spec": v.spec}

    v = cache.get(path, compute)
    return {
        "Name": "runc",
        "Version": v["Version"],
        "Details": {"GitCommit": v["GitCommit"], "Spec": v["Spec"], "Path": path},
    }


def cni_component(cfg: Config, cache: _VersionCache, runner: Runner | None) -> dict[str, Any]:
    from pynerd.network.plugins import discover, plugin_info

    found = discover(cfg.cni_path)
    details: dict[str, Any] = {"Path": ":".join(cfg.cni_path), "Plugins": ",".join(found)}
    version = "not found"
    if "bridge" in found:
        path = found["bridge"]

        def compute() -> dict[str, Any]:
            info = plugin_info("bridge", path, runner)
            return {"Version": info.version, "Spec": list(info.cni_versions)}

        v = cache.get(path, compute)
        version = v["Version"]
        details["SupportedSpecVersions"] = ",".join(v["Spec"])
    return {"Name": "cni-plugins", "Version": version, "Details": details}


def server_section(cfg: Config, runner: Runner | None = None) -> dict[str, Any]:
    from pynerd.errors import Unavailable

    cache = _VersionCache(cfg.run_root / "cache" / "versions.json")
    components: list[dict[str, Any]] = [
        {
            "Name": "pynerd",
            "Version": __version__,
            "Details": {
                "ApiVersion": API_VERSION,
                "Os": "linux",
                "Arch": _arch(),
                "KernelVersion": platform.release(),
                "Daemonless": "true",
            },
        },
    ]
    try:
        components.append(runc_component(cfg, cache, runner))
    except Unavailable as e:
        components.append({"Name": "runc", "Version": "not found", "Details": {"Error": str(e)}})
    components.append(cni_component(cfg, cache, runner))
    cache.save()
    return {
        "Platform": {"Name": "pynerd (daemonless)"},
        "Components": components,
        "Version": __version__,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": "1.24",
        "GitCommit": "",
        "GoVersion": f"python{platform.python_version()}",
        "Os": "linux",
        "Arch": _arch(),
        "KernelVersion": platform.release(),
        "BuildTime": _BUILD_TIME,
    }


def version(cfg: Config, runner: Runner | None = None) -> dict[str, Any]:
    """Docker's ``version`` object: ``{"Client": {...}, "Server": {...}}``."""
    return {"Client": client_section(cfg), "Server": server_section(cfg, runner)}


def render_plain(v: dict[str, Any]) -> str:
    """The text ``pynerd version`` prints without --format, laid out like Docker's."""
    c, s = v["Client"], v["Server"]
    lines = [
        "Client:",
        f" Version:           {c['Version']}",
        f" API version:       {c['ApiVersion']}",
        f" Python version:    {c['GoVersion'].removeprefix('python')}",
        f" Built:             {c['BuildTime']}",
        f" OS/Arch:           {c['Os']}/{c['Arch']}",
        f" Context:           {c['Context']}",
        "",
        f"Server: {s['Platform']['Name']}",
    ]
    for comp in s["Components"]:
        lines.append(f" {comp['Name']}:")
        lines.append(f"  Version:          {comp['Version']}")
        for key, value in comp.get("Details", {}).items():
            label = f"{key}:"
            lines.append(f"  {label:<17} {value}")
    return "\n".join(lines) + "\n"
