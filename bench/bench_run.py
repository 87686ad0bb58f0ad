"""Containers: `run --rm`, `run -d` + `rm -f`, `exec`, `ps -a` of 100, monitor memory.

The container issue's targets: `pynerd run --rm --net none busybox true` takes at
most 0.75x the time of `podman run --rm --net none` (podman is daemonless too, so
pynerd must beat it clearly) and at most 1.25x `ctr run --rm` (a thin client of a
containerd that is already running: pynerd pays its whole start-up on every run).
Everything else is for information: docker, and the floors every Python CLI that
drives runc sits on: a bare `runc run` of a prepared bundle, `python -c "import
typer"`, and the two in sequence.

The cases share one world, built by the first case that runs and taken down by
`finish()` after the last: the rig registry with busybox, pulled (untimed) into a
private pynerd store, a private podman root, a private containerd (for ctr) and a
private dockerd, plus a runc bundle of the same rootfs. Each case adds its own
containers in setup and removes every container of every store in teardown, so a
case never sees another's. Nothing on the host changes: the daemons live under the
world's directory, `hostenv.HostGuard` restores the host paths they touch, and
`finish()` removes the cgroups the tools created and fails on any leak.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import re
import resource
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import bench_pull
import hostenv
from case import PYNERD, PYTHON, WORK, Case, Prepared, pynerd_script
from peers import PeerStatus

if TYPE_CHECKING:
    from tests.rig.registry import Registry

ROOT = Path(__file__).resolve().parent.parent
ENV = "{env}"  # the world's directory, shared by the module's cases
REF = "{ref}"
ROOTS = ["--data-root", f"{ENV}/pynerd/data", "--run-root", f"{ENV}/pynerd/run",
         "--cni-netconfpath", f"{ENV}/pynerd/net.d"]
PODMAN = [a.replace(WORK, ENV) for a in bench_pull.PODMAN]
DOCKER_SOCK = bench_pull.DOCKER_SOCK.replace(WORK, ENV)
CTR_SOCK = bench_pull.CTR_SOCK.replace(WORK, ENV)
CTR = ["ctr", "-a", CTR_SOCK, "-n", bench_pull.CTR_NS]
DOCKER = ["docker", "-H", DOCKER_SOCK]
# A second private dockerd with Docker's default bridge network (docker0, iptables).
DOCKER_BRIDGE_SOCK = f"unix://{ENV}/docker-bridge/docker.sock"
DOCKER_BRIDGE = ["docker", "-H", DOCKER_BRIDGE_SOCK]
DOCKER_BRIDGE_BIP = "10.251.0.1/24"
RUNC = ["runc", "--root", f"{ENV}/runc/state"]
BUNDLE = f"{ENV}/runc/bundle"
TYPER = [PYTHON, "-c", "import typer"]
# Cgroup parents the tools create (pynerd, podman's cgroupfs manager, dockerd, ctr's
# namespace, our runc bundle): new directories below them are removed at the end.
CGROUP_PARENTS = ("pynerd", "libpod_parent", "docker", bench_pull.CTR_NS, "pynerd-bench")
PS_CONTAINERS, PSS_CONTAINERS = 100, 10
TIMEOUT_S = 120.0


def _podman_ulimits() -> list[str]:
    """podman's own rlimits for its containers, lowered to what this host can grant.

    For root, podman asks for nofile and nproc 1048576, above the hard limits here;
    without CAP_SYS_RESOURCE runc's setrlimit then fails with EPERM. pynerd and
    docker set no rlimits (the container inherits the caller's), so podman gets the
    host's hard nofile and 32768 processes, the RLIMIT_NPROC podman itself runs with.
    """
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
    if nofile == resource.RLIM_INFINITY:
        nofile = 1048576
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


PODMAN_RUN = ["--net", "none", *_podman_ulimits()]


SAFE_WORD = re.compile(r"[\w@%+=:,./{}-]+")


def _words(argv: list[str]) -> str:
    """An argv as shell words, quoted so that reports stay readable.

    Words with a `$` stay live: a unique id per run (`id-$$`, the shell's pid) or the
    id captured from `run -d`. Placeholders such as `{env}` stand for plain paths and
    dash has no brace expansion, so they need no quotes; plain words with spaces
    (`import typer`) get double quotes, so the `sh -c` string needs no escaped ones.
    """
    def word(arg: str) -> str:
        if "$" in arg or SAFE_WORD.fullmatch(arg):
            return arg
        if SAFE_WORD.fullmatch(arg.replace(" ", "_")):
            return f'"{arg}"'
        return shlex.quote(arg)

    return " ".join(word(a) for a in argv)


def _sh(*commands: list[str]) -> list[str]:
    """`sh -c` running the commands in sequence; the last one `exec`s (no extra fork)."""
    parts = [_words(argv) for argv in commands]
    parts[-1] = "exec " + parts[-1]
    return ["sh", "-c", " && ".join(parts)]


def _cycle(run_d: list[str], rm_f: list[str]) -> list[str]:
    """`sh -c 'id=$(RUN -d …) && exec RM -f "$id"'`: one detached start and removal."""
    return ["sh", "-c", f'id=$({_words(run_d)}) && exec {_words(rm_f)} "$id"']


def _run(argv: list[str], what: str, timeout_s: float = TIMEOUT_S) -> str:
    """Run a setup/teardown command; its stdout, or an error naming `what`."""
    proc = hostenv.run_quiet(argv, timeout_s)
    if proc.returncode != 0:
        why = (proc.stderr.strip().splitlines() or ["?"])[-1]
        raise RuntimeError(f"{what}: `{shlex.join(argv[:6])} …` exited {proc.returncode}: {why}")
    return proc.stdout.strip()


class World:
    """The registry, the stores with busybox in them, the peers' daemons, the guard."""

    def __init__(self, peers: bool = True) -> None:
        self.with_peers = peers
        self.dir: Path | None = None
        self.ref = ""
        self.registry: Registry | None = None
        self.pull_env = bench_pull.PullEnv(peers=True)  # owns the daemons it starts
        self.guard: hostenv.HostGuard | None = None
        self.netguard: hostenv.NetGuard | None = None
        self.links: set[str] = set()
        self.firewall = ""
        self.netns: set[str] = set()
        self.cgroups: set[Path] = set()
        self.peers: dict[str, PeerStatus] = {}

    # -- paths and commands ---------------------------------------------------------------
    def sub(self, argv: list[str]) -> list[str]:
        """Placeholders → this world's paths and image, for commands run by setup."""
        assert self.dir is not None
        out = [a.replace(ENV, str(self.dir)).replace(REF, self.ref) for a in argv]
        if out and out[0] in ("pynerd", PYNERD):
            out[0] = str(pynerd_script())
        elif out and shutil.which(out[0]):
            out[0] = shutil.which(out[0]) or out[0]
        return out

    def subst(self) -> dict[str, str]:
        assert self.dir is not None
        return {ENV: str(self.dir), REF: self.ref}

    def usable(self, name: str) -> bool:
        peer = self.peers.get(name)
        return bool(peer and peer.usable)

    # -- set-up -----------------------------------------------------------------------------
    def ensure(self) -> None:
        """Build the world once; a failure takes down whatever was started."""
        if self.dir is not None:
            return
        try:
            self._build()
        except BaseException:
            self.finish()
            raise

    def _build(self) -> None:
        self.guard = hostenv.HostGuard()
        self.netguard = hostenv.NetGuard()
        self.links, self.firewall = hostenv.links(), hostenv.firewall()
        self.netns, self.cgroups = hostenv.netns(), hostenv.cgroups(CGROUP_PARENTS)
        self.dir = Path(tempfile.mkdtemp(prefix="pynerd-bench-run-"))
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))  # the test rig lives in tests/, not in a package
        from tests.rig.images import build_busybox
        from tests.rig.registry import Registry

        self.registry = Registry()
        self.registry.start()
        self.ref = build_busybox(self.registry).ref
        _run(self.sub(["pynerd", *ROOTS, "pull", "-q", REF]), "pynerd pull")
        _run(self.sub(["pynerd", *ROOTS, "run", "--rm", "--net", "none", REF, "true"]),
             "pynerd run")
        self.peers["typer"] = PeerStatus(
            "typer", PYTHON, f"Python {sys.version.split()[0]}", True,
            "`python -c \"import typer\"`: the interpreter and the CLI framework")
        starters = (("runc", self._runc), ("podman", self._podman), ("ctr", self._ctr),
                    ("docker", self._docker), ("docker-bridge", self._docker_bridge))
        for name, start in starters if self.with_peers else ():
            try:
                self.peers[name] = start()
            except Exception as exc:
                self.peers[name] = PeerStatus(name, shutil.which(name), None, False,
                                              f"could not be set up: {exc}")
        if self.usable("podman"):
            try:
                _run(self.sub(["podman", *PODMAN, "run", "--rm", *PODMAN_RUN[2:], REF,
                               "true"]), "podman run (default network)")
                self.peers["podman-bridge"] = dataclasses.replace(
                    self.peers["podman"], name="podman-bridge",
                    note="the same podman on its default network (bridge `podman0`, "
                         "10.88.0.0/16, netavark: veth, addresses, iptables per container)")
            except Exception as exc:
                self.peers["podman-bridge"] = PeerStatus(
                    "podman-bridge", shutil.which("podman"), None, False, f"failed: {exc}")
        if self.usable("ctr"):
            self.peers["ctr-seccomp"] = dataclasses.replace(
                self.peers["ctr"], name="ctr-seccomp",
                note="the same with `--seccomp`: containerd's default profile, like the "
                     "Docker profile pynerd, podman and docker apply by default")

    def _runc(self) -> PeerStatus:
        """A bundle of the same busybox rootfs, with `runc spec`'s minimal config."""
        import tarfile

        from tests.rig.images import busybox_layer

        assert self.dir is not None
        runc = shutil.which("runc")
        if runc is None:
            return PeerStatus("runc", None, None, False, "not installed")
        bundle = Path(self.sub([BUNDLE])[0])
        (bundle / "rootfs").mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(busybox_layer().tar)) as tar:
            tar.extractall(bundle / "rootfs", filter="tar")
        _run([runc, "spec", "--bundle", str(bundle)], "runc spec")
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["true"]
        spec["linux"]["cgroupsPath"] = "/pynerd-bench/runc"
        (bundle / "config.json").write_text(json.dumps(spec, indent=1))
        _run(self.sub([*RUNC, "run", "--bundle", BUNDLE, "probe"]), "runc run")
        version = _run([runc, "--version"], "runc --version").splitlines()[0]
        return PeerStatus("runc", runc, version, True,
                          "`runc spec`'s config (new pid, net, ipc, uts, mount namespaces, "
                          "read-only rootfs, no seccomp) on an extracted busybox rootfs: "
                          "no snapshot, no mounts, no spec to build")

    def _podman(self) -> PeerStatus:
        assert self.dir is not None
        status = self.pull_env._check_podman(self.dir)
        if not status.usable:
            return status
        _run(self.sub(["podman", *PODMAN, "pull", "-q", "--tls-verify=false", REF]),
             "podman pull")
        _run(self.sub(["podman", *PODMAN, "run", "--rm", *PODMAN_RUN, REF, "true"]),
             "podman run")
        return dataclasses.replace(status, note=(
            "scratch --root/--runroot (overlay, cgroupfs, runc, conmon), --events-backend "
            f"none; run with `{' '.join(PODMAN_RUN[2:])}` (see the note)"))

    def _ctr(self) -> PeerStatus:
        assert self.dir is not None
        status = self.pull_env._start_containerd(self.dir)
        if not status.usable:
            return status
        _run(self.sub([*CTR, "images", "pull", "--plain-http", REF]), "ctr pull")
        _run(self.sub([*CTR, "run", "--rm", REF, "probe", "true"]), "ctr run")
        return dataclasses.replace(status, note=(
            "private containerd 1.6 (overlayfs snapshotter, runc v2 shim, no CRI plugin); "
            "`ctr run` gives the container a new network namespace with only lo, like "
            "--net none"))

    def _docker(self) -> PeerStatus:
        assert self.dir is not None
        status = self.pull_env._start_docker(self.dir)
        if not status.usable:
            return status
        _run(self.sub([*DOCKER, "pull", "-q", REF]), "docker pull")
        _run(self.sub([*DOCKER, "run", "--rm", "--net", "none", REF, "true"]), "docker run")
        return dataclasses.replace(status, note=(
            "private dockerd (overlay2, its own containerd, `--bridge=none --iptables=false "
            "--ip-forward=false --ip-masq=false`)"))

    def _docker_bridge(self) -> PeerStatus:
        """A second private dockerd with Docker's default bridge network and iptables."""
        assert self.dir is not None
        docker, dockerd = shutil.which("docker"), shutil.which("dockerd")
        if docker is None or dockerd is None:
            return PeerStatus("docker-bridge", docker, None, False, "docker not installed")
        if Path("/sys/class/net/docker0").exists():
            return PeerStatus("docker-bridge", docker, None, False,
                              "docker0 exists already (a running docker?): not touched")
        base = self.dir / "docker-bridge"
        base.mkdir()
        (base / "daemon.json").write_text("{}\n")
        sock = DOCKER_BRIDGE_SOCK.replace(ENV, str(self.dir))
        daemon = hostenv.Daemon("dockerd-bridge", [
            dockerd, "--config-file", str(base / "daemon.json"),
            "--data-root", str(base / "data"), "--exec-root", str(base / "exec"),
            "--pidfile", str(base / "docker.pid"), "-H", sock, "--bip", DOCKER_BRIDGE_BIP,
        ], base / "dockerd.log")
        self.pull_env.daemons.append(daemon)
        server = [docker, "-H", sock, "version", "--format", "{{.Server.Version}}"]
        daemon.start(lambda: hostenv.run_quiet(server, 5).returncode == 0, timeout_s=60)
        _run(self.sub([*DOCKER_BRIDGE, "pull", "-q", REF]), "docker pull")
        _run(self.sub([*DOCKER_BRIDGE, "run", "--rm", REF, "true"]), "docker run (bridge)")
        version = hostenv.run_quiet(server).stdout.strip()
        return PeerStatus("docker-bridge", docker, f"dockerd {version}", True,
                          f"a second private dockerd with its default bridge (docker0, "
                          f"--bip {DOCKER_BRIDGE_BIP}, iptables, ip-forward, masquerade)")

    # -- containers -------------------------------------------------------------------------
    def clear(self) -> list[str]:
        """Remove every container of every store (all private, all ours); what remains."""
        if self.dir is None:
            return []
        problems: list[str] = []

        def attempt(what: str, fn: Callable[[], object]) -> None:
            try:
                fn()
            except Exception as exc:
                problems.append(f"{what}: {exc}")

        pynerd = ["pynerd", *ROOTS]
        ids = hostenv.run_quiet(self.sub([*pynerd, "ps", "-aq", "--no-trunc"])).stdout.split()
        if ids:
            attempt("pynerd rm", lambda: _run(self.sub([*pynerd, "rm", "-f", *ids]), "rm"))
        if self.usable("podman"):
            attempt("podman rm", lambda: _run(
                self.sub(["podman", *PODMAN, "rm", "-a", "-f", "-t", "0"]), "rm"))
        for name, client in (("docker", DOCKER), ("docker-bridge", DOCKER_BRIDGE)):
            if not self.usable(name):
                continue
            ids = hostenv.run_quiet(self.sub([*client, "ps", "-aq"])).stdout.split()
            if ids:
                argv = self.sub([*client, "rm", "-f", *ids])
                attempt(f"{name} rm", functools.partial(_run, argv, "rm"))
        if self.usable("ctr"):
            tasks = hostenv.run_quiet(self.sub([*CTR, "tasks", "ls", "-q"])).stdout.split()
            for task in tasks:  # `tasks rm -f` kills the task first
                argv = self.sub([*CTR, "tasks", "rm", "-f", task])
                attempt("ctr task rm", functools.partial(_run, argv, "task rm"))
            ids = hostenv.run_quiet(self.sub([*CTR, "containers", "ls", "-q"])).stdout.split()
            if ids:
                attempt("ctr rm", lambda: _run(self.sub([*CTR, "containers", "rm", *ids]), "rm"))
        for label, argv in self._listers().items():
            left = hostenv.run_quiet(self.sub(argv)).stdout.split()
            if left:
                problems.append(f"{label} still has {len(left)} containers")
        return problems

    def _listers(self) -> dict[str, list[str]]:
        listers = {"pynerd": ["pynerd", *ROOTS, "ps", "-aq"]}
        if self.usable("podman"):
            listers["podman"] = ["podman", *PODMAN, "ps", "-aq"]
        if self.usable("docker"):
            listers["docker"] = [*DOCKER, "ps", "-aq"]
        if self.usable("docker-bridge"):
            listers["docker-bridge"] = [*DOCKER_BRIDGE, "ps", "-aq"]
        if self.usable("ctr"):
            listers["ctr"] = [*CTR, "containers", "ls", "-q"]
        return listers

    # -- take-down --------------------------------------------------------------------------
    def finish(self) -> None:
        """Stop everything and remove every trace; raise if something could not be undone."""
        if self.dir is None and self.registry is None and self.guard is None:
            return
        problems = self.clear()
        for daemon in reversed(self.pull_env.daemons):
            try:
                daemon.stop()
            except Exception as exc:
                problems.append(f"stopping {daemon.name}: {exc}")
        self.pull_env.daemons.clear()
        if self.dir is not None:
            hostenv.kill_pids(hostenv.processes_under(self.dir))
            hostenv.kill_pids(hostenv.contained_processes_under(self.dir))
            try:
                hostenv.unmount_under(self.dir)
            except Exception as exc:
                problems.append(f"unmounting under {self.dir}: {exc}")
        if self.registry is not None:
            self.registry.stop()
            self.registry = None
        ours: set[int] = set()
        if self.dir is not None:
            ours = {*hostenv.processes_under(self.dir),
                    *hostenv.contained_processes_under(self.dir)}
        problems += hostenv.remove_cgroups(hostenv.cgroups(CGROUP_PARENTS) - self.cgroups, ours)
        if self.netguard is not None:
            try:
                restored = self.netguard.restore()
            except Exception as exc:
                problems.append(f"restoring the host's network state: {exc}")
            else:
                if restored:
                    print(f"bench: network restored: {'; '.join(restored)}", file=sys.stderr)
            self.netguard = None
        if self.guard is not None:
            restored = self.guard.restore()
            if restored:
                print(f"bench: host restored: {'; '.join(restored)}", file=sys.stderr)
            self.guard = None
        if self.dir is not None:
            problems += hostenv.leaks(self.dir, self.links, self.firewall)
            problems += [f"network namespace {n} appeared"
                         for n in sorted(hostenv.netns() - self.netns)]
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        self.peers.clear()
        if problems:
            raise RuntimeError("run benchmark left traces: " + "; ".join(problems))


WORLD = World()


def finish() -> None:
    """Called by run.py once after the module's last case: take the world down."""
    WORLD.finish()


# -- per-case set-up ------------------------------------------------------------------------
def _prepared(peers: list[str], notes: list[str] | None = None,
              subst: dict[str, str] | None = None) -> Prepared:
    return Prepared(subst={**WORLD.subst(), **(subst or {})},
                    peers={n: WORLD.peers[n] for n in peers if n in WORLD.peers},
                    notes=notes or [])


def _teardown(work: Path) -> None:
    """Every case leaves the stores as it found them: images only, no containers."""
    problems = WORLD.clear()
    if problems:
        raise RuntimeError("; ".join(problems))


RUN_RM_NOTES = [
    "- Floor (baseline): `python -c \"import typer\"` then `runc run` of a prepared "
    "bundle, in one `sh -c`: what any Python CLI that drives runc pays at least. The "
    "two parts are also timed alone (typer, runc).",
    "- podman's default rlimits for root (nofile and nproc 1048576) exceed this host's "
    "hard limits and runc may not raise them here (no CAP_SYS_RESOURCE), so podman runs "
    f"with `{' '.join(PODMAN_RUN[2:])}`; pynerd and docker set no rlimits.",
    "- ctr and runc need a unique container id per run: `sh -c 'exec … id-$$'` (one "
    "fork+exec of dash, ~1 ms).",
    "- `ctr run` applies no seccomp profile unless asked (`--seccomp`, timed as "
    "ctr-seccomp); pynerd, podman and docker apply Docker's default one, which costs "
    "runc 8-20 ms here (see the cost breakdown). The runc floor has none either.",
]


def _setup_run_rm(work: Path) -> Prepared:
    WORLD.ensure()
    return _prepared(["podman", "ctr", "ctr-seccomp", "docker", "runc", "typer"], RUN_RM_NOTES)


def _pynerd_settled(work: Path) -> None:
    """Untimed, before every command: pynerd's deferred teardowns have finished, so no
    command is timed while the previous run's cleanup still uses a core."""
    from pynerd.state.pending import wait_pending

    if WORLD.dir is not None:
        wait_pending(WORLD.dir / "pynerd" / "data" / "namespaces" / "default")


def _setup_run_rm_bridge(work: Path) -> Prepared:
    WORLD.ensure()
    return _prepared(["podman-bridge", "docker-bridge"], [
        "- Baseline: pynerd's own `run --rm --net none` (the run-rm case): what the "
        "network adds is the difference.",
        "- The peers on their default networks: podman with netavark (bridge podman0, "
        "iptables rules per container), a second private dockerd with docker0 "
        f"(`--bip {DOCKER_BRIDGE_BIP}`, iptables, masquerade). pynerd's default `bridge` "
        "network lives in the world's own CNI config directory. Afterwards the bridges "
        "are deleted and the filter and nat tables restored from a snapshot "
        "(`hostenv.NetGuard`).",
        "- pynerd returns the exit code before its teardown ends (CNI DEL, unmount and "
        "removal run in a forked child; the next command that looks at containers waits "
        "for it, see docs/networking.md). Before every command, untimed, the harness "
        "waits for that child too, so no command is timed while it still uses a core.",
    ])


def _setup_run_d_rm(work: Path) -> Prepared:
    WORLD.ensure()
    return _prepared(["podman", "docker"], [
        "- One sample is `run -d … sleep 60` then `rm -f` of the printed id, in one "
        "`sh -c`. `podman rm -f` gets `-t 0`: by default it sends SIGTERM and waits 10 s "
        "(which `sleep` as pid 1 ignores), while `docker rm -f` and `pynerd rm -f` kill "
        "at once.",
        "- Baseline: two `python -c \"import typer\"` in sequence, the start-up floor of "
        "two Python CLI commands.",
    ])


EXEC_NAME = "bench-exec"


def _setup_exec(work: Path) -> Prepared:
    """One long-running container per tool; the floor runs `runc exec` into pynerd's."""
    WORLD.ensure()
    assert WORLD.dir is not None
    _run(WORLD.sub(["pynerd", *ROOTS, "run", "-d", "--name", EXEC_NAME, "--net", "none", REF,
                    "sleep", "3600"]), "pynerd run -d")
    cid = _run(WORLD.sub(["pynerd", *ROOTS, "inspect", "-f", "{{.Id}}", EXEC_NAME]), "inspect")
    run_dir = WORLD.dir / "pynerd" / "run" / "default" / "containers" / cid
    monitor = json.loads((run_dir / "monitor.json").read_text())
    if WORLD.usable("podman"):
        _run(WORLD.sub(["podman", *PODMAN, "run", "-d", "--name", EXEC_NAME, *PODMAN_RUN, REF,
                        "sleep", "3600"]), "podman run -d")
    if WORLD.usable("docker"):
        _run(WORLD.sub([*DOCKER, "run", "-d", "--name", EXEC_NAME, "--net", "none", REF,
                        "sleep", "3600"]), "docker run -d")
    if WORLD.usable("ctr"):
        _run(WORLD.sub([*CTR, "run", "-d", "--null-io", REF, EXEC_NAME, "sleep", "3600"]),
             "ctr run -d")
    notes = [
        "- Floor (baseline): `python -c \"import typer\"` then `runc exec` into pynerd's "
        "container (pynerd's runc root), in one `sh -c`; `runc exec` alone as runc.",
        "- ctr needs a unique exec id per run: `sh -c 'exec ctr … --exec-id e$$ …'`.",
    ]
    return _prepared(["podman", "docker", "ctr", "runc"], notes,
                     {"{runc_root}": monitor["runc_root"], "{cid}": cid})


def _setup_ps(work: Path) -> Prepared:
    """100 created (never started) containers per tool, made untimed."""
    WORLD.ensure()
    make: dict[str, Callable[[int], list[str]]] = {
        "pynerd": lambda i: ["pynerd", *ROOTS, "create", "--net", "none", REF, "true"]}
    if WORLD.usable("podman"):
        make["podman"] = lambda i: ["podman", *PODMAN, "create", *PODMAN_RUN, REF, "true"]
    if WORLD.usable("docker"):
        make["docker"] = lambda i: [*DOCKER, "create", "--net", "none", REF, "true"]
    if WORLD.usable("ctr"):
        make["ctr"] = lambda i: [*CTR, "containers", "create", REF, f"ps-{i}", "true"]
    for label, argv in make.items():
        for i in range(PS_CONTAINERS):
            _run(WORLD.sub(argv(i)), f"{label} create")
    return _prepared(["podman", "docker", "ctr"], [
        f"- {PS_CONTAINERS} containers created (never started) per tool in setup; "
        "ctr lists its containers (`ctr containers ls`), which have no state to show."])


# -- monitor memory -------------------------------------------------------------------------
def _smaps(pid: int) -> dict[str, int]:
    """/proc/PID/smaps_rollup in kB: Rss, Pss, and Uss (private clean + dirty)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, _, rest = line.partition(":")
        fields[key.strip()] = int(rest.split()[0])
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "uss": fields["Private_Clean"] + fields["Private_Dirty"]}


def _pids(comm: str, needle: str) -> list[int]:
    """Pids of processes named `comm` whose command line mentions `needle`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if ((entry / "comm").read_text().strip() == comm
                    and needle.encode() in (entry / "cmdline").read_bytes()):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _pynerd_monitors() -> list[int]:
    assert WORLD.dir is not None
    base = WORLD.dir / "pynerd" / "run" / "default" / "containers"
    return [int((d / "monitor.pid").read_text().split()[0])
            for d in sorted(base.iterdir()) if (d / "monitor.pid").exists()]


def _mib(kb: float) -> str:
    return f"{kb / 1024:.1f}"


def _pss_rows() -> list[str]:
    """One table row per kind of per-container process, and the daemons' shared cost."""
    assert WORLD.dir is not None
    env = str(WORLD.dir)
    kinds: list[tuple[str, list[int]]] = [("pynerd monitor (Python, `-S -E`)",
                                           _pynerd_monitors())]
    if WORLD.usable("podman"):
        kinds.append(("podman: conmon", _pids("conmon", env)))
    if WORLD.usable("docker"):
        kinds.append(("docker: containerd-shim-runc-v2",
                      _pids("containerd-shim", f"{env}/docker/")))
    if WORLD.usable("ctr"):
        kinds.append(("ctr: containerd-shim-runc-v2",
                      _pids("containerd-shim", f"{env}/containerd/")))
    rows = []
    for label, pids in kinds:
        if not pids:
            rows.append(f"| {label} | 0 | | | | |")
            continue
        mem = [_smaps(p) for p in pids]
        med = {k: statistics.median(m[k] for m in mem) for k in ("pss", "uss", "rss")}
        rows.append(f"| {label} | {len(pids)} | {_mib(med['pss'])} | {_mib(med['uss'])} "
                    f"| {_mib(med['rss'])} | {_mib(sum(m['pss'] for m in mem))} |")
    daemons = [("dockerd + its containerd (shared)",
                _pids("dockerd", env) + _pids("containerd", f"{env}/docker/")),
               ("ctr's containerd (shared)", _pids("containerd", f"{env}/containerd/c"))]
    for label, pids in daemons:
        if pids:
            mem = [_smaps(p) for p in pids]
            rows.append(f"| {label} | {len(pids)} | | | | "
                        f"{_mib(sum(m['pss'] for m in mem))} |")
    return rows


def _setup_pss(work: Path) -> Prepared:
    """10 detached `sleep 300` per tool; the memory of what each container costs."""
    WORLD.ensure()
    start: dict[str, Callable[[int], list[str]]] = {
        "pynerd": lambda i: ["pynerd", *ROOTS, "run", "-d", "--net", "none", REF,
                             "sleep", "300"]}
    if WORLD.usable("podman"):
        start["podman"] = lambda i: ["podman", *PODMAN, "run", "-d", *PODMAN_RUN, REF,
                                     "sleep", "300"]
    if WORLD.usable("docker"):
        start["docker"] = lambda i: [*DOCKER, "run", "-d", "--net", "none", REF, "sleep", "300"]
    if WORLD.usable("ctr"):
        start["ctr"] = lambda i: [*CTR, "run", "-d", "--null-io", REF, f"pss-{i}",
                                  "sleep", "300"]
    for label, argv in start.items():
        for i in range(PSS_CONTAINERS):
            _run(WORLD.sub(argv(i)), f"{label} run -d")
    time.sleep(1.0)  # let the monitors and shims settle after their start-up
    notes = [
        f"Memory of the process each tool keeps per detached container, {PSS_CONTAINERS} "
        "`sleep 300` containers each (from `/proc/PID/smaps_rollup`, MiB; medians over the "
        "containers). USS (private clean + dirty) is the marginal cost of one more "
        "container; PSS also charges each process its share of pages shared with the "
        "others (interpreter or Go binary text). Daemons are paid once, not per container.",
        "",
        "| per-container process | n | PSS median | USS median (marginal) | RSS median "
        "| PSS sum |",
        "|---|---:|---:|---:|---:|---:|",
        *_pss_rows(),
    ]
    return _prepared(["podman", "docker", "ctr"], notes)


# -- cases ----------------------------------------------------------------------------------
def cases() -> list[Case]:
    pynerd_run = [*ROOTS, "run", "--rm", "--net", "none", REF, "true"]
    runc_run = [*RUNC, "run", "--bundle", BUNDLE, "id-$$"]
    return [
        Case(
            name="run-rm",
            description="`pynerd run --rm --net none busybox true`: create, start, wait, "
                        "remove",
            pynerd=pynerd_run,
            baseline=_sh(TYPER, runc_run),
            peers={
                "podman": ["podman", *PODMAN, "run", "--rm", *PODMAN_RUN, REF, "true"],
                "ctr": _sh([*CTR, "run", "--rm", REF, "id-$$", "true"]),
                "ctr-seccomp": _sh([*CTR, "run", "--rm", "--seccomp", REF, "id-$$", "true"]),
                "docker": [*DOCKER, "run", "--rm", "--net", "none", REF, "true"],
                "runc": _sh(runc_run),
                "typer": TYPER,
            },
            setup=_setup_run_rm,
            targets={"podman": 0.75, "ctr": 1.25},
            importtime=True,
            peers_from_setup=True,
            teardown=_teardown,
        ),
        Case(
            name="run-rm-bridge",
            description="`pynerd run --rm busybox true` on the default bridge network: "
                        "a namespace, a veth and an address, run, release",
            pynerd=[*ROOTS, "run", "--rm", REF, "true"],
            baseline=[PYNERD, *pynerd_run],
            peers={
                "podman-bridge": ["podman", *PODMAN, "run", "--rm", *PODMAN_RUN[2:], REF,
                                  "true"],
                "docker-bridge": [*DOCKER_BRIDGE, "run", "--rm", REF, "true"],
            },
            setup=_setup_run_rm_bridge,
            prepare={label: _pynerd_settled
                     for label in ("pynerd", "baseline", "podman-bridge", "docker-bridge")},
            targets={"podman-bridge": 0.7, "docker-bridge": 0.5},
            importtime=True,
            peers_from_setup=True,
            teardown=_teardown,
        ),
        Case(
            name="run-d-rm",
            description="`pynerd run -d --net none busybox sleep 60` then `pynerd rm -f` "
                        "of it: one sample is both commands",
            pynerd=_cycle([PYNERD, *ROOTS, "run", "-d", "--net", "none", REF, "sleep", "60"],
                          [PYNERD, *ROOTS, "rm", "-f"]),
            baseline=_sh(TYPER, TYPER),
            peers={
                "podman": _cycle(["podman", *PODMAN, "run", "-d", *PODMAN_RUN, REF, "sleep", "60"],
                                 ["podman", *PODMAN, "rm", "-f", "-t", "0"]),
                "docker": _cycle([*DOCKER, "run", "-d", "--net", "none", REF, "sleep", "60"],
                                 [*DOCKER, "rm", "-f"]),
            },
            setup=_setup_run_d_rm,
            full_argv=True,
            peers_from_setup=True,
            teardown=_teardown,
        ),
        Case(
            name="exec",
            description=f"`pynerd exec {EXEC_NAME} true` into a running container",
            pynerd=[*ROOTS, "exec", EXEC_NAME, "true"],
            baseline=_sh(TYPER, ["runc", "--root", "{runc_root}", "exec", "{cid}", "true"]),
            peers={
                "podman": ["podman", *PODMAN, "exec", EXEC_NAME, "true"],
                "docker": [*DOCKER, "exec", EXEC_NAME, "true"],
                "ctr": _sh([*CTR, "tasks", "exec", "--exec-id", "e$$", EXEC_NAME, "true"]),
                "runc": ["runc", "--root", "{runc_root}", "exec", "{cid}", "true"],
            },
            setup=_setup_exec,
            importtime=True,
            peers_from_setup=True,
            teardown=_teardown,
        ),
        Case(
            name="ps-100",
            description=f"`pynerd ps -a` with {PS_CONTAINERS} created containers",
            pynerd=[*ROOTS, "ps", "-a"],
            baseline=TYPER,
            peers={
                "podman": ["podman", *PODMAN, "ps", "-a"],
                "docker": [*DOCKER, "ps", "-a"],
                "ctr": [*CTR, "containers", "ls"],
            },
            setup=_setup_ps,
            importtime=True,
            peers_from_setup=True,
            teardown=_teardown,
        ),
        Case(
            name="monitor-pss",
            description=f"`pynerd ps` with {PSS_CONTAINERS} running containers; setup "
                        "measures the memory each container's monitor costs (table below)",
            pynerd=[*ROOTS, "ps"],
            baseline=TYPER,
            peers={
                "podman": ["podman", *PODMAN, "ps"],
                "docker": [*DOCKER, "ps"],
                "ctr": [*CTR, "tasks", "ls"],
            },
            setup=_setup_pss,
            peers_from_setup=True,
            teardown=_teardown,
        ),
    ]
