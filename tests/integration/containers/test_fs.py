"""diff / export / commit / cp end to end: real runc, real overlayfs (and native)."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import PYNERD, Cli

pytestmark = pytest.mark.integration


@pytest.fixture
def bb(cli: Cli, busybox_image) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """busybox pulled into this test's store; every container is removed afterwards."""
    assert cli("pull", "-q", busybox_image.ref).code == 0
    yield busybox_image.ref
    for snapshotter in ("overlayfs", "native"):
        ids = cli("--snapshotter", snapshotter, "ps", "-aq", "--no-trunc").out.split()
        if ids:
            cli("--snapshotter", snapshotter, "rm", "-f", *ids)


def ok(cli: Cli, *args: str) -> str:
    r = cli(*args)
    assert r.code == 0, r.err
    return r.out


def run(cli: Cli, *args: str) -> str:
    r = cli.proc("run", *args)
    assert r.code == 0, r.err
    return r.out


def raw(cli: Cli, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The CLI as a process with binary stdin/stdout (tar streams)."""
    return subprocess.run(
        [PYNERD, *cli.argv(*args)], input=input, capture_output=True, timeout=120, check=False
    )


def tar_bytes(*entries: tarfile.TarInfo, data: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info in entries:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buf.getvalue()


def member(
    name: str, kind: bytes = tarfile.REGTYPE, link: str = "", mode: int = 0o644
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, mode
    return info


# -- diff ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("snapshotter", ["overlayfs", "native"])
def test_diff_lists_added_changed_and_deleted_entries(cli: Cli, bb: str, snapshotter: str) -> None:
    sn = ("--snapshotter", snapshotter)
    if snapshotter != "overlayfs":
        ok(cli, *sn, "pull", "-q", bb)
    script = (
        "echo x > /new.txt && echo more >> /etc/passwd && rm /var/www/index.html"
        " && rm -rf /home && mkdir -p /a/b && touch /a/b/c"
    )
    r = cli.proc(
        *sn, "run", "--name", "ct", "-v", "/vol", "-v", "named:/srv/data", bb, "sh", "-c", script
    )
    assert r.code == 0, r.err
    assert ok(cli, *sn, "diff", "ct").splitlines() == [
        "A /a",
        "A /a/b",
        "A /a/b/c",
        "C /etc",
        "C /etc/passwd",
        "D /home",
        "A /new.txt",
        "C /var",
        "C /var/www",
        "D /var/www/index.html",
    ]  # no /etc/hosts, /etc/hostname, /etc/resolv.conf, /vol, /srv or /srv/data
    assert ok(cli, *sn, "container", "diff", "ct") == ok(cli, *sn, "diff", "ct")


@pytest.mark.parametrize("snapshotter", ["overlayfs", "native"])
def test_diff_of_deleted_and_recreated_directories(cli: Cli, bb: str, snapshotter: str) -> None:
    sn = ("--snapshotter", snapshotter)
    if snapshotter != "overlayfs":
        ok(cli, *sn, "pull", "-q", bb)
    cli.proc(*sn, "run", "--name", "gone", bb, "rm", "-rf", "/var/www")
    assert ok(cli, *sn, "diff", "gone").splitlines() == ["C /var", "D /var/www"]
    # rm -rf then mkdir: an opaque directory in the overlay upper dir
    cli.proc(
        *sn,
        "run",
        "--name",
        "again",
        bb,
        "sh",
        "-c",
        "rm -rf /var && mkdir -p /var/www && echo n > /var/www/new.html",
    )
    assert ok(cli, *sn, "diff", "again").splitlines() == [
        "C /var",
        "C /var/www",
        "D /var/www/index.html",
        "A /var/www/new.html",
    ]
    r = cli(*sn, "diff", "nosuch")
    assert r.code != 0 and "No such container: nosuch" in r.err


def test_diff_of_a_running_container_and_of_a_fresh_one(cli: Cli, bb: str) -> None:
    ok(cli, "create", "--name", "fresh", bb)
    assert ok(cli, "diff", "fresh") == ""
    ok(cli, "run", "-d", "--name", "live", bb, "sh", "-c", "touch /tmp/mark; sleep 300")
    deadline = time.monotonic() + 10
    while "A /tmp/mark" not in ok(cli, "diff", "live") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ok(cli, "diff", "live").splitlines() == ["C /tmp", "A /tmp/mark"]


# -- export -------------------------------------------------------------------------------------


def test_export_holds_the_changes_but_not_volume_content(cli: Cli, bb: str, tmp_path: Path) -> None:
    run(
        cli,
        "--name",
        "ct",
        "-v",
        "vol1:/data",
        bb,
        "sh",
        "-c",
        "echo hi > /new.txt && echo secret > /data/s && rm /etc/group && ln /bin/busybox /hard",
    )
    out = tmp_path / "c.tar"
    assert ok(cli, "export", "-o", str(out), "ct") == ""
    with tarfile.open(out) as tf:
        names = tf.getnames()
        assert tf.extractfile("new.txt").read() == b"hi\n"  # type: ignore[union-attr]
        assert tf.getmember("data").isdir() and "data/s" not in names
        assert "etc/group" not in names and "etc/passwd" in names
        assert tf.getmember("bin/sh").issym() and tf.getmember("bin/sh").linkname == "busybox"
        assert tf.getmember("bin/busybox").isfile()  # first name of the inode (walk order)
        hard = tf.getmember("hard")
        assert hard.islnk() and hard.linkname == "bin/busybox"
        assert tf.getmember("tmp").mode == 0o1777 and tf.getmember("root").mode == 0o700
        assert all(m.uname == "" and m.gname == "" for m in tf.getmembers())
    streamed = raw(cli, "container", "export", "ct")
    assert streamed.returncode == 0, streamed.stderr
    with tarfile.open(fileobj=io.BytesIO(streamed.stdout)) as tf:
        assert tf.getnames() == names


def test_export_refuses_a_terminal_and_a_missing_directory(
    cli: Cli, bb: str, tmp_path: Path
) -> None:
    ok(cli, "create", "--name", "ct", bb)
    master, slave = pty.openpty()
    try:
        p = subprocess.run(
            [PYNERD, *cli.argv("export", "ct")],
            stdout=slave,
            stderr=subprocess.PIPE,
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
        os.close(master)
    assert p.returncode == 1
    assert p.stderr.decode() == (
        "Error: cowardly refusing to save to a terminal. Use the -o flag or redirect\n"
    )
    r = cli("export", "-o", str(tmp_path / "nodir" / "x.tar"), "ct")
    assert r.code == 1 and "invalid output path: directory" in r.err
    r = cli("export", "-o", str(tmp_path / "x.tar"), "nosuch")
    assert "No such container: nosuch" in r.err and not (tmp_path / "x.tar").exists()


# -- commit -------------------------------------------------------------------------------------


def test_commit_makes_a_runnable_image_with_message_author_and_changes(cli: Cli, bb: str) -> None:
    run(
        cli,
        "--name",
        "ct",
        bb,
        "sh",
        "-c",
        "echo committed-data > /data.txt && rm /var/www/index.html && "
        "rm -rf /home && mkdir /home && echo h > /home/new",
    )
    image_id = ok(cli, "commit", "-m", "my message", "-a", "Me <me@example.com>", "ct", "snap:v1")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", image_id)
    out = run(cli, "--rm", "snap:v1", "sh", "-c", "cat /data.txt; ls -A /var/www | wc -l; ls /home")
    assert out == "committed-data\n0\nnew\n"
    (info,) = json.loads(ok(cli, "image", "inspect", "snap:v1"))
    assert info["Id"] == image_id.strip()
    assert info["Author"] == "Me <me@example.com>" and info["Comment"] == "my message"
    assert info["Config"]["Cmd"] == [
        "sh",
        "-c",
        "echo committed-data > /data.txt && rm "
        "/var/www/index.html && rm -rf /home && mkdir /home && "
        "echo h > /home/new",
    ]
    assert not any(e.startswith("HOSTNAME=") for e in info["Config"]["Env"] or [])
    assert len(info["RootFS"]["Layers"]) == 2
    comments = ok(cli, "history", "--format", "{{.Comment}}", "snap:v1").splitlines()
    assert comments[0] == "my message"
    # Dockerfile changes apply to the new image's config
    ok(
        cli,
        "container",
        "commit",
        "-c",
        'CMD ["echo","committed"]',
        "-c",
        "ENV FOO=bar",
        "ct",
        "snap:cmd",
    )
    assert run(cli, "--rm", "snap:cmd") == "committed\n"
    assert run(cli, "--rm", "snap:cmd", "sh", "-c", "echo $FOO") == "bar\n"
    # without a name: a dangling image, listed by ID
    dangling = ok(cli, "commit", "ct").strip()
    assert dangling[7:19] in ok(cli, "images", "-q")
    r = cli("commit", "-c", "FROM busybox", "ct")
    assert r.code == 1 and "unknown instruction: FROM" in r.err


def test_commit_pauses_a_running_container_and_native_snapshots_commit_too(
    cli: Cli, bb: str
) -> None:
    ok(cli, "run", "-d", "--name", "rr", bb, "sh", "-c", "echo live > /live.txt; sleep 300")
    deadline = time.monotonic() + 10
    while "A /live.txt" not in ok(cli, "diff", "rr") and time.monotonic() < deadline:
        time.sleep(0.05)
    ok(cli, "commit", "rr", "live:1")
    assert ok(cli, "inspect", "-f", "{{.State.Status}}", "rr") == "running\n"
    assert run(cli, "--rm", "live:1", "cat", "/live.txt") == "live\n"
    ok(cli, "commit", "--pause=false", "rr", "live:2")
    assert ok(cli, "inspect", "-f", "{{.State.Status}}", "rr") == "running\n"
    nat = ("--snapshotter", "native")
    ok(cli, *nat, "pull", "-q", bb)
    r = cli.proc(
        *nat, "run", "--name", "nn", bb, "sh", "-c", "echo native > /n.txt && rm -rf /var/www"
    )
    assert r.code == 0, r.err
    ok(cli, *nat, "commit", "nn", "nat:1")
    r = cli.proc(*nat, "run", "--rm", "nat:1", "sh", "-c", "cat /n.txt; ls /var")
    assert (r.code, r.out) == (0, "native\n"), r.err


# -- cp -----------------------------------------------------------------------------------------


@pytest.fixture
def live(cli: Cli, bb: str) -> str:
    ok(cli, "run", "-d", "--name", "ct", "-u", "0", bb, "sleep", "300")
    return "ct"


def sh(cli: Cli, script: str, ctr: str = "ct") -> str:
    """exec writes to fd 1 itself: run it as a process to see its output."""
    r = cli.proc("exec", ctr, "sh", "-c", script)
    assert r.code == 0, r.err
    return r.out


def test_cp_out_files_and_directories(cli: Cli, live: str, tmp_path: Path) -> None:
    ok(cli, "cp", "ct:/etc/passwd", str(tmp_path / "passwd"))
    assert (tmp_path / "passwd").read_text() == sh(cli, "cat /etc/passwd")
    ok(cli, "cp", "ct:/var/www", str(tmp_path / "out"))  # missing: becomes the directory
    assert (tmp_path / "out" / "index.html").is_file()
    (tmp_path / "exists").mkdir()
    ok(cli, "cp", "ct:/var/www", str(tmp_path / "exists"))  # existing: copied into it
    assert (tmp_path / "exists" / "www" / "index.html").is_file()
    (tmp_path / "exists2").mkdir()
    ok(cli, "container", "cp", "ct:/var/www/.", str(tmp_path / "exists2"))  # /.: the content
    assert sorted(os.listdir(tmp_path / "exists2")) == ["index.html"]
    ok(cli, "cp", "ct:/bin/sh", str(tmp_path / "sh-link"))  # a link is copied as a link
    assert os.readlink(tmp_path / "sh-link") == "busybox"
    ok(cli, "cp", "-L", "ct:/bin/sh", str(tmp_path / "sh-file"))  # -L: its target
    assert (tmp_path / "sh-file").is_file() and not (tmp_path / "sh-file").is_symlink()
    # a file onto an existing file replaces it; a directory onto a file is refused
    ok(cli, "cp", "ct:/etc/group", str(tmp_path / "passwd"))
    assert (tmp_path / "passwd").read_text().startswith("root:x:0:\n")
    r = cli("cp", "ct:/var/www", str(tmp_path / "passwd"))
    assert r.code == 1 and "cannot copy directory" in r.err


def test_cp_in_files_and_directories_with_and_without_dot(
    cli: Cli, live: str, tmp_path: Path
) -> None:
    src = tmp_path / "d"
    (src / "sub").mkdir(parents=True)
    (src / "x").write_text("x\n")
    (src / "sub" / "y").write_text("y\n")
    os.chown(src / "x", 1234, 5678)
    ok(cli, "cp", str(src / "x"), "ct:/tmp/")
    assert sh(cli, "cat /tmp/x; stat -c %u:%g /tmp/x") == "x\n1234:5678\n"  # owner kept
    ok(cli, "cp", str(src), "ct:/tmp")
    assert sh(cli, "cat /tmp/d/x /tmp/d/sub/y") == "x\ny\n"
    ok(cli, "cp", f"{src}/.", "ct:/tmp/new")  # missing destination: made from the content
    assert sh(cli, "ls /tmp/new") == "sub\nx\n"
    ok(cli, "cp", f"{src}/.", "ct:/root")  # existing: the content goes into it
    assert sh(cli, "cat /root/x") == "x\n"
    ok(cli, "cp", str(src / "x"), "ct:/renamed.txt")  # a missing file destination: its name
    assert sh(cli, "cat /renamed.txt") == "x\n"
    r = cli("cp", str(src / "x"), "ct:/tmp/nodir/")
    assert r.code == 1 and "no such directory" in r.err
    r = cli("cp", str(tmp_path / "nope"), "ct:/tmp")
    assert r.code == 1 and "no such file or directory" in r.err


def test_cp_archive_mode_gives_files_to_the_container_user(
    cli: Cli, bb: str, tmp_path: Path
) -> None:
    ok(cli, "run", "-d", "--name", "ct", "-u", "nobody", bb, "sleep", "300")
    f = tmp_path / "f"
    f.write_text("f\n")
    os.chown(f, 1234, 5678)
    ok(cli, "cp", "-a", str(f), "ct:/tmp/")
    assert sh(cli, "stat -c %u:%g /tmp/f") == "65534:65534\n"


def test_cp_tar_streams_both_ways(cli: Cli, live: str) -> None:
    out = raw(cli, "cp", "ct:/etc/passwd", "-")
    assert out.returncode == 0, out.stderr
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tf:
        assert tf.getnames() == ["passwd"]
    out = raw(cli, "cp", "ct:/var/www", "-")
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tf:
        assert tf.getnames() == ["www", "www/index.html"]
    out = raw(cli, "cp", "ct:/var/www/.", "-")
    with tarfile.open(fileobj=io.BytesIO(out.stdout)) as tf:
        assert tf.getnames() == [".", "./index.html"]
    stream = tar_bytes(
        member("inbox", tarfile.DIRTYPE, mode=0o750),
        member("inbox/a.txt"),
        data={"inbox/a.txt": b"from a tar\n"},
    )
    r = raw(cli, "cp", "-", "ct:/tmp", input=stream)
    assert r.returncode == 0, r.stderr
    assert sh(cli, "cat /tmp/inbox/a.txt; stat -c %a /tmp/inbox") == "from a tar\n750\n"
    r = raw(cli, "cp", "-", "ct:/etc/passwd", input=stream)
    assert r.returncode == 1 and b'destination "ct:/etc/passwd" must be a directory' in r.stderr


def test_cp_never_follows_a_container_link_out_of_the_rootfs(
    cli: Cli, live: str, tmp_path: Path
) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "guard").write_text("untouched\n")
    unique = f"pynerd-escape-{uuid.uuid4().hex[:12]}"
    sh(
        cli,
        f"ln -s / /tmp/rootlink && ln -s ../../../../../../../.. /tmp/up && "
        f"ln -s {sentinel} /tmp/hostdir && ln -s {sentinel}/guard /tmp/hostfile",
    )
    payload = tmp_path / unique
    payload.write_text("payload\n")
    (tmp_path / "guard").write_text("overwritten!\n")
    # links to the host path resolve inside the container, where it does not exist
    for dest in ("ct:/tmp/hostdir/", "ct:/tmp/hostdir", "ct:/tmp/hostfile"):
        r = cli("cp", str(tmp_path / "guard"), dest)
        assert r.code == 1, (dest, r.out)
    assert (sentinel / "guard").read_text() == "untouched\n"
    # links to / and ../../.. lead to the container's root
    ok(cli, "cp", str(payload), "ct:/tmp/rootlink/etc/")
    ok(cli, "cp", str(payload), "ct:/tmp/up/")
    assert sh(cli, f"cat /etc/{unique} /{unique}") == "payload\npayload\n"
    assert not Path("/etc", unique).exists() and not Path("/", unique).exists()
    # a tar that plants a link, then writes through it
    stream = tar_bytes(
        member("esc", tarfile.SYMTYPE, link="/"),
        member(f"esc/tmp/{unique}.2"),
        data={f"esc/tmp/{unique}.2": b"through the link\n"},
    )
    r = raw(cli, "cp", "-", "ct:/tmp", input=stream)
    assert r.returncode == 0, r.stderr
    assert sh(cli, f"cat /tmp/{unique}.2") == "through the link\n"
    assert not Path("/tmp", f"{unique}.2").exists()
    r = raw(cli, "cp", "-", "ct:/tmp", input=tar_bytes(member(f"../../{unique}.3")))
    assert r.returncode == 1 and b"is outside of" in r.stderr
    r = raw(
        cli, "cp", "-", "ct:/tmp", input=tar_bytes(member("bad", tarfile.SYMTYPE, link="../../.."))
    )
    assert r.returncode == 1 and b"invalid symlink" in r.stderr
    # reading: the host file behind an absolute link is never read
    r = cli("cp", "-L", "ct:/tmp/hostfile", str(tmp_path / "stolen"))
    assert r.code == 1 and "Could not find the file" in r.err
    assert not (tmp_path / "stolen").exists()
    r = cli("cp", "ct:/tmp/hostdir/.", str(tmp_path / "stolen"))
    assert r.code == 1 and not (tmp_path / "stolen").exists()


def test_cp_into_and_out_of_volumes(cli: Cli, bb: str, tmp_path: Path) -> None:
    ok(
        cli,
        "run",
        "-d",
        "--name",
        "ct",
        "-v",
        "cpvol:/data",
        "-v",
        "cpro:/ro:ro",
        bb,
        "sleep",
        "300",
    )
    f = tmp_path / "f.txt"
    f.write_text("into the volume\n")
    ok(cli, "cp", str(f), "ct:/data/")
    (vol,) = json.loads(ok(cli, "volume", "inspect", "cpvol"))
    assert Path(vol["Mountpoint"], "f.txt").read_text() == "into the volume\n"
    assert sh(cli, "cat /data/f.txt") == "into the volume\n"
    sh(cli, "echo from inside > /data/g.txt")
    ok(cli, "cp", "ct:/data/g.txt", str(tmp_path / "g.txt"))
    assert (tmp_path / "g.txt").read_text() == "from inside\n"
    ok(cli, "cp", "ct:/", str(tmp_path / "all"))  # the whole tree, volumes included
    assert (tmp_path / "all" / "data" / "g.txt").read_text() == "from inside\n"
    r = cli("cp", str(f), "ct:/ro/")
    assert r.code == 1 and "mounted volume is marked read-only" in r.err


def test_cp_errors(cli: Cli, live: str, tmp_path: Path) -> None:
    r = cli("cp", "ct:/nope", str(tmp_path / "x"))
    assert (r.code, r.err) == (1, "Error: Could not find the file /nope in container ct\n")
    r = cli("cp", "nosuch:/etc/passwd", str(tmp_path / "x"))
    assert r.code == 1 and "No such container: nosuch" in r.err
    r = cli("cp", "ct:/etc/passwd", "ct:/tmp")
    assert "copying between containers is not supported" in r.err
    r = cli("cp", str(tmp_path), str(tmp_path))
    assert "must specify at least one container source" in r.err
    r = cli("cp", "ct:/etc/passwd", str(tmp_path / "no" / "dir"))
    assert "invalid output path: directory" in r.err
    r = cli("cp", str(tmp_path), "ct:/etc/passwd")
    assert "cannot copy directory" in r.err
