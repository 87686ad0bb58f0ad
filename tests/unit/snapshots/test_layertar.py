"""The layer tar reader and the whiteout decisions, run without chroot in a temp cwd."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from pynerd.images import layertar as L


def test_numbers_octal_and_base256() -> None:
    assert L._num(b"0000644\x00") == 0o644
    assert L._num(b"  755 \x00") == 0o755
    assert L._num(b"\x00" * 8) == 0
    assert L._num(b"\x80" + (2**40).to_bytes(11, "big")) == 2**40
    assert L._num(b"\xff" * 12) == -1
    assert L._num(b"\xff" * 11 + b"\xfe") == -2
    with pytest.raises(L.BadLayer):
        L._num(b"12x4")


def test_pax_records() -> None:
    data = b"".join(
        L_record(k, v) for k, v in [(b"path", b"a/b=c"), (b"SCHILY.xattr.user.x", b"\x00\n=")]
    )
    assert L._parse_pax(data) == {b"path": b"a/b=c", b"SCHILY.xattr.user.x": b"\x00\n="}
    with pytest.raises(L.BadLayer):
        L._parse_pax(b"99 path=x\n")
    with pytest.raises(L.BadLayer):
        L._parse_pax(b"x path=x\n")
    assert L._pax_time(b"1600000000.5") == 1_600_000_000_500_000_000
    assert L._pax_time(b"-1.25") == -1_250_000_000


def L_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n += 1
    return str(n).encode() + body


def test_clean_path() -> None:
    assert L.clean_path(b"/etc/passwd") == b"etc/passwd"
    assert L.clean_path(b"./a//b/./c/") == b"a/b/c"
    assert L.clean_path(b"a/../b") == b"b"
    assert L.clean_path(b"./") == b""
    for bad in (b"..", b"../x", b"a/../../x", b"/../etc"):
        with pytest.raises(L.BadLayer, match="breaks out"):
            L.clean_path(bad)


def test_header_checksum_is_verified() -> None:
    block = bytearray(_tar([("f", b"data")])[:512])
    assert L._parse_header(bytes(block)).name == b"f"
    block[0] ^= 0x01
    with pytest.raises(L.BadLayer, match="checksum"):
        L._parse_header(bytes(block))


def _tar(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            if name.endswith("/"):
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            else:
                info.size = len(data)
            info.uid, info.gid = os.getuid(), os.getgid()
            t.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def _run(raw: bytes, overlay: bool = False) -> tuple[str, int]:
    h = hashlib.sha256()
    r = L._TarReader(io.BytesIO(raw).read, h.update)
    L._extract_tar(r, L._Extractor(overlay))
    return h.hexdigest(), r.size


def test_reader_hashes_everything_and_detects_truncation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    raw = _tar([("a/", b""), ("a/x", os.urandom(3000))]) + b"\0" * 4096  # extra padding
    assert _run(raw) == (hashlib.sha256(raw).hexdigest(), len(raw))
    with pytest.raises(L.BadLayer, match="truncated"):
        _run(raw[:1500])


def test_delete_mode_whiteouts_only_hit_lower_layers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _run(_tar([("o/", b""), ("o/lower", b"l"), ("w/", b""), ("w/old", b"o"), ("same", b"lower"),
               ("p/", b""), ("p/q/", b""), ("p/q/old", b"o")]))
    _run(_tar([
        ("o/mine-before", b"b"), ("o/.wh..wh..opq", b""), ("o/mine-after", b"a"),
        ("w/new", b"n"), (".wh.w", b""),  # implicit parent of an entry of this layer survives
        ("same", b"upper"), (".wh.same", b""),
        ("p/q/new", b"n"), ("p/.wh.q", b""),
    ]))
    assert sorted(os.listdir("o")) == ["mine-after", "mine-before"]
    assert os.listdir("w") == ["new"]
    assert Path("same").read_text() == "upper"
    assert os.listdir("p/q") == ["new"]


def test_invalid_whiteout_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    _run(_tar([(".wh..wh.plnk", b"")]))  # aufs metadata: ignored
    assert os.listdir(".") == []
    with pytest.raises(L.BadLayer, match="invalid whiteout"):
        _run(_tar([("d/", b""), ("d/.wh...", b"")]))


def test_decoder_sniffs_magic(tmp_path: Path) -> None:
    raw = _tar([("x", b"y")])
    for blob in (raw, gzip.compress(raw)):
        p = tmp_path / "blob"
        p.write_bytes(blob)
        fd = os.open(p, os.O_RDONLY)
        try:
            read = L._decoder(L._FdInput(fd))
            out = b""
            while chunk := read(1 << 16):
                out += chunk
        finally:
            os.close(fd)
        assert out == raw


def test_zstd_truncation_is_an_error(tmp_path: Path) -> None:
    import zstandard

    blob = zstandard.ZstdCompressor().compress(os.urandom(200_000))
    p = tmp_path / "blob"
    p.write_bytes(blob[:-50])
    fd = os.open(p, os.O_RDONLY)
    try:
        read = L._decoder(L._FdInput(fd))
        with pytest.raises(L.BadLayer, match="truncated"):
            while read(1 << 16):
                pass
    finally:
        os.close(fd)


def test_decoder_falls_back_to_zlib_without_isal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "isal", None)  # import isal -> ImportError
    raw = _tar([("x", os.urandom(70_000))])
    p = tmp_path / "blob"
    p.write_bytes(gzip.compress(raw) + gzip.compress(b""))  # two members
    fd = os.open(p, os.O_RDONLY)
    try:
        read = L._decoder(L._FdInput(fd))
        out = b""
        while chunk := read(1 << 16):
            out += chunk
    finally:
        os.close(fd)
    assert out == raw


def test_child_rmtree_never_follows_symlinks(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "x").write_text("x")
    doomed = tmp_path / "doomed"
    (doomed / "a" / "b").mkdir(parents=True)
    (doomed / "a" / "f").write_text("f")
    (doomed / "a" / "b" / "link").symlink_to(keep)
    (doomed / "top").symlink_to(keep / "x")
    L.rmtree(os.fsencode(doomed))
    assert not doomed.exists() and (keep / "x").read_text() == "x"
