"""build_spec against the real runc: a busybox rootfs (a plain directory) run in the foreground.

Checks what the spec is for: who the process runs as, with which capabilities and seccomp
filter, which paths are masked or read-only, and which cgroup limits apply.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pynerd.containers import resources
from pynerd.containers.options import CreateOptions, ResolvedMount
from pynerd.containers.spec import ContainerFiles, build_spec

pytestmark = pytest.mark.integration

RUNC = shutil.which("runc")
BUSYBOX = "/bin/busybox"
TINI = "/usr/bin/tini-static"

if os.geteuid() != 0 or RUNC is None or not os.path.exists(BUSYBOX):  # pragma: no cover
    pytest.skip("needs root, runc and /bin/busybox", allow_module_level=True)


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str


Run = Callable[..., Ran]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle dir whose rootfs/ holds busybox, its applets, and a root + nobody passwd."""
    base = tmp_path_factory.mktemp("bundle")
    root = base / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True)
    for name in applets.stdout.split():
        if name != "busybox":
            (root / "bin" / name).symlink_to("busybox")
    for d in ("etc", "mnt", "proc", "sys", "dev", "root", "tmp"):
        (root / d).mkdir()
    (root / "tmp").chmod(0o1777)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (root / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\nstaff:x:50:nobody\n")
    return base


@pytest.fixture
def run(bundle: Path, tmp_path: Path) -> Iterator[Run]:
    """run(cmd, **CreateOptions fields) → Ran; every container is deleted, its cgroup checked."""
    files = ContainerFiles(tmp_path / "hostname", tmp_path / "hosts", tmp_path / "resolv.conf")
    files.hostname.write_text("testhost\n")
    files.hosts.write_text("127.0.0.1\tlocalhost\n")
    files.resolv_conf.write_text("nameserver 192.0.2.53\n")
    runc_root = tmp_path / "runc"
    ids: list[str] = []

    def delete(cid: str) -> None:
        subprocess.run(
            [str(RUNC), "--root", str(runc_root), "delete", "-f", cid],
            capture_output=True,
            timeout=60,
        )

    def _run(
        cmd: str,
        netns: str | None = None,
        mounts: list[ResolvedMount] | None = None,
        image_config: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Ran:
        cid = "pn-" + secrets.token_hex(8)
        ids.append(cid)
        opts = CreateOptions(image="busybox", command=("sh", "-c", cmd), **kw)
        spec = build_spec(
            opts,
            image_config or {},
            bundle / "rootfs",
            cid,
            "testhost",
            mounts or [],
            files,
            netns,
            init_path=TINI if os.path.exists(TINI) else None,
            cgroups_path=f"/pynerd-test-{cid}",
        )
        (bundle / "config.json").write_text(json.dumps(spec))
        try:
            res = subprocess.run(
                [str(RUNC), "--root", str(runc_root), "run", "--bundle", str(bundle), cid],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            delete(cid)
        return Ran(res.returncode, res.stdout, res.stderr)

    yield _run
    for cid in ids:
        delete(cid)
        left = [p for p in Path("/sys/fs/cgroup").glob(f"*/pynerd-test-{cid}")]
        left += list(Path("/sys/fs/cgroup").glob(f"pynerd-test-{cid}"))
        assert left == [], f"runc left cgroups behind: {left}"


def test_user_env_and_cwd(run: Run) -> None:
    r = run("id; pwd; env | sort", user="nobody", workdir="/work/here", env=("FOO=bar",))
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    # the kernel sorts supplementary groups
    assert lines[0] == "uid=65534(nobody) gid=65534(nogroup) groups=50(staff),65534(nogroup)"
    assert lines[1] == "/work/here"
    env = set(lines[2:])
    assert {
        "FOO=bar",
        "HOSTNAME=testhost",
        "HOME=/nonexistent",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    } <= env


def test_root_gets_dockers_default_capabilities_and_seccomp(run: Run) -> None:
    r = run("grep -E '^(CapEff|CapBnd|CapInh|Seccomp):' /proc/self/status")
    assert r.code == 0, r.err
    assert r.out.split("\n")[:4] == [
        "CapInh:\t0000000000000000",
        "CapEff:\t00000000a80425fb",
        "CapBnd:\t00000000a80425fb",
        "Seccomp:\t2",
    ]


def test_mount_is_refused_by_default(run: Run) -> None:
    r = run("mount -t tmpfs none /mnt")
    assert r.code != 0
    assert "permission denied" in r.err.lower() or "not permitted" in r.err.lower()


def test_cap_sys_admin_reopens_mount_in_the_default_profile(run: Run) -> None:
    r = run(
        "mount -t tmpfs none /mnt && grep -c ' /mnt ' /proc/self/mountinfo", cap_add=("SYS_ADMIN",)
    )
    assert (r.code, r.out) == (0, "1\n"), r.err


def test_unconfined_seccomp_with_sys_admin(run: Run) -> None:
    r = run(
        "grep Seccomp: /proc/self/status; mount -t tmpfs none /mnt && echo mounted",
        cap_add=("sys_admin",),
        security_opt=("seccomp=unconfined",),
    )
    assert (r.code, r.out) == (0, "Seccomp:\t0\nmounted\n"), r.err


def test_custom_seccomp_profile(run: Run, tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
        ],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {
                "names": ["rmdir"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 1,
                "excludes": {"caps": ["CAP_CHOWN"]},
            },
        ],
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    sec = (f"seccomp={path}",)
    r = run("mkdir /tmp/x; rmdir /nope", security_opt=sec)
    assert "can't create directory '/tmp/x': Operation not permitted" in r.err, r.err
    assert "'/nope': No such file or directory" in r.err  # rule excluded: has CAP_CHOWN
    r = run("rmdir /nope", security_opt=sec, cap_drop=("CHOWN",))
    assert "'/nope': Operation not permitted" in r.err, r.err


def test_masked_and_readonly_paths(run: Run) -> None:
    checks = ["awk '$5 == \"/sys\" {print $6}' /proc/self/mountinfo", "touch /sys/x 2>&1"]
    for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"):
        if os.path.exists(p):
            checks.append(f"echo {p}=$(wc -c < {p})")
    if os.path.isdir("/proc/acpi"):
        checks.append("echo acpi=$(ls -A /proc/acpi | wc -l)")
    checks.append("echo 1 > /proc/sys/kernel/ns_last_pid 2>&1; echo sys=$?")
    r = run("; ".join(checks))
    out = r.out
    assert out.startswith("ro,"), r.out + r.err
    assert "Read-only file system" in out
    for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"):
        if os.path.exists(p):
            assert f"{p}=0" in out
    if os.path.isdir("/proc/acpi"):
        assert "acpi=0" in out
    assert "sys=1" in out  # /proc/sys is read-only


def test_read_only_rootfs(run: Run) -> None:
    r = run(
        "touch /x 2>&1; touch /tmp/x 2>&1; echo hi > /etc/hostname 2>&1;"
        " touch /dev/shm/ok && echo shm-ok; touch /dev/new && echo dev-ok",
        read_only=True,
    )
    assert (r.out + r.err).count("Read-only file system") == 3, r.out + r.err
    assert "shm-ok" in r.out and "dev-ok" in r.out


def test_memory_and_pids_limits(run: Run) -> None:
    if resources.cgroup2():
        cmd = "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max"
    else:
        cmd = (
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
            " /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null"
        )
    r = run(cmd, memory="64m", pids_limit=10)
    assert r.code in (0, 1), r.err
    values = r.out.split()
    assert values[:2] == [str(64 << 20), "10"], r.out
    if len(values) > 2:
        assert values[2] == str(128 << 20)  # Docker's default swap: as much as the memory


def test_ulimit(run: Run) -> None:
    r = run("ulimit -n; ulimit -Hn", ulimits=("nofile=100:200",))
    assert (r.code, r.out) == (0, "100\n200\n"), r.err


def test_sysctl_in_a_new_netns(run: Run) -> None:
    r = run(
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_unprivileged_port_start",
        sysctls=("net.ipv4.ip_forward=1",),
    )
    assert (r.code, r.out) == (0, "1\n0\n"), r.err


@pytest.mark.skipif(not os.path.exists(TINI), reason="needs tini-static")
def test_init_is_pid_1(run: Run) -> None:
    r = run("tr '\\0' ' ' < /proc/1/cmdline; echo; echo $$", init=True)
    assert r.code == 0, r.err
    first, second = r.out.splitlines()
    assert first.startswith("/sbin/docker-init -- sh -c ")
    assert second != "1"


def test_hostname_hosts_and_resolv_conf(run: Run) -> None:
    r = run("cat /etc/hostname; hostname; cat /etc/resolv.conf; echo x >> /etc/hosts && echo w")
    assert (r.code, r.out) == (0, "testhost\ntesthost\nnameserver 192.0.2.53\nw\n"), r.err


def test_domainname_is_set_through_the_sysctl(run: Run) -> None:
    r = run("cat /proc/sys/kernel/domainname", domainname="example.org")
    assert (r.code, r.out) == (0, "example.org\n"), r.err


def test_bind_and_tmpfs_mounts(run: Run, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("from host\n")
    mounts = [
        ResolvedMount("bind", str(data), "/data", options=("rbind", "ro", "rprivate"), rw=False),
        ResolvedMount("tmpfs", "", "/scratch", options=("size=1m",)),
    ]
    r = run(
        "cat /data/f; touch /data/g 2>&1; grep ' /scratch ' /proc/self/mountinfo",
        mounts=mounts,
    )
    assert r.out.startswith("from host\n"), r.out + r.err
    assert "Read-only file system" in r.out
    assert "size=1024k" in r.out and "noexec" in r.out


def test_privileged(run: Run) -> None:
    r = run(
        "grep -E '^(CapEff|Seccomp):' /proc/self/status; mount -t tmpfs none /mnt && echo m",
        privileged=True,
    )
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    status = Path("/proc/self/status").read_text().splitlines()
    own = next(ln for ln in status if ln.startswith("CapEff:"))  # all we hold ourselves
    assert lines == [own, "Seccomp:\t0", "m"]
