from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pynerd.config import Config
from pynerd.system.version import version


def fake_binary(path: Path, script: str) -> None:
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_versions_come_from_the_binaries_and_are_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir, cnidir = tmp_path / "bin", tmp_path / "cni"
    bindir.mkdir()
    cnidir.mkdir()
    calls = tmp_path / "calls"
    fake_binary(
        bindir / "runc", f'echo x >> {calls}\necho "runc version 9.9.9"\necho "spec: 1.2"\n'
    )
    fake_binary(
        cnidir / "bridge",
        'if [ "$CNI_COMMAND" = VERSION ]; then echo \'{"supportedVersions":["1.0.0"]}\';'
        ' else echo "CNI bridge plugin v7.7.7"; fi\n',
    )
    monkeypatch.setenv("PATH", str(bindir))
    cfg = Config(data_root=tmp_path / "d", run_root=tmp_path / "r", cni_path=(str(cnidir),))
    v = version(cfg)
    comps = {c["Name"]: c for c in v["Server"]["Components"]}
    assert comps["runc"]["Version"] == "9.9.9"
    assert comps["cni-plugins"]["Version"] == "v7.7.7"
    assert comps["cni-plugins"]["Details"]["Plugins"] == "bridge"
    version(cfg)
    assert calls.read_text().count("x") == 1  # second call answered from the cache
    os.utime(bindir / "runc", (1, 1))  # the binary changed: ask it again
    version(cfg)
    assert calls.read_text().count("x") == 2


def test_missing_runc_and_cni_are_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    cfg = Config(data_root=tmp_path / "d", run_root=tmp_path / "r", cni_path=(str(tmp_path),))
    comps = {c["Name"]: c for c in version(cfg)["Server"]["Components"]}
    assert comps["runc"]["Version"] == "not found"
    assert comps["cni-plugins"]["Version"] == "not found"
