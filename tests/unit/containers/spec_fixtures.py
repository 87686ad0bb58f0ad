"""Shared set-up for the spec unit tests: a fake host and a small rootfs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pynerd.containers import caps, resources, seccomp
from pynerd.containers.spec import ContainerFiles

PASSWD = """\
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment line
alice:x:1000:1000:Alice:/home/alice:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
"""
GROUP = """\
root:x:0:
daemon:x:1:
staff:x:50:alice,bob
audio:x:29:alice
alice:x:1000:
nogroup:x:65534:
"""


@pytest.fixture
def fake_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 4-CPU cgroup v1 x86_64 host on kernel 6.1, holding every capability."""
    monkeypatch.setattr(caps, "last_cap", lambda: 40)
    monkeypatch.setattr(caps, "current_caps", lambda: 0)
    monkeypatch.setattr(resources, "cgroup2", lambda: False)
    monkeypatch.setattr(resources, "nproc", lambda: 4)
    monkeypatch.setattr(resources, "available_cpus", lambda: "0-3")
    monkeypatch.setattr(resources, "swap_limit_supported", lambda: True)
    monkeypatch.setattr(seccomp, "host_arch", lambda: "amd64")
    monkeypatch.setattr(seccomp, "kernel_version", lambda: (6, 1))


def make_rootfs(base: Path, passwd: str = PASSWD, group: str = GROUP) -> Path:
    root = base / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(passwd)
    (root / "etc" / "group").write_text(group)
    return root


def make_files(base: Path) -> ContainerFiles:
    files = ContainerFiles(base / "hostname", base / "hosts", base / "resolv.conf")
    for p in (files.hostname, files.hosts, files.resolv_conf):
        p.write_text("x\n")
    return files
