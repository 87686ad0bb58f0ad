"""``info``: system-wide facts in the shape of Docker's ``info`` JSON."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from pynerd.config import Config
from pynerd.procs import Runner


def cgroup_version(root: Path = Path("/sys/fs/cgroup")) -> str:
    """ "2" on a unified hierarchy, "1" on a legacy or hybrid one."""
    return "2" if (root / "cgroup.controllers").exists() else "1"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def info(cfg: Config, runner: Runner | None = None) -> dict[str, Any]:
    from pynerd.containers.store import ContainerStore
    from pynerd.images.store import ImageStore
    from pynerd.system.version import server_section

    containers = ContainerStore(cfg.namespace_root).list()
    states = [c.get("State", {}).get("Status") for c in containers]
    server = server_section(cfg, runner)
    comps = {c["Name"]: c for c in server["Components"]}
    runc = comps.get("runc", {})
    cni = comps.get("cni-plugins", {})
    warnings = []
    if runc.get("Version") == "not found":
        warnings.append("WARNING: runc not found in $PATH")
    if cni.get("Version") == "not found":
        warnings.append(f"WARNING: no CNI plugins found in {':'.join(cfg.cni_path)}")
    return {
        "ID": "",
        "Containers": len(containers),
        "ContainersRunning": states.count("running"),
        "ContainersPaused": states.count("paused"),
        "ContainersStopped": len(containers) - states.count("running") - states.count("paused"),
        "Images": len(ImageStore(cfg.namespace_root).list()),
        "Driver": cfg.snapshotter,
        "DriverStatus": [["Snapshotter", cfg.snapshotter]],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "macvlan", "ipvlan", "null"],
            "Log": ["json-file"],
        },
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version(),
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "Architecture": platform.machine(),
        "NCPU": os.cpu_count() or 1,
        "MemTotal": _mem_total(),
        "DockerRootDir": str(cfg.data_root),
        "Name": platform.node(),
        "Labels": [],
        "ServerVersion": server["Version"],
        "Runtimes": {"runc": {"path": runc.get("Details", {}).get("Path", "runc")}},
        "DefaultRuntime": "runc",
        "RuncCommit": {"ID": runc.get("Details", {}).get("GitCommit", "")},
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Warnings": warnings,
        "Pynerd": {
            "Namespace": cfg.namespace,
            "RunRoot": str(cfg.run_root),
            "ConfigFile": str(cfg.config_file) if cfg.config_file else "",
            "RuncVersion": runc.get("Version", ""),
            "CNI": {
                "Path": list(cfg.cni_path),
                "NetconfPath": str(cfg.cni_netconfpath),
                "Plugins": cni.get("Details", {}).get("Plugins", ""),
                "Version": cni.get("Version", ""),
            },
            "InsecureRegistries": list(cfg.insecure_registries),
            "HostsDir": list(cfg.hosts_dir),
        },
    }


def render_plain(i: dict[str, Any], debug: bool) -> str:
    """The text ``pynerd info`` prints without --format, laid out like Docker's."""
    p = i["Pynerd"]
    lines = [
        "Client:",
        f" Version:    {i['ServerVersion']}",
        f" Namespace:  {p['Namespace']}",
        f" Debug Mode: {str(debug).lower()}",
        "",
        "Server:",
        f" Containers: {i['Containers']}",
        f"  Running: {i['ContainersRunning']}",
        f"  Paused: {i['ContainersPaused']}",
        f"  Stopped: {i['ContainersStopped']}",
        f" Images: {i['Images']}",
        f" Server Version: {i['ServerVersion']} (daemonless)",
        f" Storage Driver: {i['Driver']}",
        f" Cgroup Driver: {i['CgroupDriver']}",
        f" Cgroup Version: {i['CgroupVersion']}",
        " Plugins:",
        f"  Volume: {' '.join(i['Plugins']['Volume'])}",
        f"  Network: {' '.join(i['Plugins']['Network'])}",
        f"  Log: {' '.join(i['Plugins']['Log'])}",
        f"  CNI: {p['CNI']['Plugins'] or 'none'} (in {':'.join(p['CNI']['Path'])})",
        f" Runtimes: {' '.join(i['Runtimes'])}",
        f" Default Runtime: {i['DefaultRuntime']}",
        f" runc version: {p['RuncVersion']}",
        f" Kernel Version: {i['KernelVersion']}",
        f" Operating System: {i['OperatingSystem']}",
        f" OSType: {i['OSType']}",
        f" Architecture: {i['Architecture']}",
        f" CPUs: {i['NCPU']}",
        f" Total Memory: {i['MemTotal'] / (1 << 30):.2f}GiB",
        f" Name: {i['Name']}",
        f" Docker Root Dir: {i['DockerRootDir']}",
        f" Run Root Dir: {p['RunRoot']}",
        f" CNI Config Dir: {p['CNI']['NetconfPath']}",
        f" Debug Mode: {str(debug).lower()}",
        " Insecure Registries:",
    ]
    lines += [f"  {r}" for r in p["InsecureRegistries"]] + [
        "  127.0.0.0/8",
        " Live Restore Enabled: false",
        "",
    ]
    text = "\n".join(lines)
    if i["Warnings"]:
        text += "\n".join(i["Warnings"]) + "\n"
    return text
