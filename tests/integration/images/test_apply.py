"""apply_layer on real directories: formats, metadata, whiteouts, corrupt and hostile layers."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

from pynerd.errors import InvalidArgument
from pynerd.images.apply import AppliedLayer, LayerError, apply_layer
from tests.integration.snapshots.layers import (
    CAP_NET_RAW,
    MT_DOCKER,
    MT_GZIP,
    MT_TAR,
    MT_ZSTD,
    MTIME,
    E,
    compress,
    d,
    f,
    hard,
    opq,
    snapshot_dir,
    sym,
    tar,
    wh,
)

pytestmark = pytest.mark.integration

if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("needs root (chroot, chown, mknod)", allow_module_level=True)


def digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def apply(
    entries: list[E], target: Path, whiteouts: str = "overlay", kind: str = "gzip"
) -> AppliedLayer:
    blob, mt = compress(tar(entries), kind)
    return apply_layer(io.BytesIO(blob), mt, target, whiteouts)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    return r


# -- formats and the diff ID ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tar", "gzip", "zstd"])
def test_diff_id_and_size_cover_the_whole_uncompressed_stream(kind: str, root: Path) -> None:
    raw = tar([d("a"), f("a/b", os.urandom(5000)), f("c", b"x" * 100_000)])
    blob, mt = compress(raw, kind)
    res = apply_layer(io.BytesIO(blob), mt, root, "overlay")
    assert res == AppliedLayer(digest(raw), len(raw))
    assert len(raw) % 10240 == 0  # tarfile pads to a record: the padding is hashed too
    assert (root / "c").read_bytes() == b"x" * 100_000


@pytest.mark.parametrize(
    ("kind", "media_type"),
    [("gzip", MT_TAR), ("zstd", MT_TAR), ("tar", MT_GZIP), ("tar", MT_DOCKER), ("gzip", MT_ZSTD)],
)
def test_compression_is_sniffed_not_trusted(kind: str, media_type: str, root: Path) -> None:
    raw = tar([f("x", "data")])
    blob, _ = compress(raw, kind)
    assert apply_layer(io.BytesIO(blob), media_type, root, "delete").diff_id == digest(raw)
    assert (root / "x").read_text() == "data"


def test_multi_member_gzip_and_multi_frame_zstd(tmp_path: Path) -> None:
    import zstandard

    raw = tar([f(f"f{i}", os.urandom(3000)) for i in range(20)])
    half = len(raw) // 2
    members = gzip.compress(raw[:half]) + gzip.compress(raw[half:])
    frames = zstandard.ZstdCompressor().compress(raw[:half]) + zstandard.ZstdCompressor().compress(
        raw[half:]
    )
    for i, (blob, mt) in enumerate(((members, MT_GZIP), (frames, MT_ZSTD))):
        target = tmp_path / str(i)
        target.mkdir()
        assert apply_layer(io.BytesIO(blob), mt, target, "overlay").diff_id == digest(raw)
        assert len(os.listdir(target)) == 20


def test_fd_source_and_a_slow_streaming_source(tmp_path: Path) -> None:
    raw = tar([f("big", os.urandom(300_000)), f("small", "s")])
    blob = gzip.compress(raw)
    # a file descriptor (the pull code hands over a pipe's read end)
    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "wb") as out:
            for i in range(0, len(blob), 7000):
                out.write(blob[i : i + 7000])
                out.flush()
                time.sleep(0.001)

    t = threading.Thread(target=feed)
    t.start()
    a = tmp_path / "a"
    a.mkdir()
    try:
        res = apply_layer(r, MT_GZIP, a, "overlay")
    finally:
        t.join()
        os.close(r)
    assert res.diff_id == digest(raw)

    # a file object that trickles data, as a download does
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data, self.pos = data, 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            n = min(len(b), 5000, len(self.data) - self.pos)
            b[:n] = self.data[self.pos : self.pos + n]
            self.pos += n
            return n

    b = tmp_path / "b"
    b.mkdir()
    assert apply_layer(Trickle(blob), MT_GZIP, b, "overlay").diff_id == digest(raw)
    assert (b / "big").read_bytes() == (a / "big").read_bytes()


def test_source_error_kills_the_child_and_propagates(root: Path) -> None:
    class Broken(io.RawIOBase):
        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            self.calls += 1
            if self.calls > 2:
                raise ConnectionError("network went away")
            b[:512] = bytes(512)
            return 512

    with pytest.raises(ConnectionError):
        apply_layer(Broken(), MT_TAR, root, "overlay")


def test_four_layers_apply_concurrently_in_threads(tmp_path: Path) -> None:
    raws = [tar([f(f"layer{i}/file{j}", os.urandom(20_000)) for j in range(30)]) for i in range(4)]
    results: dict[int, AppliedLayer | BaseException] = {}

    def work(i: int) -> None:
        target = tmp_path / f"t{i}"
        target.mkdir()
        try:
            blob, mt = compress(raws[i], "gzip" if i % 2 else "zstd")
            results[i] = apply_layer(io.BytesIO(blob), mt, target, "overlay")
        except BaseException as e:
            results[i] = e

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        assert results[i] == AppliedLayer(digest(raws[i]), len(raws[i]))
        assert len(os.listdir(tmp_path / f"t{i}" / f"layer{i}")) == 30
    assert os.getcwd() != str(tmp_path)  # nothing chdir'd this process


# -- metadata --------------------------------------------------------------------------------


@pytest.mark.parametrize("whiteouts", ["overlay", "delete"])
def test_owners_modes_times_xattrs_links_devices(whiteouts: str, root: Path) -> None:
    entries = [
        d("bin", mtime=1_500_000_000),
        f("bin/su", "su", 0o4755),
        f("bin/sg", "sg", 0o2711, uid=5, gid=42),
        d("tmp", 0o1777),
        f("cap", "c", 0o755, xattrs={"security.capability": CAP_NET_RAW, "user.k": b"\x00\xffv"}),
        d("home/user", 0o700, uid=1000, gid=1001),
        f("home/user/f", "u", 0o600, uid=1000, gid=1001, mtime=1_234_567_890),
        sym("lnk", "/bin/su"),
        hard("bin/su2", "bin/su"),
        E("dev/null", "chr", mode=0o666, dev=(1, 3)),
        E("dev/sda", "blk", mode=0o660, gid=6, dev=(8, 0)),
        E("fifo", "fifo", mode=0o620, uid=7),
    ]
    apply(entries, root, whiteouts)
    st = os.lstat(root / "bin/su")
    assert stat.S_IMODE(st.st_mode) == 0o4755
    assert st.st_mtime == MTIME and st.st_nlink == 2
    assert os.lstat(root / "bin/su2").st_ino == st.st_ino
    sg = os.lstat(root / "bin/sg")
    assert (stat.S_IMODE(sg.st_mode), sg.st_uid, sg.st_gid) == (0o2711, 5, 42)
    assert stat.S_IMODE(os.lstat(root / "tmp").st_mode) == 0o1777
    assert os.getxattr(root / "cap", "security.capability") == CAP_NET_RAW
    assert os.getxattr(root / "cap", "user.k") == b"\x00\xffv"
    home = os.lstat(root / "home/user")
    assert (stat.S_IMODE(home.st_mode), home.st_uid, home.st_gid) == (0o700, 1000, 1001)
    assert os.lstat(root / "home/user/f").st_mtime == 1_234_567_890
    # directory times are set after their content was written
    assert os.lstat(root / "bin").st_mtime == 1_500_000_000
    # implicit parents (home, dev) are created 0755
    assert stat.S_IMODE(os.lstat(root / "home").st_mode) == 0o755
    assert os.readlink(root / "lnk") == "/bin/su"
    assert os.lstat(root / "lnk").st_mtime == MTIME
    null = os.lstat(root / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and (os.major(null.st_rdev), os.minor(null.st_rdev)) == (1, 3)
    sda = os.lstat(root / "dev/sda")
    assert stat.S_ISBLK(sda.st_mode) and (os.major(sda.st_rdev), sda.st_gid) == (8, 6)
    fifo = os.lstat(root / "fifo")
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o620 and fifo.st_uid == 7


def test_long_names_gnu_and_pax_and_ustar_prefix(tmp_path: Path) -> None:
    long_dir = "d" * 120
    long_file = f"{long_dir}/" + "n" * 150
    entries = [d(long_dir), f(long_file, "long"), sym("l" * 110, "t" * 130)]
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        target = tmp_path / str(fmt)
        target.mkdir()
        raw = tar(entries, fmt)
        assert apply_layer(io.BytesIO(raw), MT_TAR, target, "overlay").diff_id == digest(raw)
        assert (target / long_file).read_text() == "long"
        assert os.readlink(target / ("l" * 110)) == "t" * 130
    # ustar splits long paths into prefix + name
    target = tmp_path / "ustar"
    target.mkdir()
    path = "p" * 90 + "/" + "q" * 90
    raw = tar([d("p" * 90), f(path, "u")], tarfile.USTAR_FORMAT)
    apply_layer(io.BytesIO(raw), MT_TAR, target, "overlay")
    assert (target / path).read_text() == "u"


def test_root_entry_sets_the_roots_metadata(root: Path) -> None:
    apply([d(".", 0o750, uid=3, gid=4), f("x", "1")], root)
    st = os.lstat(root)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o750, 3, 4)


def test_a_layer_replaces_entries_instead_of_writing_through_them(root: Path) -> None:
    apply([d("a"), f("a/x", "old"), sym("s", "a/x"), f("file", "f")], root, "delete")
    apply([f("s", "new-s"), d("file"), f("file/in", "i"), f("a", "now a file")], root, "delete")
    assert (root / "s").read_text() == "new-s" and not (root / "s").is_symlink()
    assert (root / "file" / "in").read_text() == "i"
    assert (root / "a").read_text() == "now a file"


# -- whiteouts -------------------------------------------------------------------------------


def test_overlay_whiteouts_become_char_devices_and_opaque_xattrs(root: Path) -> None:
    apply(
        [
            d("dir"),
            wh("dir/gone"),
            opq("dir"),
            wh("gonedir"),
            f("dir/kept", "k"),
            d("o2"),
            opq("o2/sub"),
        ],
        root,
        "overlay",
    )
    for p in ("dir/gone", "gonedir"):
        st = os.lstat(root / p)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(root / "dir", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(root / "o2/sub", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(root / "dir")) == ["gone", "kept"]  # no .wh.* files
    assert not any(".wh." in name for _, _, names in os.walk(root) for name in names)


def test_overlay_whiteout_of_this_layers_own_entry(root: Path) -> None:
    # the file of the same layer wins, in either order; a same-layer dir becomes opaque
    apply(
        [
            f("a", "mine"),
            wh("a"),
            wh("b"),
            f("b", "mine too"),
            d("c"),
            f("c/x", "x"),
            wh("c"),
            wh("e"),
            d("e"),
            f("e/y", "y"),
        ],
        root,
        "overlay",
    )
    assert (root / "a").read_text() == "mine" and (root / "b").read_text() == "mine too"
    assert os.getxattr(root / "c", "trusted.overlay.opaque") == b"y"
    assert os.getxattr(root / "e", "trusted.overlay.opaque") == b"y"
    assert (root / "c/x").exists() and (root / "e/y").exists()


def test_a_layer_cannot_plant_overlay_xattrs(root: Path) -> None:
    apply(
        [d("d", xattrs={"trusted.overlay.redirect": b"/etc", "trusted.overlay.opaque": b"y"})], root
    )
    assert os.listxattr(root / "d") == []


def test_delete_whiteouts_spare_entries_of_the_same_layer(root: Path) -> None:
    apply(
        [
            d("o"),
            f("o/lower", "l"),
            d("o/sub"),
            f("o/sub/deep", "d"),
            f("gone", "g"),
            d("gonedir"),
            f("gonedir/x", "x"),
            f("same", "lower"),
            d("mixed"),
            f("mixed/old", "o"),
        ],
        root,
        "delete",
    )
    apply(
        [
            d("o"),
            f("o/before", "b"),
            opq("o"),
            f("o/after", "a"),
            wh("gone"),
            wh("gonedir"),
            f("same", "upper"),
            wh("same"),
            f("mixed/new", "n"),
            wh("mixed"),
        ],
        root,
        "delete",
    )
    assert sorted(os.listdir(root / "o")) == ["after", "before"]
    assert not (root / "gone").exists() and not (root / "gonedir").exists()
    assert (root / "same").read_text() == "upper"
    assert sorted(os.listdir(root / "mixed")) == ["new"]


# -- corrupt input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blob", "media_type", "message"),
    [
        (b"\x1f\x8b" + b"garbage" * 50, MT_GZIP, "corrupt compressed"),
        (gzip.compress(tar([f("x", os.urandom(50_000))]))[:-3000], MT_GZIP, "truncated"),
        (b"\x28\xb5\x2f\xfd" + b"garbage" * 50, MT_ZSTD, "corrupt compressed"),
        (tar([f("x", os.urandom(50_000))])[:20_000], MT_TAR, "truncated"),
        (b"this is not a tar archive at all" * 40, MT_TAR, "invalid tar header"),
        (b"BZh91AY&SY" + bytes(600), MT_TAR, "bzip2"),
    ],
    ids=["bad-gzip", "truncated-gzip", "bad-zstd", "truncated-tar", "not-tar", "bzip2"],
)
def test_corrupt_layers_raise_invalid_argument(
    blob: bytes, media_type: str, message: str, root: Path
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        apply_layer(io.BytesIO(blob), media_type, root, "overlay")


def test_truncated_zstd_is_detected(root: Path) -> None:
    blob, mt = compress(tar([f("x", os.urandom(100_000))]), "zstd")
    with pytest.raises(LayerError, match="truncated"):
        apply_layer(io.BytesIO(blob[: len(blob) - 100]), mt, root, "overlay")


def test_unknown_media_type_and_bad_target(root: Path) -> None:
    with pytest.raises(LayerError, match="media type"):
        apply_layer(io.BytesIO(b""), "application/x-foo", root, "overlay")
    with pytest.raises(InvalidArgument):
        apply_layer(io.BytesIO(b""), MT_TAR, root / "missing", "overlay")
    with pytest.raises(InvalidArgument):
        apply_layer(io.BytesIO(b""), MT_TAR, root, "sideways")


def test_empty_stream_is_an_empty_layer(root: Path) -> None:
    assert apply_layer(io.BytesIO(b""), MT_TAR, root, "overlay") == AppliedLayer(digest(b""), 0)


# -- hostile layers --------------------------------------------------------------------------


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A sentinel directory next to the target: nothing may appear or change in it."""
    o = tmp_path / "outside"
    o.mkdir()
    (o / "secret").write_text("host secret")
    (o / "sub").mkdir()
    (o / "sub" / "file").write_text("host file")
    return o


def _hostile_layers(outside: Path) -> dict[str, list[list[E]]]:
    out = str(outside)
    return {
        "absolute-path": [[f(out + "/evil", "x"), f("/etc/evil-abs", "x")]],
        "dotdot": [[f("../outside/evil", "x")]],
        "dotdot-nested": [[d("a"), f("a/../../outside/evil", "x")]],
        "symlink-then-write-same-layer": [[sym("esc", out), f("esc/evil", "x")]],
        "symlink-relative-escape": [[sym("esc", "../../../../../../" + out), f("esc/evil", "x")]],
        "symlink-then-write-next-layer": [[sym("etc", out)], [f("etc/secret", "pwned")]],
        "symlink-dir-then-dir-entry": [[sym("etc", out)], [d("etc"), f("etc/secret", "pwned")]],
        "symlink-then-overwrite-file": [[sym("s", out + "/secret")], [f("s", "pwned")]],
        "hardlink-to-host-file": [[hard("h", out + "/secret")]],
        "hardlink-to-etc-shadow": [[hard("shadow", "/etc/shadow")]],
        "hardlink-through-symlink": [[sym("esc", out), hard("h", "esc/secret")]],
        "hardlink-dotdot": [[hard("h", "../outside/secret")]],
        "whiteout-through-symlink": [[sym("esc", out)], [wh("esc/secret"), wh("esc/sub")]],
        "opaque-through-symlink": [[sym("esc", out)], [opq("esc")]],
        "whiteout-dotdot": [[f(".wh..."), f("sub/.wh..wh..opq")]],
        "symlink-chain": [
            [sym("a", "b"), sym("b", out), f("a/evil", "x"), d("a/sub"), f("a/sub/file", "pwned")]
        ],
    }


@pytest.mark.parametrize("whiteouts", ["delete", "overlay"])
@pytest.mark.parametrize("case", sorted(_hostile_layers(Path("/x"))))
def test_hostile_layers_cannot_touch_the_outside(
    case: str, whiteouts: str, tmp_path: Path, outside: Path
) -> None:
    before = snapshot_dir(outside)
    shadow_before = os.stat("/etc/shadow") if os.path.exists("/etc/shadow") else None
    target = tmp_path / "root"
    target.mkdir()
    for layer in _hostile_layers(outside)[case]:
        # native stacks layers in one tree; overlay unpacks each into its own dir
        dest = target if whiteouts == "delete" else target / str(len(os.listdir(target)))
        dest.mkdir(exist_ok=True)
        with contextlib.suppress(InvalidArgument):  # failing cleanly is fine too
            apply(layer, dest, whiteouts)
    assert snapshot_dir(outside) == before
    if shadow_before is not None:
        after = os.stat("/etc/shadow")
        assert after.st_nlink == shadow_before.st_nlink
        assert after.st_mtime_ns == shadow_before.st_mtime_ns
    assert not Path("/etc/evil-abs").exists()


def test_hostile_names_land_inside_the_root(root: Path, outside: Path) -> None:
    apply(
        [f(str(outside) + "/evil", "x"), sym("esc", str(outside)), f("esc/evil2", "y")],
        root,
        "delete",
    )
    inside = root / str(outside).lstrip("/")
    assert (inside / "evil").read_text() == "x"
    # "esc" resolves inside the root (where the first entry made that directory)
    assert (inside / "evil2").read_text() == "y" and (root / "esc").is_symlink()
    # a dangling symlink used as a parent is replaced by a directory of the root
    apply([sym("dangling", "/nowhere/at/all"), f("dangling/x", "z")], root, "delete")
    assert (root / "dangling" / "x").read_text() == "z" and not (root / "dangling").is_symlink()
    assert not Path("/nowhere").exists()


def test_dotdot_fails_cleanly(root: Path) -> None:
    with pytest.raises(LayerError, match="breaks out"):
        apply([f("../evil", "x")], root)
    with pytest.raises(LayerError, match="target not found"):
        apply([hard("h", "/etc/shadow")], root)


def test_extractor_child_runs_chrooted(root: Path) -> None:
    """Belt and braces: the child's root really is the target (seen from /proc)."""
    code = (
        "import io, os, sys, threading, time\n"
        "from pathlib import Path\n"
        "from pynerd.images.apply import apply_layer\n"
        "r, w = os.pipe()\n"
        "args = (r, sys.argv[2], Path(sys.argv[1]), 'overlay')\n"
        "t = threading.Thread(target=apply_layer, args=args)\n"
        "t.start()\n"
        "os.write(w, bytes.fromhex(sys.argv[3]))  # one header: the child sniffs, chroots, waits\n"
        "time.sleep(1.0)\n"
        "import subprocess\n"
        "pgrep = ['pgrep', '-P', str(os.getpid())]\n"
        "kids = subprocess.run(pgrep, capture_output=True, text=True).stdout.split()\n"
        "print(os.readlink(f'/proc/{kids[0]}/root'))\n"
        "os.close(w); t.join()\n"
    )
    header = tar([f("big", b"x" * 100_000)])[:512].hex()
    out = subprocess.run(
        [sys.executable, "-c", code, str(root), MT_TAR, header],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.stdout.strip() == str(root), out.stderr
