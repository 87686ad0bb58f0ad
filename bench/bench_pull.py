"""Image pull: pull and unpack the large rig image from a registry on 127.0.0.1.

The issue's targets: pynerd's pull takes at most 0.5x `docker pull`'s time, and
at most 1.5x the machine bound (download + decompression spread over all cores,
see pullbound.py). Every timed pull starts from an empty store, so it measures
download, decompression, extraction and bookkeeping, never a cache hit: the
`prepare` hooks empty each tool's store between runs, outside the timed region.

The peers run as private instances under the case's scratch directory (a
dockerd, a containerd for ctr, podman with its own --root), so no daemon has to
be running and nothing on the host changes: hostenv.HostGuard restores what the
daemons are known to touch, and teardown checks for leaks.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import hostenv
import pullbound
from case import WORK, Case, Prepared
from peers import PeerStatus

if TYPE_CHECKING:
    from tests.rig.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
REF = "{ref}"
STORE = f"{WORK}/pynerd"
PYNERD = ["--data-root", f"{STORE}/data", "--run-root", f"{STORE}/run"]
DOCKER_SOCK = f"unix://{WORK}/docker/docker.sock"
PODMAN = ["--root", f"{WORK}/podman/root", "--runroot", f"{WORK}/podman/run",
          "--tmpdir", f"{WORK}/podman/tmp", "--network-config-dir", f"{WORK}/podman/net",
          "--events-backend", "none", "--storage-driver", "overlay"]
CTR_SOCK = f"{WORK}/containerd/c.sock"
CTR_NS = "bench"
BOUND_RUNS = 5
# A pull takes seconds, not milliseconds: fewer runs than the start-up cases, one warm-up
# round (page cache, daemons' first-request costs), and room for a slow daemon.
RUNS, QUICK_RUNS, WARMUPS, TIMEOUT_S = 5, 3, 1, 300.0


def _sub(arg: str, work: Path) -> str:
    return arg.replace(WORK, str(work))


class PullEnv:
    """One case's world: the registry with the image, private peers, the host guard."""

    def __init__(self, peers: bool) -> None:
        self.with_peers = peers
        self.ref = ""
        self.registry: Registry | None = None
        self.daemons: list[hostenv.Daemon] = []
        self.guard: hostenv.HostGuard | None = None
        self.links: set[str] = set()
        self.firewall = ""

    # -- setup / teardown ---------------------------------------------------------------
    def setup(self, work: Path) -> Prepared:
        """Start the registry, push the image, measure the bound, start the peers."""
        self.guard = hostenv.HostGuard()
        self.links, self.firewall = hostenv.links(), hostenv.firewall()
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))  # the test rig lives in tests/, not in a package
        from tests.rig.images import build_large
        from tests.rig.registry import Registry

        self.registry = Registry()
        self.registry.start()
        self.ref = build_large(self.registry).ref
        bound = pullbound.measure(self.ref, BOUND_RUNS)
        peers: dict[str, PeerStatus] = {}
        if self.with_peers:
            for name, start in (("docker", self._start_docker), ("podman", self._check_podman),
                                ("ctr", self._start_containerd)):
                try:
                    peers[name] = start(work)
                except Exception as exc:
                    peers[name] = PeerStatus(name, shutil.which(name), None, False,
                                             f"could not start a private instance: {exc}")
        return Prepared(subst={REF: self.ref}, peers=peers, references=[bound],
                        notes=[pullbound.note(bound)])

    def teardown(self, work: Path) -> None:
        """Stop everything, remove every trace; raise if something could not be undone."""
        problems: list[str] = []
        for daemon in reversed(self.daemons):
            try:
                daemon.stop()
            except Exception as exc:
                problems.append(f"stopping {daemon.name}: {exc}")
        self.daemons.clear()
        hostenv.kill_pids(hostenv.processes_under(work))
        try:
            hostenv.unmount_under(work)
        except Exception as exc:
            problems.append(f"unmounting under {work}: {exc}")
        if self.registry is not None:
            self.registry.stop()
            self.registry = None
        if self.guard is not None:
            restored = self.guard.restore()
            if restored:
                print(f"bench: host restored: {'; '.join(restored)}", file=sys.stderr)
            self.guard = None
        problems += hostenv.leaks(work, self.links, self.firewall)
        if problems:
            raise RuntimeError("pull benchmark left traces: " + "; ".join(problems))

    # -- peers ----------------------------------------------------------------------------
    def _start_docker(self, work: Path) -> PeerStatus:
        """A private dockerd (with its own containerd): no bridge, no iptables, no sysctls."""
        docker, dockerd = shutil.which("docker"), shutil.which("dockerd")
        if docker is None or dockerd is None:
            missing = "docker" if docker is None else "dockerd"
            return PeerStatus("docker", docker, None, False, f"{missing} not installed")
        base = work / "docker"
        base.mkdir()
        (base / "daemon.json").write_text("{}\n")  # ignore /etc/docker/daemon.json
        sock = _sub(DOCKER_SOCK, work)
        daemon = hostenv.Daemon("dockerd", [
            dockerd, "--config-file", str(base / "daemon.json"),
            "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
            "--pidfile", str(base / "docker.pid"), "-H", sock,
            "--bridge=none", "--iptables=false", "--ip6tables=false",
            "--ip-forward=false", "--ip-masq=false",
        ], base / "dockerd.log")
        self.daemons.append(daemon)
        server = [docker, "-H", sock, "version", "--format", "{{.Server.Version}}"]
        daemon.start(lambda: hostenv.run_quiet(server, 5).returncode == 0, timeout_s=60)
        version = hostenv.run_quiet(server).stdout.strip()
        client = hostenv.run_quiet([docker, "--version"]).stdout.strip()
        return PeerStatus("docker", docker, f"{client}; dockerd {version}", True,
                          "private dockerd (overlay2, no bridge/iptables) on a scratch "
                          "--data-root; store emptied with `docker rmi` + `image prune` "
                          "before each run")

    def _check_podman(self, work: Path) -> PeerStatus:
        """podman needs no daemon: check that it works with a scratch root."""
        podman = shutil.which("podman")
        if podman is None:
            return PeerStatus("podman", None, None, False, "not installed")
        flags = [_sub(arg, work) for arg in PODMAN]
        probe = hostenv.run_quiet(
            [podman, *flags, "info", "--format", "{{.Store.GraphDriverName}}"])
        hostenv.remove_tree(work / "podman")
        version = hostenv.run_quiet([podman, "--version"]).stdout.strip()
        if probe.returncode != 0:
            why = (probe.stderr.strip().splitlines() or ["?"])[-1]
            return PeerStatus("podman", podman, version, False, f"`podman info` failed: {why}")
        return PeerStatus("podman", podman, version, True,
                          f"scratch --root/--runroot ({probe.stdout.strip()}), "
                          "removed before each run")

    def _start_containerd(self, work: Path) -> PeerStatus:
        """A private containerd (no CRI plugin) for `ctr`, which pulls and unpacks."""
        ctr, containerd = shutil.which("ctr"), shutil.which("containerd")
        if ctr is None or containerd is None:
            missing = "ctr" if ctr is None else "containerd"
            return PeerStatus("ctr", ctr, None, False, f"{missing} not installed")
        base = work / "containerd"
        base.mkdir()
        sock = _sub(CTR_SOCK, work)
        config = base / "config.toml"
        config.write_text(  # a full config: never read /etc/containerd/config.toml
            "version = 2\n"
            f"root = {json.dumps(str(base / 'root'))}\n"
            f"state = {json.dumps(str(base / 'state'))}\n"
            'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
            f"[grpc]\n  address = {json.dumps(sock)}\n"
            '[plugins."io.containerd.internal.v1.opt"]\n'
            f"  path = {json.dumps(str(base / 'opt'))}\n"
        )
        daemon = hostenv.Daemon("containerd", [containerd, "--config", str(config)],
                                base / "containerd.log")
        self.daemons.append(daemon)
        probe = [ctr, "-a", sock, "version"]
        daemon.start(lambda: hostenv.run_quiet(probe, 5).returncode == 0, timeout_s=30)
        version = hostenv.run_quiet([ctr, "--version"]).stdout.strip()
        return PeerStatus("ctr", ctr, version, True,
                          "private containerd (overlayfs snapshotter) on a scratch --root; "
                          "`ctr images pull` fetches and unpacks; image removed with "
                          "`ctr images rm --sync` before each run")

    # -- per-run prepare hooks: an empty store, and no write-back left from the last run ----
    def fresh_pynerd(self, work: Path) -> None:
        hostenv.remove_tree(Path(_sub(STORE, work)))
        os.sync()

    def fresh_podman(self, work: Path) -> None:
        hostenv.remove_tree(work / "podman")
        os.sync()

    def fresh_docker(self, work: Path) -> None:
        docker = [shutil.which("docker") or "docker", "-H", _sub(DOCKER_SOCK, work)]
        hostenv.run_quiet([*docker, "rmi", "-f", self.ref])  # fails when absent: fine
        hostenv.run_quiet([*docker, "image", "prune", "-f"])
        left = hostenv.run_quiet([*docker, "images", "-aq"]).stdout.split()
        if left:
            raise RuntimeError(f"docker store not empty after rmi: {left}")
        os.sync()

    def fresh_ctr(self, work: Path) -> None:
        ctr = [shutil.which("ctr") or "ctr", "-a", _sub(CTR_SOCK, work), "-n", CTR_NS]
        hostenv.run_quiet([*ctr, "images", "rm", "--sync", self.ref])  # fails when absent
        left = hostenv.run_quiet([*ctr, "content", "ls", "-q"]).stdout.split()
        if left:
            raise RuntimeError(f"containerd content store not empty after rm: {left}")
        os.sync()


def cases() -> list[Case]:
    full, native = PullEnv(peers=True), PullEnv(peers=False)
    return [
        Case(
            name="pull-large",
            description="`pynerd pull` of the large rig image (~95 MB, 6 layers) into an "
                        "empty store, overlayfs snapshotter",
            pynerd=[*PYNERD, "pull", "-q", REF],
            peers={
                "docker": ["docker", "-H", DOCKER_SOCK, "pull", "-q", REF],
                "podman": ["podman", *PODMAN, "pull", "-q", "--tls-verify=false", REF],
                "ctr": ["ctr", "-a", CTR_SOCK, "-n", CTR_NS, "images", "pull", "--plain-http",
                        REF],
            },
            setup=full.setup,
            teardown=full.teardown,
            prepare={"pynerd": full.fresh_pynerd, "docker": full.fresh_docker,
                     "podman": full.fresh_podman, "ctr": full.fresh_ctr},
            targets={"docker": 0.5, "bound": 1.5},
            peers_from_setup=True,
            runs=RUNS, quick_runs=QUICK_RUNS, warmups=WARMUPS, timeout_s=TIMEOUT_S,
        ),
        Case(
            name="pull-large-native",
            description="the same pull with `--snapshotter native` (for information)",
            pynerd=[*PYNERD, "--snapshotter", "native", "pull", "-q", REF],
            setup=native.setup,
            teardown=native.teardown,
            prepare={"pynerd": native.fresh_pynerd},
            runs=RUNS, quick_runs=QUICK_RUNS, warmups=WARMUPS, timeout_s=TIMEOUT_S,
        ),
    ]
