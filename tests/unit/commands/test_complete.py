"""``pynerd __complete KIND``: the lean name lister behind the shell completions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pynerd.state.kv import KVStore
from tests.cli import PYNERD


def make_store(data_root: Path, namespace: str = "default") -> None:
    kv = KVStore(data_root / "namespaces" / namespace / "kv")
    for i, (name, status) in enumerate(
        [("web", "running"), ("db", "exited"), ("new.one", "created"), ("frozen", "paused")]
    ):
        cid = f"{i:064x}"
        kv.bucket("names").put(name, {"Id": cid})
        kv.bucket("containers").put(cid, {"Id": cid, "State": {"Status": status}})
    for ref in (
        "docker.io/library/busybox:latest",
        "docker.io/user/app:v1",
        "127.0.0.1:5000/x/y:2",
        "docker.io/library/busybox@sha256:" + "a" * 64,
    ):
        kv.bucket("images").put(ref, {"Name": ref})
    kv.bucket("volumes").put("cache", {"Name": "cache"})
    kv.bucket("volumes").put("a" * 64, {"Name": "a" * 64})


def complete(*args: str) -> str:
    p = subprocess.run(
        [PYNERD, "__complete", *args], capture_output=True, text=True, timeout=30, check=True
    )
    assert p.stderr == ""
    return p.stdout


def test_names_of_each_kind(tmp_path: Path) -> None:
    make_store(tmp_path)
    root = ["--data-root", str(tmp_path)]
    assert complete("containers", *root).split() == ["db", "frozen", "new.one", "web"]
    assert complete("running-containers", *root).split() == ["web"]
    assert complete("stopped-containers", *root).split() == ["db", "new.one"]
    assert complete("paused-containers", *root).split() == ["frozen"]
    assert complete("images", f"--data-root={tmp_path}").split() == [
        "127.0.0.1:5000/x/y:2",
        "busybox:latest",
        "user/app:v1",
    ]
    assert complete("volumes", *root).split() == ["a" * 64, "cache"]


def test_global_flags_and_environment_choose_the_store(tmp_path: Path) -> None:
    make_store(tmp_path, "other")
    assert complete("containers", "--data-root", str(tmp_path)) == ""
    assert complete("volumes", "--data-root", str(tmp_path), "-n", "other") == (
        "a" * 64 + "\ncache\n"
    )
    p = subprocess.run(
        [PYNERD, "__complete", "volumes", "--namespace=other"],
        capture_output=True,
        text=True,
        env={"PYNERD_DATA_ROOT": str(tmp_path), "PYNERD_TOML": ""},
        check=True,
    )
    assert p.stdout.split() == ["a" * 64, "cache"]


def test_networks_are_the_cni_config_lists_and_the_builtins(tmp_path: Path) -> None:
    conf = tmp_path / "cni"
    conf.mkdir()
    (conf / "pynerd-front.conflist").write_text(json.dumps({"name": "front", "plugins": []}))
    (conf / "10-other.conf").write_text(json.dumps({"name": "other", "type": "bridge"}))
    (conf / "broken.conflist").write_text("{")
    out = complete("networks", "--cni-netconfpath", str(conf)).split()
    assert out == ["bridge", "front", "host", "none", "other"]


def test_it_never_fails_loudly(tmp_path: Path) -> None:
    assert complete("containers", "--data-root", str(tmp_path / "nothing")) == ""
    assert complete("nosuchkind", "--data-root", str(tmp_path)) == ""
    assert complete("containers", "--data-root", "relative/path") == ""  # invalid config
    p = subprocess.run([PYNERD, "__complete"], capture_output=True, text=True)
    assert p.returncode == 2 and "usage" in p.stderr


def test_it_imports_neither_typer_nor_click(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pynerd_cli.main import run_argv\n"
        f"run_argv(['__complete', 'containers', '--data-root', {str(tmp_path)!r}])\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('typer', 'click', 'rich', 'requests', 'pynerd_cli.tree'))\n"
        "print(bad, file=sys.stderr)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert p.stderr.strip() == "[]"
