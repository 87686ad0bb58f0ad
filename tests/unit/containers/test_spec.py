"""build_spec: the whole config.json with Docker's defaults, table-driven where it can be."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pynerd.containers import resources
from pynerd.containers.options import CreateOptions, ResolvedMount
from pynerd.containers.spec import ContainerFiles, build_spec, check_options
from pynerd.containers.spec_mounts import MASKED_PATHS, READONLY_PATHS, merge_tmpfs_options
from pynerd.errors import InvalidArgument, Unavailable
from tests.unit.containers.spec_fixtures import fake_host, make_files, make_rootfs  # noqa: F401

pytestmark = pytest.mark.usefixtures("fake_host")

IMAGE = {"Cmd": ["sh"], "Env": ["PATH=/usr/bin:/bin"]}


@pytest.fixture
def env(tmp_path: Path) -> tuple[Path, ContainerFiles]:
    return make_rootfs(tmp_path), make_files(tmp_path)


def spec_for(
    env: tuple[Path, ContainerFiles],
    mounts: list[ResolvedMount] | None = None,
    netns: str | None = "/var/run/netns/pn-1",
    **kw: Any,
) -> dict[str, Any]:
    rootfs, files = env
    opts = CreateOptions(image="busybox", **kw)
    spec = build_spec(
        opts, IMAGE, rootfs, "c0ffee", "c0ffee", mounts or [], files, netns,
        init_path="/usr/bin/tini-static", cgroups_path="/pynerd/default/c0ffee",
    )  # fmt: skip
    json.dumps(spec)  # must serialise as is
    return spec


def mount(spec: dict[str, Any], dest: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [m for m in spec["mounts"] if m["destination"] == dest]
    assert len(found) == 1, found
    return found[0]


def test_defaults(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(env)
    assert spec["ociVersion"] == "1.0.2"
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    assert spec["hostname"] == "c0ffee"
    proc = spec["process"]
    assert proc["args"] == ["sh"]
    assert proc["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert proc["cwd"] == "/"
    assert proc["terminal"] is False
    assert proc["noNewPrivileges"] is False
    assert proc["oomScoreAdj"] == 0
    assert "rlimits" not in proc  # Docker sets none: the caller's are inherited
    assert set(proc["capabilities"]) == {"bounding", "effective", "permitted"}
    assert proc["capabilities"]["bounding"][:3] == ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID"]
    linux = spec["linux"]
    assert linux["namespaces"] == [
        {"type": "mount"},
        {"type": "network", "path": "/var/run/netns/pn-1"},
        {"type": "uts"},
        {"type": "pid"},
        {"type": "ipc"},
    ]
    assert linux["maskedPaths"][: len(MASKED_PATHS)] == list(MASKED_PATHS)
    assert "/proc/kcore" in linux["maskedPaths"] and "/proc/acpi" in linux["maskedPaths"]
    assert linux["readonlyPaths"] == list(READONLY_PATHS)
    assert linux["cgroupsPath"] == "/pynerd/default/c0ffee"
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert linux["resources"]["devices"][0] == {"allow": False, "access": "rwm"}
    assert linux["devices"] == []
    assert "rootfsPropagation" not in linux


def test_default_mounts(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(env)
    files = env[1]
    assert [m["destination"] for m in spec["mounts"]] == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/sys/fs/cgroup",
        "/dev/mqueue",
        "/dev/shm",
        "/etc/resolv.conf",
        "/etc/hostname",
        "/etc/hosts",
    ]
    assert mount(spec, "/dev") == {
        "destination": "/dev",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
    }
    assert mount(spec, "/dev/pts")["options"] == [
        "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5",
    ]  # fmt: skip
    assert mount(spec, "/dev/shm")["options"] == [
        "nosuid", "noexec", "nodev", "mode=1777", "size=67108864",
    ]  # fmt: skip
    assert mount(spec, "/sys")["options"] == ["nosuid", "noexec", "nodev", "ro"]
    assert mount(spec, "/sys/fs/cgroup")["options"] == ["ro", "nosuid", "noexec", "nodev"]
    assert mount(spec, "/etc/hosts") == {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": str(files.hosts),
        "options": ["rbind", "rprivate"],
    }


def test_shm_size(env: tuple[Path, ContainerFiles]) -> None:
    assert "size=134217728" in mount(spec_for(env, shm_size="128m"), "/dev/shm")["options"]


@pytest.mark.parametrize(
    ("netns", "network"),
    [
        ("/run/netns/x", {"type": "network", "path": "/run/netns/x"}),
        (None, {"type": "network"}),
        ("host", None),
    ],
)
def test_network_namespace(
    env: tuple[Path, ContainerFiles], netns: str | None, network: dict[str, str] | None
) -> None:
    spec = spec_for(env, netns=netns)
    nets = [n for n in spec["linux"]["namespaces"] if n["type"] == "network"]
    assert nets == ([network] if network else [])
    sysctl = spec["linux"].get("sysctl", {})
    # Docker's unprivileged ping/low ports apply to a private netns only (host kernel permitting)
    assert ("net.ipv4.ip_unprivileged_port_start" in sysctl) == (
        netns != "host" and Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").exists()
    )


def test_cgroup_namespace_on_v2_only(
    env: tuple[Path, ContainerFiles], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert {"type": "cgroup"} not in spec_for(env)["linux"]["namespaces"]
    monkeypatch.setattr(resources, "cgroup2", lambda: True)
    assert spec_for(env)["linux"]["namespaces"][-1] == {"type": "cgroup"}


def test_privileged(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(env, privileged=True)
    linux = spec["linux"]
    assert len(spec["process"]["capabilities"]["bounding"]) == 41
    assert "seccomp" not in linux
    assert linux["maskedPaths"] == [] and linux["readonlyPaths"] == []
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert any(d["path"] == "/dev/null" for d in linux["devices"])
    assert "ro" not in mount(spec, "/sys")["options"]
    assert "ro" not in mount(spec, "/sys/fs/cgroup")["options"]


def test_cap_add_and_drop(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(env, cap_add=("SYS_ADMIN",), cap_drop=("NET_RAW",))
    caps = spec["process"]["capabilities"]
    assert "CAP_SYS_ADMIN" in caps["effective"] and "CAP_NET_RAW" not in caps["bounding"]
    names = [n for r in spec["linux"]["seccomp"]["syscalls"] for n in r["names"]]
    assert "mount" in names  # Docker's profile re-allows mount with CAP_SYS_ADMIN


def test_security_opts(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(env, security_opt=("seccomp=unconfined", "no-new-privileges"))
    assert "seccomp" not in spec["linux"]
    assert spec["process"]["noNewPrivileges"] is True
    spec = spec_for(env, security_opt=("systempaths=unconfined",))
    assert spec["linux"]["maskedPaths"] == [] and spec["linux"]["readonlyPaths"] == []


def test_read_only(env: tuple[Path, ContainerFiles]) -> None:
    bind = ResolvedMount("bind", "/srv/data", "/data")
    spec = spec_for(env, mounts=[bind], read_only=True)
    assert spec["root"]["readonly"] is True
    for dest in ("/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue"):
        assert "ro" not in mount(spec, dest)["options"], dest
    for dest in ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/sys", "/sys/fs/cgroup"):
        assert "ro" in mount(spec, dest)["options"], dest
    assert "ro" not in mount(spec, "/data")["options"]  # a user mount keeps its own mode


def test_user_mounts_sorted_and_overriding(env: tuple[Path, ContainerFiles]) -> None:
    mounts = [
        ResolvedMount("bind", "/h/c", "/a/b/c", options=("rbind", "ro", "rprivate"), rw=False),
        ResolvedMount("volume", "/v/_data", "/a", name="vol"),
        ResolvedMount("tmpfs", "", "/dev/shm", options=("size=1m",)),
        ResolvedMount("bind", "/h/hosts", "/etc/hosts", rw=False, propagation="rslave"),
        ResolvedMount("tmpfs", "", "/run", options=("size=65536k", "exec", "mode=1777")),
    ]
    spec = spec_for(env, mounts=mounts)
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests == [
        "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
        "/a", "/run", "/dev/shm", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/a/b/c",
    ]  # fmt: skip
    assert mount(spec, "/a") == {
        "destination": "/a",
        "type": "bind",
        "source": "/v/_data",
        "options": ["rbind", "rprivate"],
    }
    assert mount(spec, "/a/b/c")["options"] == ["rbind", "ro", "rprivate"]
    assert mount(spec, "/etc/hosts") == {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": "/h/hosts",
        "options": ["rbind", "ro", "rslave"],
    }
    assert mount(spec, "/dev/shm") == {
        "destination": "/dev/shm",
        "type": "tmpfs",
        "source": "tmpfs",
        "options": ["noexec", "nosuid", "nodev", "rprivate", "size=1m"],
    }
    assert mount(spec, "/run")["options"] == [
        "nosuid", "nodev", "rprivate", "size=65536k", "exec", "mode=1777",
    ]  # fmt: skip
    assert spec["linux"]["rootfsPropagation"] == "rslave"


def test_user_dev_mount_replaces_all_of_dev(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(env, mounts=[ResolvedMount("bind", "/dev", "/dev")])
    dests = [m["destination"] for m in spec["mounts"]]
    assert not [d for d in dests if d.startswith("/dev/")]
    assert dests.count("/dev") == 1


@pytest.mark.parametrize(
    ("options", "merged"),
    [
        (["noexec", "exec"], ["exec"]),
        (["size=1m", "size=2m", "ro", "rw"], ["size=2m", "rw"]),
        (["defaults", "rprivate", "rshared"], ["rshared"]),
    ],
)
def test_merge_tmpfs_options(options: list[str], merged: list[str]) -> None:
    assert merge_tmpfs_options(options) == merged


def test_bad_tmpfs_option() -> None:
    with pytest.raises(InvalidArgument, match=r'invalid tmpfs option \["bogus"\]'):
        merge_tmpfs_options(["bogus"])


def test_init(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(env, init=True, command=("echo", "hi"))
    assert spec["process"]["args"] == ["/sbin/docker-init", "--", "echo", "hi"]
    assert mount(spec, "/sbin/docker-init") == {
        "destination": "/sbin/docker-init",
        "type": "bind",
        "source": "/usr/bin/tini-static",
        "options": ["bind", "ro"],
    }
    assert [m["destination"] for m in spec["mounts"]].index("/sbin/docker-init") == 7
    assert not [m for m in spec_for(env)["mounts"] if m["destination"] == "/sbin/docker-init"]


def test_init_not_found(env: tuple[Path, ContainerFiles], monkeypatch: pytest.MonkeyPatch) -> None:
    rootfs, files = env
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("os.path.isfile", lambda p: False)
    with pytest.raises(Unavailable, match='exec: "docker-init": executable file not found'):
        build_spec(CreateOptions(image="i", init=True), IMAGE, rootfs, "c", "c", [], files, None)


def test_rlimits_sysctls_resources(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(
        env,
        ulimits=("nofile=100:200", "nproc=5", "nofile=300"),
        sysctls=("net.ipv4.ip_forward=1", "kernel.shmmax=1024", "fs.mqueue.msg_max=20"),
        memory="64m",
        cpus="1.5",
        pids_limit=10,
        domainname="example.org",
    )
    assert spec["process"]["rlimits"] == [
        {"type": "RLIMIT_NOFILE", "soft": 300, "hard": 300},
        {"type": "RLIMIT_NPROC", "soft": 5, "hard": 5},
    ]
    sysctl = spec["linux"]["sysctl"]
    assert sysctl["net.ipv4.ip_forward"] == "1"
    assert sysctl["kernel.shmmax"] == "1024"
    assert sysctl["fs.mqueue.msg_max"] == "20"
    res = spec["linux"]["resources"]
    assert res["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert res["cpu"] == {"quota": 150000, "period": 100000}
    assert res["pids"] == {"limit": 10}
    assert sysctl["kernel.domainname"] == "example.org"  # as Docker: a sysctl, no spec field


@pytest.mark.parametrize(
    ("kw", "netns", "message"),
    [
        (
            {"sysctls": ("kernel.hostname=x",)},
            None,
            'invalid argument "kernel.hostname=x" for "--sysctl" flag: '
            "sysctl 'kernel.hostname=x' is not allowed",
        ),
        ({"sysctls": ("net.ipv4.ip_forward",)}, None, 'invalid argument "net.ipv4.ip_forward"'),
        (
            {"sysctls": ("net.ipv4.ip_forward=1",)},
            "host",
            'sysctl "net.ipv4.ip_forward" not allowed in host network namespace',
        ),
        ({"ulimits": ("nofile=x",)}, None, 'invalid argument "nofile=x" for "--ulimit" flag'),
        ({"cap_add": ("NOPE",)}, None, 'invalid CapAdd: unknown capability: "CAP_NOPE"'),
        ({"memory": "1m"}, None, "Minimum memory limit allowed is 6MB"),
        ({"security_opt": ("bogus=1",)}, None, 'invalid --security-opt 2: "bogus=1"'),
        ({"devices": ("/dev/nope",)}, None, "error gathering device information"),
    ],
)
def test_validation_errors(
    env: tuple[Path, ContainerFiles], kw: dict[str, Any], netns: str | None, message: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        spec_for(env, netns=netns, **kw)
    assert err.value.message.startswith(message)


def test_check_options_needs_no_rootfs() -> None:
    check_options(CreateOptions(image="i", memory="64m", cap_add=("NET_ADMIN",)))
    with pytest.raises(InvalidArgument, match="Range of CPUs"):
        check_options(CreateOptions(image="i", cpus="64"))


def test_user_and_workdir_reach_the_spec(env: tuple[Path, ContainerFiles]) -> None:
    spec = spec_for(env, user="alice", workdir="/work", tty=True, group_add=("audio", "99"))
    proc = spec["process"]
    assert proc["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [1000, 50, 29, 99]}
    assert proc["cwd"] == "/work"
    assert proc["terminal"] is True
    assert proc["env"] == [
        "PATH=/usr/bin:/bin",
        "HOSTNAME=c0ffee",
        "TERM=xterm",
        "HOME=/home/alice",
    ]
    assert (env[0] / "work").is_dir()
