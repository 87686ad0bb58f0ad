"""Where a container's files live (see docs/dir.md).

Persistent, under the namespace root (survives reboots)::

    containers/<id>/config.json        the OCI bundle's spec (rootfs = ./rootfs)
    containers/<id>/rootfs/            mount point of the container's snapshot
    containers/<id>/hostname, hosts, resolv.conf   bind-mounted into the container
    containers/<id>/<id>-json.log      Docker's json-file log

Volatile, under the runtime dir (tmpfs; lost at reboot, like the processes)::

    <run_root>/<ns>/containers/<id>/monitor.pid   the monitor process
    <run_root>/<ns>/containers/<id>/init.pid      the container's init (from runc)
    <run_root>/<ns>/containers/<id>/console.sock  runc hands the pty master over it (-t)
    <run_root>/<ns>/containers/<id>/attach.sock   the monitor serves attach clients on it
    <run_root>/runc/<ns>/                         runc's own state root (--root)
"""

from __future__ import annotations

from pathlib import Path

from pynerd.config import Config
from pynerd.structs import frozen_record


@frozen_record
class ContainerPaths:
    id: str
    dir: Path
    run_dir: Path
    runc_root: Path

    @property
    def bundle(self) -> Path:
        return self.dir

    @property
    def spec(self) -> Path:
        return self.dir / "config.json"

    @property
    def rootfs(self) -> Path:
        return self.dir / "rootfs"

    @property
    def hostname(self) -> Path:
        return self.dir / "hostname"

    @property
    def hosts(self) -> Path:
        return self.dir / "hosts"

    @property
    def resolv_conf(self) -> Path:
        return self.dir / "resolv.conf"

    @property
    def log(self) -> Path:
        return self.dir / f"{self.id}-json.log"

    @property
    def monitor_pid(self) -> Path:
        return self.run_dir / "monitor.pid"

    @property
    def init_pid(self) -> Path:
        return self.run_dir / "init.pid"

    @property
    def console_socket(self) -> Path:
        return self.run_dir / "console.sock"

    @property
    def attach_socket(self) -> Path:
        return self.run_dir / "attach.sock"


def paths(cfg: Config, container_id: str) -> ContainerPaths:
    return ContainerPaths(
        id=container_id,
        dir=cfg.namespace_root / "containers" / container_id,
        run_dir=cfg.namespace_run_root / "containers" / container_id,
        runc_root=cfg.run_root / "runc" / cfg.namespace,
    )
