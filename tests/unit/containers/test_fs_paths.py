"""cp's path rules, the in-container resolver and diff's classification, on plain directories.

No root needed: overlay whiteouts are stood in for by FIFOs and opaque directories by a
set of paths (the classification takes them as predicates).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from pynerd.containers import fs_diff
from pynerd.containers.fs_diff import Change, LowerTree, finish, raw_changes
from pynerd.containers.fs_extract import extract
from pynerd.containers.fs_paths import (
    ContainerView,
    CopyInfo,
    CopyPlan,
    MountPoint,
    archive_root_names,
    base,
    check_output_mode,
    clean,
    container_abs,
    get_rebase_name,
    prepare_archive_copy,
    preserve_trailing,
    rebase,
    split_cp_arg,
    split_dir_entry,
)
from pynerd.containers.fs_tar import TarWriter, Walk, write_tree
from pynerd.errors import InvalidArgument, NotFound

# -- Go's path helpers and the copy rules -----------------------------------------------------


@pytest.mark.parametrize(
    ("path", "cleaned", "base_name"),
    [
        ("/", "/", "/"),
        ("", ".", "."),
        ("/etc/", "/etc", "etc"),
        ("/etc/.", "/etc", "."),
        ("a/../../b", "../b", "b"),
        ("/../x//y/./", "/x/y", "."),
    ],
)
def test_clean_and_base_follow_go(path: str, cleaned: str, base_name: str) -> None:
    assert clean(path) == cleaned
    assert base(path) == base_name


def test_trailing_dot_and_separator_survive_cleaning() -> None:
    assert container_abs("etc/.") == "/etc/."
    assert container_abs("etc/") == "/etc/"
    assert container_abs("/etc/../var//www") == "/var/www"
    assert container_abs(".") == "/."
    assert preserve_trailing("/", "/") == "/"
    assert split_dir_entry("/var/www/.") == ("/var/www", ".")
    assert split_dir_entry("/var/www/") == ("/var", "www")
    assert split_dir_entry("file") == (".", "file")


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("web:/etc", ("web", "/etc")),
        ("web:etc/passwd", ("web", "etc/passwd")),
        ("/abs/file:name", ("", "/abs/file:name")),
        ("./file:name", ("", "./file:name")),
        ("plain", ("", "plain")),
        ("-", ("", "-")),
    ],
)
def test_split_cp_arg(arg: str, expected: tuple[str, str]) -> None:
    assert split_cp_arg(arg) == expected


def test_prepare_archive_copy_cases() -> None:
    file_src = CopyInfo("/src/f", True, False)
    dir_src = CopyInfo("/src/d", True, True)
    dot_src = CopyInfo("/src/d/.", True, True)
    # existing directory: extracted into it, names unchanged
    assert prepare_archive_copy(file_src, CopyInfo("/dst", True, True)) == CopyPlan("/dst")
    assert prepare_archive_copy(dot_src, CopyInfo("/dst", True, True)) == CopyPlan("/dst")
    # existing file: replaced by a file, refused for a directory
    assert prepare_archive_copy(file_src, CopyInfo("/dst/g", True, False)) == CopyPlan(
        "/dst", ("f", "g")
    )
    with pytest.raises(InvalidArgument, match="cannot copy directory"):
        prepare_archive_copy(dir_src, CopyInfo("/dst/g", True, False))
    # missing: the archive's root takes the destination's name
    assert prepare_archive_copy(dir_src, CopyInfo("/dst/new")) == CopyPlan("/dst", ("d", "new"))
    assert prepare_archive_copy(dot_src, CopyInfo("/dst/new")) == CopyPlan("/dst", (".", "new"))
    assert prepare_archive_copy(file_src, CopyInfo("/dst/new")) == CopyPlan("/dst", ("f", "new"))
    with pytest.raises(NotFound, match="no such directory"):
        prepare_archive_copy(file_src, CopyInfo("/dst/new/"))
    # a source renamed by -L keeps the name the user gave
    linked = CopyInfo("/src/target", True, False, rebase_name="link")
    assert prepare_archive_copy(linked, CopyInfo("/dst/x")) == CopyPlan("/dst", ("link", "x"))


def test_rebase_and_archive_names() -> None:
    assert archive_root_names("/etc", True) == ("etc/", "etc/")
    assert archive_root_names("/etc/.", True) == ("./", "./")
    assert archive_root_names("/", True) == ("/", "/")
    assert archive_root_names("/etc/passwd", False) == ("passwd", "")
    assert rebase("./", (".", "new")) == "new/"
    assert rebase("www/index.html", ("www", "site")) == "site/index.html"
    assert rebase("/bin", ("/", "root")) == "root/bin"
    assert rebase("x", None) == "x"
    assert get_rebase_name("/a/link", "/a/target") == ("/a/target", "link")
    assert get_rebase_name("/a/link/.", "/a/target") == ("/a/target/.", "")
    assert get_rebase_name("/a/same", "/b/same") == ("/b/same", "")


def test_output_mode_refuses_devices_only(tmp_path: Path) -> None:
    assert check_output_mode(os.stat(tmp_path)) is None
    assert check_output_mode(os.stat("/dev/null")) == "got a device"


# -- the resolver ------------------------------------------------------------------------------


@pytest.fixture
def view(tmp_path: Path) -> ContainerView:
    """A rootfs with hostile links, and a volume mounted at /data."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root\n")
    (root / "tmp").mkdir()
    (root / "data").mkdir()
    os.symlink("/", root / "tmp" / "rootlink")
    os.symlink("../../../../../../..", root / "tmp" / "up")
    os.symlink(str(tmp_path / "host"), root / "tmp" / "hostdir")
    os.symlink("/data/inner", root / "tmp" / "intovol")
    os.symlink("loop2", root / "tmp" / "loop1")
    os.symlink("loop1", root / "tmp" / "loop2")
    os.symlink("../etc", root / "tmp" / "etclink")
    vol = tmp_path / "volume"
    (vol / "inner").mkdir(parents=True)
    os.symlink("/etc", vol / "back")  # a link inside the volume leads back to the rootfs
    (tmp_path / "host").mkdir()
    (tmp_path / "host" / "secret").write_text("host\n")
    return ContainerView(root, [MountPoint("/data", vol)])


def test_links_resolve_inside_the_container(view: ContainerView) -> None:
    assert view.resolve("/tmp/rootlink/etc/passwd") == "/etc/passwd"
    assert view.resolve("/tmp/up/etc") == "/etc"
    assert view.resolve("/../../etc/./passwd") == "/etc/passwd"
    assert view.resolve("/tmp/etclink/passwd") == "/etc/passwd"
    host = str(view.rootfs.parent / "host")
    assert view.resolve("/tmp/hostdir/secret") == host + "/secret"  # a container path
    assert view.lstat(view.resolve("/tmp/hostdir/secret")) is None  # ...that does not exist
    assert view.resolve("/tmp/rootlink", follow_last=False) == "/tmp/rootlink"
    assert view.resolve("/tmp/missing/x") == "/tmp/missing/x"
    with pytest.raises(InvalidArgument, match="too many links"):
        view.resolve("/tmp/loop1")


def test_mounts_are_part_of_the_view(view: ContainerView, tmp_path: Path) -> None:
    assert view.resolve("/tmp/intovol") == "/data/inner"
    assert view.locate("/data/inner/f") == (tmp_path / "volume", "inner/f", view.mounts[0])
    assert view.locate("/database") == (view.rootfs, "database", None)
    assert view.resolve("/data/back/passwd") == "/etc/passwd"
    nested = ContainerView(
        view.rootfs,
        [MountPoint("/data", tmp_path / "a"), MountPoint("/data/sub/", tmp_path / "b", rw=False)],
    )
    assert nested.locate("/data/sub/x")[:2] == (tmp_path / "b", "x")
    assert nested.mount_at("/data/sub") == MountPoint("/data/sub", tmp_path / "b", False)


def test_stat_follows_the_last_link_only_when_asked(view: ContainerView) -> None:
    st = view.stat("tmp/etclink")
    assert st.is_link and st.link_target == "/etc" and st.name == "etclink"
    assert view.stat("tmp/etclink/").is_dir
    assert view.stat("/tmp/etclink/.").resolved == "/etc"
    with pytest.raises(NotFound, match=r"^Could not find the file /nope in container web$"):
        view.stat("/nope", "Could not find the file /nope in container web")
    with pytest.raises(InvalidArgument, match="not a directory"):
        view.stat("/etc/passwd/")


# -- diff's classification ---------------------------------------------------------------------


def fifo_whiteout(path: str, st: os.stat_result) -> bool:
    return stat.S_ISFIFO(st.st_mode)


def tree(root: Path, spec: dict[str, str | None]) -> Path:
    """Make files (text), directories (trailing /), whiteouts (None); fixed mtimes."""
    for rel, content in spec.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            os.mkfifo(p)
        elif rel.endswith("/"):
            p.mkdir(exist_ok=True)
        else:
            p.write_text(content)
            os.utime(p, (1_000_000, 1_000_000))
    return root


@pytest.fixture
def image(tmp_path: Path) -> list[Path]:
    """Two layers: the lower one's /opt/old is deleted by the upper one."""
    lower = tree(
        tmp_path / "l1",
        {
            "etc/passwd": "root\n",
            "etc/group": "g\n",
            "var/www/index.html": "i\n",
            "opt/old": "o\n",
            "home/": "",
        },
    )
    upper = tree(tmp_path / "l2", {"opt/old": None, "opt/new": "n\n"})
    return [upper, lower]


def classify(
    upper: Path,
    layers: list[Path],
    opaque: frozenset[str] | set[str] = frozenset(),
    skip: frozenset[str] | set[str] = frozenset(),
) -> list[str]:
    def is_opaque(path: str) -> bool:
        return path in opaque

    old = LowerTree(layers, fifo_whiteout, is_opaque)
    raw = raw_changes(upper, old, is_whiteout=fifo_whiteout, is_opaque=is_opaque, skip=skip)
    return [f"{c.kind} {c.path}" for c in finish(raw, skip)]


def test_lower_tree_merges_layers_with_whiteouts(image: list[Path]) -> None:
    lower = LowerTree(image, fifo_whiteout)
    assert lower.lstat("opt/old") is None and lower.lstat("opt/new") is not None
    assert lower.children("opt") == {"new"}
    assert lower.children("") == {"etc", "var", "opt", "home"}
    assert lower.lstat("etc/passwd/x") is None


def test_overlay_upper_dir_classification(image: list[Path], tmp_path: Path) -> None:
    upper = tree(
        tmp_path / "upper",
        {
            "etc/passwd": "root\nmore\n",  # changed
            "etc/group": None,  # deleted
            "new.txt": "x",  # added
            "a/b/c": "",  # added, with its directories
            "home": None,  # a deleted directory: its content is not listed
            "opt/old": None,  # whiteout of what the image does not have: nothing
        },
    )
    os.utime(upper / "etc" / "passwd", (2_000_000, 2_000_000))
    assert classify(upper, image) == [
        "A /a",
        "A /a/b",
        "A /a/b/c",
        "C /etc",
        "D /etc/group",
        "C /etc/passwd",
        "D /home",
        "A /new.txt",
    ]  # /opt: a whiteout of what the image does not have changes nothing


def test_unchanged_copy_ups_are_not_changes(image: list[Path], tmp_path: Path) -> None:
    upper = tree(tmp_path / "upper", {"etc/passwd": "root\n"})  # same size and mtime
    assert classify(upper, image) == []
    os.chmod(upper / "etc" / "passwd", 0o600)
    assert classify(upper, image) == ["C /etc", "C /etc/passwd"]


def test_opaque_directory_deletes_what_the_image_had(image: list[Path], tmp_path: Path) -> None:
    upper = tree(tmp_path / "upper", {"var/www/new.html": "n\n"})
    assert classify(upper, image) == ["C /var", "C /var/www", "A /var/www/new.html"]
    opaque = {str(upper / "var")}
    assert classify(upper, image, opaque) == [
        "C /var",
        "C /var/www",
        "D /var/www/index.html",
        "A /var/www/new.html",
    ]


def test_mount_points_and_their_holders_are_left_out(image: list[Path], tmp_path: Path) -> None:
    upper = tree(
        tmp_path / "upper",
        {"etc/hostname": "", "srv/data/": "", "vol/": "", "srv2/data/": "", "srv2/mine": "m"},
    )
    skip = {"/etc/hostname", "/srv/data", "/vol", "/srv2/data"}
    assert classify(upper, image, skip=skip) == ["A /srv2", "A /srv2/mine"]


def test_native_full_trees_are_compared_everywhere(image: list[Path], tmp_path: Path) -> None:
    old = tree(tmp_path / "old", {"etc/passwd": "root\n", "etc/group": "g\n", "keep": "k"})
    new = tree(tmp_path / "new", {"etc/passwd": "root\n", "keep": "k", "added": "a"})
    raw = raw_changes(new, LowerTree([old]), compare_all=True)
    assert [f"{c.kind} {c.path}" for c in finish(raw)] == ["A /added", "C /etc", "D /etc/group"]


def test_differs_ignores_directory_times_and_sizes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (b / "f").write_text("x")
    os.utime(a, (1, 1))
    assert not fs_diff.differs(os.stat(a), os.stat(b))
    f, g = tmp_path / "f", tmp_path / "g"
    f.write_text("x")
    g.write_text("x")
    os.utime(f, ns=(5 * 10**9, 5 * 10**9))
    os.utime(g, ns=(5 * 10**9 + 7, 5 * 10**9 + 7))
    assert not fs_diff.differs(os.stat(f), os.stat(g))  # one side without nanoseconds
    os.utime(g, ns=(6 * 10**9, 6 * 10**9))
    assert fs_diff.differs(os.stat(f), os.stat(g))


def test_finish_sorts_like_a_walk_and_adds_parents() -> None:
    raw = [Change("A", "/a-c"), Change("D", "/a/b/c"), Change("A", "/z", True)]
    assert [(c.kind, c.path) for c in finish(raw)] == [
        ("C", "/a"),
        ("C", "/a/b"),
        ("D", "/a/b/c"),
        ("A", "/a-c"),
        ("A", "/z"),
    ]


# -- archives and Docker's Untar (host side: no chroot, no chown) -----------------------------


def archive(src: Path, prefix: str = "") -> bytes:
    buf = io.BytesIO()
    fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with TarWriter(buf) as tw:
            write_tree(tw, fd, prefix, Walk())
    finally:
        os.close(fd)
    return buf.getvalue()


def test_tar_writer_walks_sorted_without_following_links(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "b").mkdir(parents=True)
    (src / "b" / "f").write_text("data")
    os.link(src / "b" / "f", src / "c")
    os.symlink("/etc", src / "a")
    os.mkfifo(src / "p")
    with tarfile.open(fileobj=io.BytesIO(archive(src, "root/"))) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert list(members) == ["root/a", "root/b", "root/b/f", "root/c", "root/p"]
        assert members["root/a"].issym() and members["root/a"].linkname == "/etc"
        assert members["root/b"].isdir() and members["root/c"].islnk()
        assert members["root/c"].linkname == "root/b/f" and members["root/p"].isfifo()
        assert tf.extractfile("root/b/f").read() == b"data"  # type: ignore[union-attr]


def untar(data: bytes, dest: Path) -> int:
    return extract(
        lambda pipe: pipe.write(data), dest, "", chroot=False, owner="none", display=str(dest)
    )


def tar_of(*members: tuple[str, bytes, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = payload
                tf.addfile(info)
            else:
                info.size = len(payload)
                tf.addfile(info, io.BytesIO(payload.encode()) if kind == tarfile.REGTYPE else None)
    return buf.getvalue()


def test_untar_creates_implied_directories_and_keeps_wh_names(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    untar(tar_of(("deep/er/file", tarfile.REGTYPE, "x"), (".wh.keep", tarfile.REGTYPE, "")), dest)
    assert (dest / "deep" / "er" / "file").read_text() == "x"
    assert stat.S_IMODE(os.stat(dest / "deep").st_mode) == 0o755
    assert (dest / ".wh.keep").is_file()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ((("../x", tarfile.REGTYPE, ""),), "is outside of"),
        ((("up", tarfile.SYMTYPE, "../.."),), "invalid symlink"),
        ((("d", tarfile.REGTYPE, ""),), "cannot overwrite directory"),
        ((("f", tarfile.DIRTYPE, ""),), "cannot overwrite non-directory"),
    ],
)
def test_untar_refusals(
    tmp_path: Path, members: tuple[tuple[str, bytes, str], ...], message: str
) -> None:
    dest = tmp_path / "dest"
    (dest / "d").mkdir(parents=True)
    (dest / "f").write_text("f")
    with pytest.raises(InvalidArgument, match=message):
        untar(tar_of(*members), dest)
    assert not (tmp_path / "x").exists()


def test_untar_replaces_files_and_merges_directories(tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "d").mkdir(parents=True)
    (dest / "d" / "old").write_text("old")
    (dest / "f").write_text("before")
    untar(
        tar_of(
            ("d", tarfile.DIRTYPE, ""),
            ("d/new", tarfile.REGTYPE, "n"),
            ("f", tarfile.REGTYPE, "after"),
            ("abs", tarfile.SYMTYPE, "/anywhere"),
        ),
        dest,
    )
    assert sorted(os.listdir(dest / "d")) == ["new", "old"]
    assert (dest / "f").read_text() == "after"
    assert os.readlink(dest / "abs") == "/anywhere"
