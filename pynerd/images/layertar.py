"""Layer extraction proper: runs in ``apply_layer``'s child, chrooted into the layer root.

A streaming tar reader (ustar, GNU long names, PAX incl. ``SCHILY.xattr.*``) over
a gzip/zstd/plain decoder chosen by magic bytes, that hashes every uncompressed
byte, and an extractor that creates entries relative to the chroot with their
owners, modes, times, xattrs and links, converting or applying OCI whiteouts.

Nothing here may import a module after ``chroot``: the interpreter's library is
outside the new root, so ``_extract`` loads everything first. Imports are kept
to the bare minimum (no dataclasses, typing, pathlib: ~20 ms of the child's
start-up), and errors are this module's own ``BadLayer``, which the parent
turns into ``pynerd.images.apply.BadLayer``.
"""

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, NoReturn


class BadLayer(Exception):
    """The layer's data is corrupt, unsupported or tries to escape its root."""

    @property
    def message(self) -> str:
        return str(self)


_CHUNK = 1 << 20
_PEEK_CHUNK = 256 * 1024
_MAX_MESSAGE = 4000
_BLOCK = 512
_ZERO_BLOCK = bytes(_BLOCK)
_MAX_META = 16 << 20  # PAX and GNU long-name records are held in memory
_ZSTD_FEED = 4096  # compressed bytes per zstd call: bounds a decompression bomb's output

# Failures of this host rather than of the layer's data.
_HOST_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM, errno.EPERM, errno.EACCES}
)


def child_main(argv: list[str]) -> NoReturn:
    """Entry point of the child: ``argv`` = [target, whiteouts]; the layer is on fd 0.

    Writes one JSON line to fd 1 (the result, or ``{"error", "kind"}``) and exits.
    """
    target, whiteouts = argv
    run_child(lambda: _extract(os.fsencode(target), whiteouts), "layer", "layer data", (BadLayer,))


def run_child(
    work: Callable[[], dict[str, Any]],
    input_kind: str,
    what: str,
    input_errors: tuple[type[BaseException], ...],
    host_errnos: frozenset[int] = _HOST_ERRNOS,
) -> NoReturn:
    """Run a chrooted child's ``work`` and report it as one JSON line on fd 1, then exit.

    Exit 0 with the result; 2 for bad input (``input_errors`` and malformed data),
    3 for an OSError (``kind`` "host" when its errno is in ``host_errnos``), 4 otherwise.
    Shared by layer extraction and ``cp``'s extractor, whose parents read it alike.
    """
    try:
        payload: dict[str, Any] = work()
        code = 0
    except input_errors as e:
        payload, code = {"error": str(e), "kind": input_kind}, 2
    except OSError as e:
        kind = "host" if e.errno in host_errnos else input_kind
        payload, code = {"error": _os_message(e), "kind": kind}, 3
    except (ValueError, OverflowError, UnicodeError) as e:
        payload, code = {"error": f"invalid {what}: {e}", "kind": input_kind}, 2
    except Exception as e:
        payload, code = {"error": f"{type(e).__name__}: {e}", "kind": "host"}, 4
    payload = {k: (v[:_MAX_MESSAGE] if isinstance(v, str) else v) for k, v in payload.items()}
    data = (_json(payload) + "\n").encode()
    while data:
        data = data[os.write(1, data) :]
    os._exit(code)


def _json(payload: dict[str, Any]) -> str:
    """A flat JSON object (json would import re and enum: ~6 ms of start-up)."""

    def value(v: Any) -> str:
        if isinstance(v, int):
            return str(v)
        return (
            '"'
            + "".join(
                c if " " <= c <= "~" and c not in '"\\' else f"\\u{ord(c):04x}" for c in str(v)
            )
            + '"'
        )

    return "{" + ", ".join(f"{value(k)}: {value(v)}" for k, v in payload.items()) + "}"


def _os_message(e: OSError) -> str:
    name = e.filename
    where = f" {os.fsdecode(name)}" if isinstance(name, bytes | str) else ""
    return f"{e.strerror or e}:{where}" if where else str(e.strerror or e)


def _extract(target: bytes, whiteouts: str) -> dict[str, Any]:
    # Everything the extraction imports lazily must be loaded before chroot.
    import binascii  # noqa: F401
    import hashlib
    import stat  # noqa: F401

    os.umask(0)
    inp = _FdInput(0)
    read = _decoder(inp)
    hasher = hashlib.sha256()
    hasher.update(b"")
    os.chroot(target)
    os.chdir("/")
    reader = _TarReader(read, hasher.update)
    _extract_tar(reader, _Extractor(overlay=whiteouts == "overlay"))
    return {"diff_id": "sha256:" + hasher.hexdigest(), "size": reader.size}


class _FdInput:
    """The compressed stream on a file descriptor; sniffed bytes are replayed first."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.head = b""

    def peek(self, n: int) -> bytes:
        while len(self.head) < n:
            chunk = os.read(self.fd, _PEEK_CHUNK)
            if not chunk:
                break
            self.head += chunk
        return self.head[:n]

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = _CHUNK
        if self.head:
            out, self.head = self.head[:n], self.head[n:]
            return out
        return os.read(self.fd, n)

    def readinto(self, b: Any) -> int:
        view = memoryview(b).cast("B")
        if self.head:
            n = min(len(view), len(self.head))
            view[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        return os.readv(self.fd, [view])

    def readable(self) -> bool:
        return True


def _decoder(inp: _FdInput) -> Callable[[int], bytes]:
    """A ``read(n)`` over the uncompressed tar, chosen by the data's magic bytes."""
    head = inp.peek(6)
    if head.startswith(b"\x1f\x8b"):
        try:
            from isal import isal_zlib

            gz: Any = isal_zlib._GzipReader(inp, 1 << 17)  # type: ignore[arg-type]
        except (ImportError, AttributeError):
            import gzip

            gz = gzip.GzipFile(fileobj=inp, mode="rb")  # type: ignore[call-overload]
        return _guard(gz.read)
    if head[:4] == b"\x28\xb5\x2f\xfd" or (
        len(head) >= 4 and head[0] & 0xF0 == 0x50 and head[1:4] == b"\x2a\x4d\x18"
    ):
        return _ZstdReader(inp).read
    if head.startswith(b"BZh") or head.startswith(b"\xfd7zXZ\x00"):
        raise BadLayer("unsupported layer compression (bzip2/xz)")
    return inp.read


def _guard(read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """Turn a decoder's many exception types into BadLayer."""

    def guarded(n: int) -> bytes:
        try:
            return read(n)
        except EOFError as e:
            raise BadLayer(f"compressed layer data is truncated: {e}") from e
        except Exception as e:
            if isinstance(e, OSError) and e.errno is not None:
                raise
            raise BadLayer(f"corrupt compressed layer data: {e}") from e

    return guarded


class _ZstdReader:
    """Multi-frame zstd decoding with truncation detection and bounded output per call."""

    def __init__(self, inp: _FdInput) -> None:
        import zstandard

        self.error = zstandard.ZstdError
        self.dctx = zstandard.ZstdDecompressor()
        self.inp = inp
        self.frame: Any = None
        self.pending = memoryview(b"")
        self.out = b""
        self.pos = 0

    def read(self, n: int) -> bytes:
        while self.pos >= len(self.out):
            if not self.pending:
                data = self.inp.read(_CHUNK)
                if not data:
                    if self.frame is not None:
                        raise BadLayer("compressed layer data is truncated (zstd)")
                    return b""
                self.pending = memoryview(data)
            if self.frame is None:
                self.frame = self.dctx.decompressobj(read_across_frames=False)
            piece, self.pending = self.pending[:_ZSTD_FEED], self.pending[_ZSTD_FEED:]
            try:
                self.out = self.frame.decompress(piece)
            except self.error as e:
                raise BadLayer(f"corrupt compressed layer data: {e}") from e
            self.pos = 0
            if self.frame.eof:
                rest = self.frame.unused_data
                self.frame = None
                if rest:
                    self.pending = memoryview(bytes(rest) + bytes(self.pending))
        out = self.out[self.pos : self.pos + n]
        self.pos += len(out)
        return out


class _TarReader:
    """Blocks of the uncompressed tar; every byte read is hashed and counted."""

    def __init__(self, read: Callable[[int], bytes], update: Callable[[bytes], None]) -> None:
        self._read = read
        self._update = update
        self._buf = b""
        self._pos = 0
        self.size = 0

    def _more(self) -> bytes:
        chunk = self._read(_CHUNK)
        if chunk:
            self._update(chunk)
            self.size += len(chunk)
        return chunk

    def header(self) -> bytes | None:
        """The next 512-byte block, or None at a clean end of stream."""
        if self._pos == len(self._buf):
            chunk = self._more()
            if not chunk:
                return None
            self._buf, self._pos = chunk, 0
        return self.read_exact(_BLOCK)

    def read_exact(self, n: int) -> bytes:
        end = self._pos + n
        if end <= len(self._buf):
            out = self._buf[self._pos : end]
            self._pos = end
            return out
        return b"".join(bytes(c) for c in self.chunks(n))

    def chunks(self, n: int) -> Iterator[memoryview]:
        """Yield pieces of the next ``n`` bytes (views into large reads: no copies)."""
        while n > 0:
            if self._pos == len(self._buf):
                chunk = self._more()
                if not chunk:
                    raise BadLayer("unexpected end of layer data (truncated tar)")
                self._buf, self._pos = chunk, 0
            take = min(n, len(self._buf) - self._pos)
            yield memoryview(self._buf)[self._pos : self._pos + take]
            self._pos += take
            n -= take

    def skip(self, n: int) -> None:
        for _ in self.chunks(n):
            pass

    def drain(self) -> None:
        """Read (and hash) the rest: the diff_id covers the end-of-archive padding too."""
        self._buf, self._pos = b"", 0
        while self._more():
            pass


class _Entry:
    """One tar member's header, after PAX and GNU long-name records were applied."""

    __slots__ = (
        "atime_ns",
        "devmajor",
        "devminor",
        "gid",
        "linkname",
        "mode",
        "mtime_ns",
        "name",
        "size",
        "type",
        "uid",
        "xattrs",
    )

    def __init__(
        self,
        name: bytes,
        type: bytes,
        mode: int,
        uid: int,
        gid: int,
        size: int,
        mtime_ns: int,
        atime_ns: int,
        linkname: bytes,
        devmajor: int,
        devminor: int,
        xattrs: dict[bytes, bytes],
    ) -> None:
        self.name, self.type, self.mode, self.uid, self.gid = name, type, mode, uid, gid
        self.size, self.mtime_ns, self.atime_ns, self.linkname = size, mtime_ns, atime_ns, linkname
        self.devmajor, self.devminor, self.xattrs = devmajor, devminor, xattrs


_HEADER_ONLY = frozenset({b"1", b"2", b"3", b"4", b"5", b"6"})


def _extract_tar(r: _TarReader, ext: _Extractor) -> None:
    pax: dict[bytes, bytes] = {}
    longname: bytes | None = None
    longlink: bytes | None = None
    while True:
        block = r.header()
        if block is None or block == _ZERO_BLOCK:
            break
        e = _parse_header(block)
        pad = -e.size % _BLOCK
        if e.type in (b"x", b"X", b"g", b"L", b"K"):
            if e.size > _MAX_META:
                raise BadLayer(f"tar metadata record too large ({e.size} bytes)")
            data = r.read_exact(e.size)
            r.skip(pad)
            if e.type in (b"x", b"X"):
                pax.update(_parse_pax(data))
            elif e.type == b"L":
                longname = data.split(b"\0", 1)[0]
            elif e.type == b"K":
                longlink = data.split(b"\0", 1)[0]
            continue  # "g" (global PAX) is ignored, as Go's archive/tar does
        if longname is not None:
            e.name = longname
        if longlink is not None:
            e.linkname = longlink
        if pax:
            _apply_pax(e, pax)
            pad = -e.size % _BLOCK
        pax, longname, longlink = {}, None, None
        if e.type in _HEADER_ONLY:
            e.size, pad = 0, 0
        consumed = ext.entry(e, r)
        if not consumed:
            r.skip(e.size)
        r.skip(pad)
    r.drain()
    ext.finish()


def _num(field: bytes) -> int:
    if field and field[0] & 0x80:  # GNU base-256, two's complement (as Go's archive/tar)
        inv = 0xFF if field[0] & 0x40 else 0
        value = (field[0] ^ inv) & 0x7F
        for c in field[1:]:
            value = value << 8 | (c ^ inv)
        return ~value if inv else value
    text = field.split(b"\0", 1)[0].strip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise BadLayer(f"invalid number {field!r} in tar header") from None


def _parse_header(b: bytes) -> _Entry:
    try:
        chksum = _num(b[148:156])
    except BadLayer:
        raise BadLayer("invalid tar header (corrupt, or not a tar stream)") from None
    unsigned = sum(b) - sum(b[148:156]) + 256  # the checksum field counts as spaces
    if chksum != unsigned:
        rest = b[:148] + b[156:]
        signed = unsigned - 2 * sum(x for x in rest if x > 127)  # old tars summed signed chars
        if chksum != signed:
            raise BadLayer("invalid tar header checksum (corrupt, or not a tar stream)")
    name = b[0:100].split(b"\0", 1)[0]
    magic = b[257:265]
    if magic == b"ustar\x0000":  # POSIX ustar: 155-byte prefix (GNU uses that room otherwise)
        prefix = b[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    typ = b[156:157]
    size = _num(b[124:136])
    if size < 0:
        raise BadLayer("negative size in tar header")
    return _Entry(
        name=name,
        type=b"0" if typ == b"\0" else typ,
        mode=_num(b[100:108]) & 0o7777,
        uid=_num(b[108:116]),
        gid=_num(b[116:124]),
        size=size,
        mtime_ns=_num(b[136:148]) * 1_000_000_000,
        atime_ns=-1,
        linkname=b[157:257].split(b"\0", 1)[0],
        devmajor=_num(b[329:337]),
        devminor=_num(b[337:345]),
        xattrs={},
    )


def _parse_pax(data: bytes) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:  # NUL padding
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise BadLayer("malformed PAX record")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise BadLayer("malformed PAX record length") from None
        record = data[space + 1 : pos + length]
        if length <= 0 or pos + length > len(data) or not record.endswith(b"\n"):
            raise BadLayer("malformed PAX record")
        key, eq, value = record[:-1].partition(b"=")
        if not eq:
            raise BadLayer("malformed PAX record")
        out[key] = value
        pos += length
    return out


def _pax_time(value: bytes) -> int:
    text = value.decode("ascii")
    sign = -1 if text.startswith("-") else 1
    whole, _, frac = text.lstrip("-").partition(".")
    return sign * (int(whole or "0") * 1_000_000_000 + int((frac + "000000000")[:9]))


def _apply_pax(e: _Entry, pax: dict[bytes, bytes]) -> None:
    import binascii

    try:
        for key, value in pax.items():
            if not value and key in (b"path", b"linkpath", b"size", b"uid", b"gid", b"mtime"):
                continue  # POSIX: an empty value cancels the keyword
            if key == b"path":
                e.name = value
            elif key == b"linkpath":
                e.linkname = value
            elif key == b"size":
                e.size = int(value)
            elif key == b"uid":
                e.uid = int(value)
            elif key == b"gid":
                e.gid = int(value)
            elif key == b"mtime":
                e.mtime_ns = _pax_time(value)
            elif key == b"atime":
                e.atime_ns = _pax_time(value)
            elif key.startswith(b"SCHILY.xattr."):
                e.xattrs[key[len(b"SCHILY.xattr.") :]] = value
            elif key.startswith(b"LIBARCHIVE.xattr."):
                name = _unquote(key[len(b"LIBARCHIVE.xattr.") :])
                e.xattrs[name] = binascii.a2b_base64(value + b"=" * (-len(value) % 4))
            elif key.startswith(b"GNU.sparse."):
                raise BadLayer("sparse files in layers are not supported")
    except (ValueError, UnicodeError, binascii.Error) as err:
        raise BadLayer(f"malformed PAX record: {err}") from err
    if e.size < 0:
        raise BadLayer("negative size in tar header")


def _unquote(text: bytes) -> bytes:
    """Percent-decoding (libarchive URL-encodes xattr names), without urllib's import cost."""
    parts = text.split(b"%")
    out = [parts[0]]
    for part in parts[1:]:
        try:
            out.append(bytes([int(part[:2], 16)]) + part[2:])
        except ValueError:
            out.append(b"%" + part)
    return b"".join(out)


def clean_path(name: bytes) -> bytes:
    """The entry's path relative to the layer root; ``..`` may not climb above the root.

    Absolute names are taken relative to the root (as Docker does). The chroot is
    what really keeps extraction inside; this only rejects names that say so.
    """
    parts: list[bytes] = []
    for part in name.split(b"/"):
        if part in (b"", b"."):
            continue
        if part == b"..":
            if not parts:
                raise BadLayer(f"invalid path {os.fsdecode(name)!r} in layer: breaks out of root")
            parts.pop()
        else:
            parts.append(part)
    return b"/".join(parts)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def rmtree(path: bytes) -> None:
    """Remove a directory tree through directory fds, never following a symlink.

    Not shutil.rmtree: its imports (fnmatch, re, enum) cost the child ~6 ms.
    """
    root = os.open(path, _DIR_FLAGS)
    stack: list[tuple[int, list[str], str]] = [(root, [], "")]
    try:
        stack[0][1].extend(_clear_files(root))
        while stack:
            fd, subdirs, _ = stack[-1]
            if subdirs:
                name = subdirs.pop()
                child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                stack.append((child, [], name))
                stack[-1][1].extend(_clear_files(child))  # on failure, `finally` closes child
                continue
            os.close(fd)
            _, _, name = stack.pop()
            if stack:
                os.rmdir(name, dir_fd=stack[-1][0])
    finally:
        for fd, _, _ in stack:
            os.close(fd)
    os.rmdir(path)


def _clear_files(fd: int) -> list[str]:
    """Unlink the non-directories in directory ``fd``; return its subdirectories' names."""
    subdirs: list[str] = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                os.unlink(entry.name, dir_fd=fd)
    return subdirs


def _join(parent: bytes, name: bytes) -> bytes:
    return parent + b"/" + name if parent else name


_OPAQUE_XATTR = b"trusted.overlay.opaque"
WHITEOUT_PREFIX = b".wh."
OPAQUE_MARKER = b".wh..wh..opq"


class _Extractor:
    """Creates entries relative to the (chrooted) cwd; knows both whiteout styles.

    ``overlay``: the target holds this layer only; whiteouts become 0:0 char devices and
    opaque dirs get ``trusted.overlay.opaque=y``. Otherwise the target holds the lower
    layers' merged tree and whiteouts delete from it, sparing what this tar created
    (``created``/``ancestors``), so a marker's position among the entries does not matter.
    """

    def __init__(self, overlay: bool) -> None:
        self.overlay = overlay
        self.created: set[bytes] = set()
        self.ancestors: set[bytes] = set()
        self.whited: set[bytes] = set()
        self.known_dirs: set[bytes] = set()
        self.dir_times: list[tuple[bytes, int, int]] = []

    # -- entry dispatch

    def entry(self, e: _Entry, r: _TarReader) -> bool:
        path = clean_path(e.name)
        parent, _, base = path.rpartition(b"/")
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(parent, base)
            return False
        if not path:
            if e.type != b"5":
                raise BadLayer("layer root must be a directory")
            self._meta(b".", e, is_link=False)
            self.dir_times.append((b".", e.atime_ns, e.mtime_ns))
            return False
        self._mkparents(parent)
        t = e.type
        if t in (b"0", b"7"):
            self._replace(path, is_dir=False)
            self._file(path, e, r)
            self._created(path)
            return True
        if t == b"5":
            if not self._replace(path, is_dir=True):
                os.mkdir(path, 0o700)
            self.known_dirs.add(path)
            self._meta(path, e, is_link=False)
            if self.overlay and path in self.whited:
                os.setxattr(path, _OPAQUE_XATTR, b"y", follow_symlinks=False)
            self.dir_times.append((path, e.atime_ns, e.mtime_ns))
        elif t == b"2":
            self._replace(path, is_dir=False)
            os.symlink(e.linkname, path)
            self._meta(path, e, is_link=True)
        elif t == b"1":
            self._hardlink(path, e)
        elif t in (b"3", b"4", b"6"):
            self._replace(path, is_dir=False)
            if t == b"6":
                os.mkfifo(path, 0o600)
            else:
                kind = 0o020000 if t == b"3" else 0o060000
                os.mknod(path, kind | 0o600, os.makedev(e.devmajor, e.devminor))
            self._meta(path, e, is_link=False)
        elif t == b"V":  # GNU volume label
            return False
        elif t == b"S":
            raise BadLayer("sparse files in layers are not supported")
        else:
            raise BadLayer(f"unsupported tar entry type {t!r} for {os.fsdecode(path)!r}")
        self._created(path)
        return False

    # -- helpers

    def _created(self, path: bytes) -> None:
        if self.overlay:
            return
        self.created.add(path)
        parent = path.rpartition(b"/")[0]
        while parent and parent not in self.ancestors:
            self.ancestors.add(parent)
            parent = parent.rpartition(b"/")[0]

    def _mkparents(self, parent: bytes) -> None:
        """Make sure directory ``parent`` exists (missing ones are made 0755, as Docker does)."""
        import stat

        missing: list[bytes] = []
        p = parent
        while p and p not in self.known_dirs:
            try:
                st = os.stat(p)  # follows symlinks: inside the chroot, that is safe
            except FileNotFoundError:
                missing.append(p)
                p = p.rpartition(b"/")[0]
                continue
            except NotADirectoryError:
                msg = f"cannot extract under {os.fsdecode(p)!r}: not a directory"
                raise BadLayer(msg) from None
            if not stat.S_ISDIR(st.st_mode):
                if not (self.overlay and p in self.whited):
                    raise BadLayer(f"cannot extract into {os.fsdecode(p)!r}: not a directory")
                missing.append(p)  # this layer's whiteout: becomes an opaque directory
                p = p.rpartition(b"/")[0]
                continue
            self.known_dirs.add(p)
            break
        for d in reversed(missing):
            try:  # noqa: SIM105  (contextlib is one import too many for the child)
                self._remove(d, os.lstat(d))  # a dangling symlink or a whiteout device
            except FileNotFoundError:
                pass
            os.mkdir(d, 0o755)
            if self.overlay and d in self.whited:
                os.setxattr(d, _OPAQUE_XATTR, b"y", follow_symlinks=False)
            self.known_dirs.add(d)

    def _replace(self, path: bytes, is_dir: bool) -> bool:
        """Clear ``path`` for a new entry; True if it is a directory to keep (dir over dir)."""
        import stat

        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if is_dir and stat.S_ISDIR(st.st_mode):
            return True
        self._remove(path, st)
        return False

    def _remove(self, path: bytes, st: os.stat_result) -> None:
        import stat

        if stat.S_ISDIR(st.st_mode):
            rmtree(path)
            self.known_dirs.clear()
        else:
            os.unlink(path)
            if path in self.known_dirs:  # a symlink to a directory: forget what lay beyond
                self.known_dirs.clear()

    def _file(self, path: bytes, e: _Entry, r: _TarReader) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        try:
            for piece in r.chunks(e.size):
                while piece:
                    piece = piece[os.write(fd, piece) :]
            os.fchown(fd, e.uid, e.gid)
            os.fchmod(fd, e.mode)
            for name, value in self._xattrs(e):
                self._setxattr(fd, name, value, True)
            os.utime(fd, ns=(e.atime_ns if e.atime_ns >= 0 else e.mtime_ns, e.mtime_ns))
        finally:
            os.close(fd)

    def _hardlink(self, path: bytes, e: _Entry) -> None:
        target = clean_path(e.linkname)
        if not target:
            raise BadLayer(f"invalid hardlink {os.fsdecode(path)!r} to the layer root")
        if target == path:
            return
        self._replace(path, is_dir=False)
        try:
            os.link(target, path, follow_symlinks=False)
        except FileNotFoundError:
            raise BadLayer(
                f"hardlink {os.fsdecode(path)!r} -> {os.fsdecode(target)!r}: target not found"
            ) from None
        except PermissionError:
            raise BadLayer(
                f"hardlink {os.fsdecode(path)!r} -> {os.fsdecode(target)!r}: not permitted"
            ) from None

    def _meta(self, path: bytes, e: _Entry, is_link: bool) -> None:
        """Owner, then mode (chown clears setuid), then xattrs (chown clears capabilities)."""
        os.chown(path, e.uid, e.gid, follow_symlinks=False)
        if not is_link:
            os.chmod(path, e.mode)
        for name, value in self._xattrs(e):
            self._setxattr(path, name, value, not is_link)
        if e.type != b"5":
            at = e.atime_ns if e.atime_ns >= 0 else e.mtime_ns
            os.utime(path, ns=(at, e.mtime_ns), follow_symlinks=False)

    @staticmethod
    def _xattrs(e: _Entry) -> list[tuple[bytes, bytes]]:
        # trusted.overlay.* in a layer would let it steer overlayfs (redirects, opaque,
        # metacopy): only this extractor writes those.
        return [(k, v) for k, v in e.xattrs.items() if not k.startswith(b"trusted.overlay.")]

    @staticmethod
    def _setxattr(where: bytes | int, name: bytes, value: bytes, follow: bool) -> None:
        try:
            os.setxattr(where, name, value, follow_symlinks=follow)
        except OSError as err:
            # As Docker: a filesystem or kernel that refuses some namespace is no reason
            # to fail the pull (e.g. security.selinux without SELinux, user.* on symlinks).
            if err.errno not in (errno.ENOTSUP, errno.EPERM):
                raise

    # -- whiteouts

    def _whiteout(self, parent: bytes, base: bytes) -> None:
        if base == OPAQUE_MARKER:
            self._opaque(parent)
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # aufs metadata (.wh..wh.plnk etc.): nothing to apply
        name = base[len(WHITEOUT_PREFIX) :]
        if name in (b"", b".", b".."):
            raise BadLayer(f"invalid whiteout {os.fsdecode(_join(parent, base))!r}")
        path = _join(parent, name)
        if self.overlay:
            self._overlay_whiteout(parent, path)
        else:
            self._remove_lower(path)

    def _overlay_whiteout(self, parent: bytes, path: bytes) -> None:
        import stat

        self._mkparents(parent)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mknod(path, stat.S_IFCHR, os.makedev(0, 0))
            self.whited.add(path)
            return
        if stat.S_ISDIR(st.st_mode):  # this layer's dir stays; hide the lower one under it
            os.setxattr(path, _OPAQUE_XATTR, b"y", follow_symlinks=False)
        # a non-directory of this layer already hides the lower NAME

    def _opaque(self, parent: bytes) -> None:
        import stat

        where = parent or b"."
        if self.overlay:
            self._mkparents(parent)
            os.setxattr(where, _OPAQUE_XATTR, b"y", follow_symlinks=False)
            return
        try:
            st = os.lstat(where)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            for child in os.listdir(where):
                self._remove_lower(_join(parent, child))

    def _remove_lower(self, path: bytes) -> None:
        """Delete what lower layers put at ``path``, keeping what this tar created."""
        import stat

        stack = [path]
        while stack:
            p = stack.pop()
            try:
                st = os.lstat(p)
            except (FileNotFoundError, NotADirectoryError):
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if is_dir and (p in self.created or p in self.ancestors):
                stack.extend(_join(p, c) for c in os.listdir(p))
            elif p not in self.created:
                self._remove(p, st)

    def finish(self) -> None:
        """Directory times last: creating their entries changed them."""
        for path, atime, mtime in reversed(self.dir_times):
            try:  # noqa: SIM105
                os.utime(path, ns=(atime if atime >= 0 else mtime, mtime), follow_symlinks=False)
            except FileNotFoundError:
                pass
