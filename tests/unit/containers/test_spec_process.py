"""The process: Entrypoint/Cmd, env merge and defaults, workdir, exec, stop signal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pynerd.containers.options import CreateOptions
from pynerd.containers.spec import ExecOptions, exec_process, resolve_process, stop_signal
from pynerd.containers.spec_process import (
    DEFAULT_PATH,
    merge_image_env,
    read_env_file,
    replace_or_append,
    resolve_args,
)
from pynerd.errors import InvalidArgument
from tests.unit.containers.spec_fixtures import fake_host, make_rootfs  # noqa: F401

pytestmark = pytest.mark.usefixtures("fake_host")

IMAGE = {"Entrypoint": ["/entry.sh"], "Cmd": ["serve", "--port", "80"]}


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    return make_rootfs(tmp_path)


@pytest.mark.parametrize(
    ("image", "entrypoint", "command", "args"),
    [
        (IMAGE, None, (), ["/entry.sh", "serve", "--port", "80"]),
        (IMAGE, None, ("sh", "-c", "x"), ["/entry.sh", "sh", "-c", "x"]),
        (IMAGE, "/bin/sh", (), ["/bin/sh"]),  # --entrypoint drops the image Cmd
        (IMAGE, "/bin/sh", ("-c", "id"), ["/bin/sh", "-c", "id"]),
        (IMAGE, "", ("echo", "hi"), ["echo", "hi"]),  # --entrypoint '' clears it
        (IMAGE, "a b", (), ["a b"]),  # not split
        ({"Cmd": ["sh"]}, None, (), ["sh"]),
        ({"Cmd": ["sh"]}, None, ("ls", "/"), ["ls", "/"]),
        ({"Entrypoint": ["tini", "--"], "Cmd": None}, None, (), ["tini", "--"]),
        ({}, None, ("true",), ["true"]),
    ],
)
def test_entrypoint_and_cmd(
    image: dict[str, Any], entrypoint: str | None, command: tuple[str, ...], args: list[str]
) -> None:
    opts = CreateOptions(image="i", entrypoint=entrypoint, command=command)
    assert resolve_args(opts, image) == args


@pytest.mark.parametrize(
    ("image", "entrypoint"),
    [({}, None), ({"Cmd": None, "Entrypoint": None}, None), (IMAGE, ""), ({"Cmd": ["sh"]}, "")],
)
def test_no_command_specified(image: dict[str, Any], entrypoint: str | None) -> None:
    with pytest.raises(InvalidArgument, match=r"^No command specified$"):
        resolve_args(CreateOptions(image="i", entrypoint=entrypoint), image)


def test_default_env(rootfs: Path) -> None:
    p = resolve_process(CreateOptions(image="i", command=("sh",)), None, rootfs, "abc123")
    assert p.env == [f"PATH={DEFAULT_PATH}", "HOSTNAME=abc123", "HOME=/root"]
    assert (p.uid, p.gid, p.additional_gids, p.cwd, p.terminal) == (0, 0, [0], "/", False)
    assert p.user_text == ""


def test_env_merge_order(rootfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_CALLER", "caller")
    monkeypatch.delenv("NOT_SET", raising=False)
    env_file = tmp_path / "env"
    env_file.write_text(
        "\ufeff# comment\n\nFILE1=one\n  FILE2=two words  \nFROM_CALLER\nNOT_SET\nSHARED=file\r\n"
    )
    image = {"Cmd": ["sh"], "Env": ["PATH=/img/bin", "IMG=1", "SHARED=image", "DROP=me", "E=i"]}
    opts = CreateOptions(
        image="i",
        env=("SHARED=cli", "E=cli", "DROP", "NOT_SET", "FROM_CALLER"),
        env_files=(str(env_file),),
        tty=True,
        user="alice",
    )
    p = resolve_process(opts, image, rootfs, "h")
    assert p.env == [
        "PATH=/img/bin",  # the image's PATH replaces the default in place
        "HOSTNAME=h",
        "TERM=xterm",
        "FILE1=one",
        "FILE2=two words  ",
        "FROM_CALLER=caller",
        "SHARED=file",
        "SHARED=cli",  # Docker keeps both; the later -e is appended after the file's
        "E=cli",
        "FROM_CALLER=caller",
        "IMG=1",  # image entries the user did not set, after the user's
        "HOME=/home/alice",
    ]
    assert p.terminal is True


def test_user_env_overrides_home_and_hostname(rootfs: Path) -> None:
    opts = CreateOptions(image="i", command=("sh",), env=("HOME=/x", "HOSTNAME=mine"))
    p = resolve_process(opts, {}, rootfs, "h")
    assert p.env == [f"PATH={DEFAULT_PATH}", "HOSTNAME=mine", "HOME=/x"]


def test_env_errors(rootfs: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="invalid environment variable: =x"):
        resolve_process(CreateOptions(image="i", command=("sh",), env=("=x",)), {}, rootfs, "h")
    missing = str(tmp_path / "nope")
    with pytest.raises(InvalidArgument, match=f"open {missing}: no such file or directory"):
        resolve_process(
            CreateOptions(image="i", command=("sh",), env_files=(missing,)), {}, rootfs, "h"
        )
    bad = tmp_path / "bad"
    bad.write_text("MY VAR=1\n")
    with pytest.raises(InvalidArgument, match="variable 'MY VAR' contains whitespaces"):
        read_env_file(str(bad), {})


def test_replace_or_append_and_merge() -> None:
    assert replace_or_append(["A=1", "B=2"], ["B=3", "C=4", "A"]) == ["B=3", "C=4"]
    assert merge_image_env([], ["A=1"]) == ["A=1"]
    assert merge_image_env(["A=2", "B"], ["A=1", "B=1", "C=1"]) == ["A=2", "B", "C=1"]


def test_workdir(rootfs: Path) -> None:
    p = resolve_process(
        CreateOptions(image="i", command=("sh",)), {"WorkingDir": "/app"}, rootfs, "h"
    )
    assert p.cwd == "/app"
    assert (rootfs / "app").is_dir()
    opts = CreateOptions(image="i", command=("sh",), workdir="/srv//data/../www/")
    p = resolve_process(opts, {"WorkingDir": "/app"}, rootfs, "h")
    assert p.cwd == "/srv/www"
    assert (rootfs / "srv" / "www").stat().st_mode & 0o777 == 0o755
    with pytest.raises(InvalidArgument, match="the working directory 'rel' is invalid"):
        resolve_process(CreateOptions(image="i", command=("sh",), workdir="rel"), {}, rootfs, "h")


def test_user_from_image_and_flag(rootfs: Path) -> None:
    image = {"Cmd": ["sh"], "User": "alice"}
    p = resolve_process(CreateOptions(image="i"), image, rootfs, "h")
    assert (p.uid, p.gid, p.user_text) == (1000, 1000, "alice")
    p = resolve_process(
        CreateOptions(image="i", user="nobody", group_add=("staff",)), image, rootfs, "h"
    )
    assert (p.uid, p.gid, p.additional_gids) == (65534, 65534, [65534, 50])
    assert "HOME=/nonexistent" in p.env


CONTAINER_SPEC = {
    "process": {
        "terminal": False,
        "user": {"uid": 0, "gid": 0, "additionalGids": [0]},
        "args": ["sh"],
        "env": ["PATH=/bin", "HOSTNAME=h", "A=1", "HOME=/root"],
        "cwd": "/app",
        "capabilities": {
            "bounding": ["CAP_KILL"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"],
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10}],
        "noNewPrivileges": True,
        "oomScoreAdj": 0,
    }
}


def test_exec_process_inherits_the_container(rootfs: Path) -> None:
    proc = exec_process(ExecOptions(cmd=("ls", "-l")), CONTAINER_SPEC, rootfs)
    assert proc["args"] == ["ls", "-l"]
    assert proc["cwd"] == "/app"
    assert proc["env"] == ["PATH=/bin", "HOSTNAME=h", "A=1", "HOME=/root"]
    assert proc["capabilities"]["effective"] == ["CAP_KILL"]
    assert proc["rlimits"] == CONTAINER_SPEC["process"]["rlimits"]
    assert proc["noNewPrivileges"] is True
    assert CONTAINER_SPEC["process"]["args"] == ["sh"]  # not mutated


def test_exec_process_overrides(rootfs: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "e"
    env_file.write_text("F=1\n")
    opts = ExecOptions(
        cmd=("id",),
        env=("A=2", "B=3"),
        env_files=(str(env_file),),
        user="alice:staff",
        workdir="/tmp",
        tty=True,
        privileged=True,
    )
    proc = exec_process(opts, CONTAINER_SPEC, rootfs)
    assert proc["terminal"] is True
    assert proc["user"] == {"uid": 1000, "gid": 50, "additionalGids": [50]}
    assert proc["cwd"] == "/tmp"
    assert proc["env"] == [
        "PATH=/bin",
        "HOSTNAME=h",
        "A=2",
        "HOME=/home/alice",
        "TERM=xterm",
        "F=1",
        "B=3",
    ]
    assert len(proc["capabilities"]["bounding"]) == 41


def test_exec_errors(rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="No exec command specified"):
        exec_process(ExecOptions(cmd=()), CONTAINER_SPEC, rootfs)
    with pytest.raises(InvalidArgument, match="unable to find user bob"):
        exec_process(ExecOptions(cmd=("id",), user="bob"), CONTAINER_SPEC, rootfs)
    with pytest.raises(InvalidArgument, match="needs to be an absolute path"):
        exec_process(ExecOptions(cmd=("id",), workdir="x"), CONTAINER_SPEC, rootfs)


@pytest.mark.parametrize(
    ("flag", "image", "expected"),
    [
        (None, {}, "SIGTERM"),
        (None, None, "SIGTERM"),
        ("TERM", {}, "SIGTERM"),
        ("15", {}, "SIGTERM"),
        ("sigkill", {}, "SIGKILL"),
        (None, {"StopSignal": "SIGQUIT"}, "SIGQUIT"),
        ("USR1", {"StopSignal": "SIGQUIT"}, "SIGUSR1"),
        ("RTMIN+3", {}, "SIGRTMIN+3"),
    ],
)
def test_stop_signal(flag: str | None, image: dict[str, str] | None, expected: str) -> None:
    assert stop_signal(CreateOptions(image="i", stop_signal=flag), image) == expected


def test_stop_signal_invalid() -> None:
    with pytest.raises(InvalidArgument, match="Invalid signal: SIGNOPE"):
        stop_signal(CreateOptions(image="i", stop_signal="SIGNOPE"), {})
