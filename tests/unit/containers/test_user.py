"""--user resolution against the rootfs, and paths that must not leave the rootfs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pynerd.containers.user import (
    ExecUser,
    ensure_dir_in_root,
    read_file_in_root,
    resolve_user,
)
from pynerd.errors import InvalidArgument
from tests.unit.containers.spec_fixtures import make_rootfs


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    return make_rootfs(tmp_path)


@pytest.mark.parametrize(
    ("spec", "group_add", "expected"),
    [
        ("", (), ExecUser(0, 0, [0], "/root")),
        ("root", (), ExecUser(0, 0, [0], "/root")),
        ("0", (), ExecUser(0, 0, [0], "/root")),
        ("alice", (), ExecUser(1000, 1000, [1000, 50, 29], "/home/alice")),
        ("1000", (), ExecUser(1000, 1000, [1000, 50, 29], "/home/alice")),
        ("alice:staff", (), ExecUser(1000, 50, [50], "/home/alice")),
        ("alice:29", (), ExecUser(1000, 29, [29], "/home/alice")),
        ("1000:4242", (), ExecUser(1000, 4242, [4242], "/home/alice")),
        ("4242", (), ExecUser(4242, 0, [0], "/")),  # numeric ids need no entry
        ("4242:4343", (), ExecUser(4242, 4343, [4343], "/")),
        ("nobody", (), ExecUser(65534, 65534, [65534], "/nonexistent")),
        (
            "nobody",
            ("staff", "7", "audio"),
            ExecUser(65534, 65534, [65534, 50, 7, 29], "/nonexistent"),
        ),
        ("alice", ("staff",), ExecUser(1000, 1000, [1000, 50, 29], "/home/alice")),
        (":staff", (), ExecUser(0, 50, [50], "/root")),
    ],
)
def test_resolve_user(
    rootfs: Path, spec: str, group_add: tuple[str, ...], expected: ExecUser
) -> None:
    assert resolve_user(rootfs, spec, group_add) == expected


@pytest.mark.parametrize(
    ("spec", "group_add", "message"),
    [
        ("foo", (), "unable to find user foo: no matching entries in passwd file"),
        ("alice:wheel", (), "unable to find group wheel: no matching entries in group file"),
        ("nobody", ("wheel",), "Unable to find group wheel: no matching entries in group file"),
        ("-5", (), "uids and gids must be in range 0-2147483647"),
        ("5:2147483648", (), "uids and gids must be in range 0-2147483647"),
    ],
)
def test_resolve_user_errors(
    rootfs: Path, spec: str, group_add: tuple[str, ...], message: str
) -> None:
    with pytest.raises(InvalidArgument) as err:
        resolve_user(rootfs, spec, group_add)
    assert err.value.message == message


def test_without_passwd_only_numeric_users_work(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    assert resolve_user(root, "") == ExecUser(0, 0, [0], "/")
    assert resolve_user(root, "123:456") == ExecUser(123, 456, [456], "/")
    with pytest.raises(InvalidArgument, match="unable to find user app"):
        resolve_user(root, "app")


def test_absolute_passwd_symlink_resolves_inside_the_rootfs(rootfs: Path) -> None:
    """An image's /etc/passwd -> /etc/shadow must read the image's shadow, not the host's."""
    (rootfs / "etc" / "passwd").unlink()
    os.symlink("/etc/shadow", rootfs / "etc" / "passwd")
    assert resolve_user(rootfs, "") == ExecUser(0, 0, [0], "/")  # no shadow in the image
    with pytest.raises(InvalidArgument, match="unable to find user root"):
        resolve_user(rootfs, "root")  # the host's shadow has root; the image has nothing
    (rootfs / "etc" / "shadow").write_text("root:x:7:7::/shadowed:/bin/sh\n")
    assert resolve_user(rootfs, "root").uid == 7


def test_relative_symlinks_cannot_climb_out(rootfs: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").write_text("evil:x:666:666::/evil:/bin/sh\n")
    (rootfs / "etc" / "passwd").unlink()
    os.symlink("../../../../../../../../../outside", rootfs / "etc" / "passwd")
    assert read_file_in_root(rootfs, "/etc/passwd") is None
    (rootfs / "outside").write_text("inside:x:5:5::/in:/bin/sh\n")
    assert resolve_user(rootfs, "inside").uid == 5


def test_symlinked_directory_is_followed_in_scope(rootfs: Path, tmp_path: Path) -> None:
    real = rootfs / "real-etc"
    (rootfs / "etc").rename(real)
    os.symlink("/real-etc", rootfs / "etc")
    assert resolve_user(rootfs, "alice").uid == 1000
    os.unlink(rootfs / "etc")
    os.symlink(str(tmp_path), rootfs / "etc")  # absolute host path: means <rootfs>/<that>
    assert read_file_in_root(rootfs, "/etc/passwd") is None


def test_symlink_loop_is_an_error(rootfs: Path) -> None:
    (rootfs / "etc" / "passwd").unlink()
    os.symlink("passwd", rootfs / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="Too many levels of symbolic links"):
        resolve_user(rootfs, "root")


def test_non_regular_passwd_is_ignored(rootfs: Path) -> None:
    (rootfs / "etc" / "passwd").unlink()
    (rootfs / "etc" / "passwd").mkdir()
    assert read_file_in_root(rootfs, "/etc/passwd") is None
    (rootfs / "etc" / "group").unlink()
    os.mkfifo(rootfs / "etc" / "group")  # opening it would block forever
    assert read_file_in_root(rootfs, "/etc/group") is None


def test_ensure_dir_creates_0755_inside_the_rootfs(rootfs: Path, tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        ensure_dir_in_root(rootfs, "/srv/app/data")
    finally:
        os.umask(old)
    for rel in ("srv", "srv/app", "srv/app/data"):
        assert (rootfs / rel).is_dir()
        assert (rootfs / rel).stat().st_mode & 0o777 == 0o755
    # an absolute symlink on the way is followed inside the rootfs, never on the host
    outside = tmp_path / "host-dir"
    outside.mkdir()
    os.symlink(str(outside), rootfs / "work")
    ensure_dir_in_root(rootfs, "/work/x")
    assert not (outside / "x").exists()
    assert (rootfs / str(outside).lstrip("/") / "x").is_dir()


def test_ensure_dir_through_a_file_fails_like_docker(rootfs: Path) -> None:
    (rootfs / "file").write_text("")
    with pytest.raises(InvalidArgument, match="Cannot mkdir: /file/sub is not a directory"):
        ensure_dir_in_root(rootfs, "/file/sub")
