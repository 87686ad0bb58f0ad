from __future__ import annotations

import os
from pathlib import Path

import pytest

from pynerd.errors import InvalidArgument
from pynerd.pathscope import resolve_in_scope


def scope(root: Path):  # type: ignore[no-untyped-def]
    def lstat(p: str) -> os.stat_result | None:
        try:
            return os.lstat(root / p.lstrip("/"))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def readlink(p: str) -> str:
        return os.readlink(root / p.lstrip("/"))

    return lstat, readlink


def test_links_never_leave_the_scope(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    os.symlink("/", tmp_path / "up")
    os.symlink("../../../../etc", tmp_path / "climb")
    os.symlink("/etc/passwd", tmp_path / "abs")
    lstat, readlink = scope(tmp_path)
    assert resolve_in_scope("/up/etc", lstat, readlink) == "/etc"
    assert resolve_in_scope("/climb/shadow", lstat, readlink) == "/etc/shadow"
    assert resolve_in_scope("/abs", lstat, readlink) == "/etc/passwd"
    assert resolve_in_scope("/abs", lstat, readlink, follow_last=False) == "/abs"
    assert resolve_in_scope("/a/../../missing/./x", lstat, readlink) == "/missing/x"


def test_link_loops_are_an_error(tmp_path: Path) -> None:
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    lstat, readlink = scope(tmp_path)
    with pytest.raises(InvalidArgument, match="too many links"):
        resolve_in_scope("/a", lstat, readlink)
