"""A selection of run flags end to end (the spec builder's own tests cover each in depth)."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli import PYNERD, Cli

pytestmark = pytest.mark.integration


@pytest.fixture
def bb(cli: Cli, busybox_image) -> str:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    yield busybox_image.ref
    ids = cli("ps", "-aq", "--no-trunc").out.split()
    if ids:
        assert cli("rm", "-f", *ids).code == 0


def test_network_modes(cli: Cli, bb: str) -> None:
    r = cli.proc("run", "--rm", "--net", "none", bb, "sh", "-c", "ls /sys/class/net")
    assert r.out.split() == ["lo"]  # none: loopback only
    r = cli.proc("run", "--rm", bb, "sh", "-c", "ls /sys/class/net")
    assert r.out.split() == ["eth0", "lo"]  # the default bridge network
    r = cli.proc("run", "--rm", "--net", "host", bb, "ls", "/sys/class/net")
    assert set(r.out.split()) == set(os.listdir("/sys/class/net"))
    cli("run", "-d", "--name", "netowner", bb, "sleep", "60")
    r = cli.proc("run", "--rm", "--net", "container:netowner", bb, "readlink", "/proc/self/ns/net")
    (info,) = json.loads(cli("inspect", "netowner").out)
    assert r.out.strip() == os.readlink(f"/proc/{info['State']['Pid']}/ns/net")
    r = cli.proc("run", "--rm", "--net", "nosuchnet", bb, "true")
    assert (r.code, r.err) == (125, "Error: network nosuchnet not found\n")


def test_security_and_filesystem_flags(cli: Cli, bb: str, tmp_path: Path) -> None:
    r = cli.proc("run", "--rm", "--read-only", bb, "touch", "/x")
    assert r.code != 0 and "Read-only file system" in r.err
    r = cli.proc("run", "--rm", bb, "sh", "-c", "mkdir /m && mount -t tmpfs none /m")
    assert r.code != 0 and ("not permitted" in r.err or "denied" in r.err), r.err
    r = cli.proc(
        "run",
        "--rm",
        "--privileged",
        bb,
        "sh",
        "-c",
        "mkdir /m && mount -t tmpfs none /m && echo ok",
    )
    assert r.out == "ok\n", r.err
    r = cli.proc(
        "run", "--rm", "--cap-drop", "ALL", bb, "sh", "-c", "grep CapEff /proc/self/status"
    )
    assert r.out.split()[-1] == "0000000000000000"
    cidfile = tmp_path / "cid"
    cid = cli("run", "-d", "--cidfile", str(cidfile), bb, "sleep", "60").out.strip()
    assert cidfile.read_text() == cid
    r = cli.proc(
        "run",
        "--rm",
        "-h",
        "myhost",
        "--add-host",
        "db:10.1.2.3",
        bb,
        "sh",
        "-c",
        "hostname; grep db /etc/hosts",
    )
    assert r.out.split() == ["myhost", "10.1.2.3", "db"]
    r = cli.proc("run", "--rm", "-l", "a=b", "--name", "labelled", bb, "true")
    assert r.code == 0


def test_exec_it_through_a_pty(cli: Cli, bb: str) -> None:
    cli("run", "-d", "--name", "ttybox", bb, "sleep", "60")
    master, slave = pty.openpty()
    argv = [
        PYNERD,
        "--data-root",
        str(cli.data_root),
        "--run-root",
        str(cli.run_root),
        "exec",
        "-it",
        "ttybox",
        "sh",
    ]
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    os.write(master, b"tty; exit 7\n")
    out = b""
    deadline = time.monotonic() + 20
    while p.poll() is None and time.monotonic() < deadline:
        if select.select([master], [], [], 0.2)[0]:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
    p.wait(10)
    os.close(master)
    assert p.returncode == 7 and b"/dev/pts/" in out


def test_resource_and_process_flags_reach_the_container(cli: Cli, bb: str, tmp_path: Path) -> None:
    envfile = tmp_path / "env"
    envfile.write_text("# comment\nFROM_FILE=yes\n")
    labels = tmp_path / "labels"
    labels.write_text("team=core\n")
    r = cli.proc(
        "run",
        "--rm",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        "--cpuset-cpus",
        "0",
        "--pids-limit",
        "20",
        "--shm-size",
        "8m",
        "--ulimit",
        "nofile=100:200",
        "--sysctl",
        "net.ipv4.ip_forward=1",
        "--group-add",
        "1234",
        "--env-file",
        str(envfile),
        "--label-file",
        str(labels),
        "--stop-signal",
        "SIGUSR1",
        "--stop-timeout",
        "3",
        "--domainname",
        "example.org",
        "--device",
        "/dev/null:/dev/mynull",
        "--name",
        "flags",
        bb,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
        "ulimit -n; cat /proc/sys/net/ipv4/ip_forward; id -G; echo $FROM_FILE; "
        "df -k /dev/shm | tail -1; ls -l /dev/mynull; cat /proc/sys/kernel/domainname",
    )
    assert r.code == 0, r.err
    out = r.out.split("\n")
    assert out[0] == str(64 * 1024 * 1024) and out[1] == "20"
    assert out[2] == "100" and out[3] == "1"
    assert "1234" in out[4].split() and out[5] == "yes"
    assert out[6].split()[1] == "8192"
    assert out[7].startswith("c") and out[8] == "example.org"
