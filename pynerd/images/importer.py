"""``import``: a root filesystem tarball becomes a single-layer image.

The tarball may be plain or compressed with gzip, zstd, xz or bzip2 (sniffed
from its first bytes, as Docker does). It is read once, as a stream: the
uncompressed bytes are hashed (the layer's diff ID) and recompressed into a
spool file, which is then committed to the content store under its digest.

**Why the layer is stored gzip-compressed.** A layer in the content store is
also what ``save`` writes and what a push uploads, and gzip is the one layer
encoding every registry, Docker version and OCI tool accepts; storing it
compressed now keeps the layer digest stable from import to push (no
recompression later, whose output could differ) and typically halves the disk
use. With isal (when installed) the compression runs at hundreds of MB/s, so
the import stays bound by I/O, not CPU.

``-c/--change`` takes Dockerfile instructions (CMD, ENTRYPOINT, ENV, EXPOSE,
HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR), parsed and
applied as Docker's builder does: JSON or shell form, ``$VAR`` expansion from
earlier ENV values, quotes and backslash escapes.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, BinaryIO, cast

from pynerd.config import Config
from pynerd.errors import InvalidArgument, NotFound, Unavailable

CHUNK = 1 << 20

# Instructions --change accepts (moby's validCommitCommands) and the others
# that are Dockerfile instructions but make no sense for an existing rootfs.
ALLOWED = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)


# -- --change: Dockerfile instructions applied to an image config -------------------


def _parse_error(line: int, text: str) -> InvalidArgument:
    return InvalidArgument(f"dockerfile parse error on line {line}: {text}")


def _logical_lines(changes: list[str]) -> Iterator[tuple[int, str]]:
    """Docker joins the changes with newlines and reads them as a Dockerfile."""
    pending: list[str] = []
    start = 0
    for number, raw in enumerate("\n".join(changes).split("\n"), 1):
        line = raw.strip()
        if not pending:
            start = number
            if not line or line.startswith("#"):
                continue
        if line.endswith("\\"):
            pending.append(line[:-1])
            continue
        pending.append(line)
        yield start, " ".join(p.strip() for p in pending if p.strip())
        pending = []
    if pending:
        yield start, " ".join(p.strip() for p in pending if p.strip())


_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")


class _Lexer:
    """Quote removal, backslash escapes and ``$VAR`` expansion (buildkit's shell lexer)."""

    def __init__(self, env: dict[str, str], line: int) -> None:
        self.env = env
        self.line = line

    def split(self, text: str) -> list[str]:
        """Split on unquoted, unescaped whitespace; quotes stay for :meth:`word`."""
        words: list[str] = []
        cur: list[str] = []
        quote = ""
        i = 0
        while i < len(text):
            ch = text[i]
            if quote:
                cur.append(ch)
                if ch == "\\" and quote == '"' and i + 1 < len(text):
                    cur.append(text[i + 1])
                    i += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
                cur.append(ch)
            elif ch == "\\" and i + 1 < len(text):
                cur.append(ch + text[i + 1])
                i += 1
            elif ch.isspace():
                if cur:
                    words.append("".join(cur))
                    cur = []
            else:
                cur.append(ch)
            i += 1
        if cur:
            words.append("".join(cur))
        return words

    def word(self, text: str) -> str:
        out: list[str] = []
        i = 0
        n = len(text)
        while i < n:
            ch = text[i]
            if ch == "\\":
                if i + 1 < n:
                    out.append(text[i + 1])
                    i += 2
                else:
                    out.append(ch)
                    i += 1
            elif ch == "'":
                end = text.find("'", i + 1)
                if end < 0:
                    raise _parse_error(
                        self.line,
                        "unexpected end of statement while looking for matching single-quote",
                    )
                out.append(text[i + 1 : end])
                i = end + 1
            elif ch == '"':
                i += 1
                while True:
                    if i >= n:
                        raise _parse_error(
                            self.line,
                            "unexpected end of statement while looking for matching double-quote",
                        )
                    c = text[i]
                    if c == '"':
                        i += 1
                        break
                    if c == "\\" and i + 1 < n and text[i + 1] in '"\\$':
                        out.append(text[i + 1])
                        i += 2
                    elif c == "$":
                        value, i = self._variable(text, i)
                        out.append(value)
                    else:
                        out.append(c)
                        i += 1
            elif ch == "$":
                value, i = self._variable(text, i)
                out.append(value)
            else:
                out.append(ch)
                i += 1
        return "".join(out)

    def _variable(self, text: str, i: int) -> tuple[str, int]:
        """Expand the variable at ``text[i] == "$"``; returns the value and the next index."""
        j = i + 1
        if j < len(text) and text[j] == "{":
            end = text.find("}", j)
            if end < 0:
                raise _parse_error(self.line, "missing '}' in variable substitution")
            body = text[j + 1 : end]
            m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+?])(.*))?", body, re.S)
            if not m:
                raise _parse_error(self.line, f"bad substitution: ${{{body}}}")
            name, op, arg = m.group(1), m.group(2), m.group(3) or ""
            value = self.env.get(name)
            if op in (":-", "-"):
                if value is None or (op == ":-" and value == ""):
                    value = self.word(arg)
            elif op in (":+", "+"):
                value = self.word(arg) if value is not None and (op == "+" or value) else ""
            elif op in (":?", "?") and (value is None or (op == ":?" and value == "")):
                raise InvalidArgument(f"{name}: {arg or 'is not allowed to be unset'}")
            return value or "", end + 1
        k = j
        while k < len(text) and _NAME_CHAR.match(text[k]):
            k += 1
        if k == j:
            return "$", j
        return self.env.get(text[j:k], ""), k


def _json_list(rest: str) -> list[str] | None:
    """The JSON (exec) form of an instruction's arguments, or None for the shell form."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _pairs(lex: _Lexer, what: str, rest: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"``, or the legacy ``k value with spaces`` (ENV and LABEL)."""
    words = lex.split(rest)
    if not words:
        raise _parse_error(lex.line, f"{what} requires at least one argument")
    if "=" not in words[0]:
        key, _, value = rest.partition(" ")
        value = value.strip()
        if not value and "\t" in key:
            key, _, value = key.partition("\t")
        if not value.strip():
            raise _parse_error(lex.line, f"{what} must have two arguments")
        return [(lex.word(key), lex.word(value.strip()))]
    out = []
    for w in words:
        if "=" not in w:
            raise _parse_error(
                lex.line, f"Syntax error - can't find = in {w!r}. Must be of the form: name=value"
            )
        key, _, value = w.partition("=")
        out.append((lex.word(key), lex.word(value)))
    return out


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` (``1m30s``, ``500ms``) in nanoseconds."""
    if text in ("0", "+0", "-0"):
        return 0
    m = re.fullmatch(r"((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+", text)
    if not m:
        raise InvalidArgument(f'time: invalid duration "{text}"')
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", text):
        total += float(number) * _DURATION_UNITS[unit]
    return int(total)


def _healthcheck(lex: _Lexer, rest: str) -> dict[str, Any]:
    flags: dict[str, str] = {}
    body = rest
    while body.startswith("--"):
        word, _, body = body.partition(" ")
        body = body.strip()
        name, eq, value = word[2:].partition("=")
        if name not in ("interval", "timeout", "start-period", "start-interval", "retries"):
            raise _parse_error(lex.line, f"Unknown flag: {name}")
        if not eq:
            raise _parse_error(lex.line, f"Missing a value on flag: {word}")
        flags[name] = value
    kind, _, args = body.partition(" ")
    kind, args = kind.upper(), args.strip()
    if kind == "NONE":
        if flags or args:
            raise _parse_error(lex.line, "HEALTHCHECK NONE takes no arguments")
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise _parse_error(lex.line, f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not args:
        raise _parse_error(lex.line, "Missing command after HEALTHCHECK CMD")
    exec_form = _json_list(args)
    check: dict[str, Any] = {
        "Test": ["CMD", *exec_form] if exec_form is not None else ["CMD-SHELL", args]
    }
    for flag, key in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ):
        if flag in flags:
            ns = parse_go_duration(flags[flag])
            if 0 < ns < 1_000_000 or ns < 0:
                raise _parse_error(lex.line, f'{key} "{flags[flag]}" cannot be less than 1ms')
            if ns:
                check[key] = ns
    if "retries" in flags:
        try:
            retries = int(flags["retries"])
        except ValueError:
            raise _parse_error(lex.line, f"invalid retries: {flags['retries']}") from None
        if retries < 0:
            raise _parse_error(lex.line, "--retries cannot be negative")
        if retries:
            check["Retries"] = retries
    return check


def _ports(lex: _Lexer, rest: str) -> list[str]:
    out = []
    for raw in lex.split(rest):
        spec = lex.word(raw)
        port, _, proto = spec.partition("/")
        proto = (proto or "tcp").lower()
        if proto not in ("tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid proto: {proto}")
        lo, dash, hi = port.partition("-")
        try:
            start, end = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            raise InvalidArgument(f"invalid containerPort: {port}") from None
        if not 0 < start <= end <= 65535:
            raise InvalidArgument(f"invalid containerPort: {port}")
        out += [f"{p}/{proto}" for p in range(start, end + 1)]
    return out


def _check_signal(value: str) -> None:
    import signal

    if value.isdigit() and 0 < int(value) < 65:
        return
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX") or hasattr(signal, name):
        return
    raise InvalidArgument(f"Invalid signal: {value}")


_KNOWN = (*ALLOWED, "FROM", "RUN", "COPY", "ADD", "ARG", "SHELL", "MAINTAINER")


def apply_changes(changes: list[str], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply ``-c/--change`` Dockerfile instructions to an image's ``config`` object.

    Returns a new dict (keys as Docker writes them: ``Cmd``, ``Env``, ...);
    raises :class:`InvalidArgument` with Docker's wording for a bad instruction.
    """
    cfg: dict[str, Any] = json.loads(json.dumps(config or {}))
    cmd_set = False
    for line, text in _logical_lines(changes):
        instr, _, rest = text.partition(" ")
        name, rest = instr.upper(), rest.strip()
        if name not in ALLOWED:
            raise _parse_error(line, f"unknown instruction: {instr}")
        env = dict(e.partition("=")[::2] for e in cfg.get("Env") or [])
        lex = _Lexer(env, line)
        if name != "HEALTHCHECK" and not rest and name not in ("CMD", "ENTRYPOINT"):
            raise _parse_error(line, f"{name} requires at least one argument")
        if name in ("CMD", "ENTRYPOINT"):
            exec_form = _json_list(rest)
            if exec_form is None and not rest:
                raise _parse_error(line, f"{name} requires at least one argument")
            args = exec_form if exec_form is not None else ["/bin/sh", "-c", rest]
            if name == "CMD":
                cfg["Cmd"], cmd_set = args, True
            else:
                cfg["Entrypoint"] = args
                if not cmd_set:
                    cfg["Cmd"] = None
        elif name == "ENV":
            current = list(cfg.get("Env") or [])
            for key, value in _pairs(lex, "ENV", rest):
                if not key:
                    raise _parse_error(line, "ENV names can not be blank")
                current = [e for e in current if e.partition("=")[0] != key]
                current.append(f"{key}={value}")
                lex.env[key] = value
            cfg["Env"] = current
        elif name == "LABEL":
            labels = dict(cfg.get("Labels") or {})
            for key, value in _pairs(lex, "LABEL", rest):
                if not key:
                    raise _parse_error(line, "LABEL names can not be blank")
                labels[key] = value
            cfg["Labels"] = labels
        elif name == "EXPOSE":
            ports = dict(cfg.get("ExposedPorts") or {})
            ports.update({p: {} for p in _ports(lex, rest)})
            cfg["ExposedPorts"] = ports
        elif name == "VOLUME":
            listed = _json_list(rest)
            paths = listed if listed is not None else [lex.word(w) for w in lex.split(rest)]
            volumes = dict(cfg.get("Volumes") or {})
            for p in paths:
                if not p.strip():
                    raise InvalidArgument("VOLUME specified can not be an empty string")
                volumes[p] = {}
            cfg["Volumes"] = volumes
        elif name == "WORKDIR":
            path = lex.word(rest)
            if not path.startswith("/"):
                path = posixpath.join(cfg.get("WorkingDir") or "/", path)
            cfg["WorkingDir"] = posixpath.normpath(path) if path != "/" else "/"
        elif name == "USER":
            cfg["User"] = lex.word(rest)
        elif name == "STOPSIGNAL":
            sig = lex.word(rest)
            _check_signal(sig)
            cfg["StopSignal"] = sig
        elif name == "ONBUILD":
            trigger = rest.split(None, 1)[0].upper()
            if trigger == "ONBUILD":
                raise _parse_error(line, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            if trigger in ("FROM", "MAINTAINER"):
                raise _parse_error(line, f"{trigger} isn't allowed as an ONBUILD trigger")
            if trigger not in _KNOWN:
                raise _parse_error(line, f"unknown instruction: {rest.split(None, 1)[0]}")
            cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), rest]
        elif name == "HEALTHCHECK":
            if not rest:
                raise _parse_error(line, "HEALTHCHECK requires at least one argument")
            cfg["Healthcheck"] = _healthcheck(lex, rest)
    return {k: v for k, v in cfg.items() if v is not None}


# -- reading the rootfs ---------------------------------------------------------------


class _Prefixed:
    """A stream with its first bytes already read (for sniffing a pipe)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                data, self.head = self.head + self.rest.read(), b""
                return data
            data, self.head = self.head[:n], self.head[n:]
            return data
        return self.rest.read(n)

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True


def _read_head(source: BinaryIO, size: int) -> bytes:
    head = b""
    while len(head) < size:
        chunk = source.read(size - len(head))
        if not chunk:
            break
        head += chunk
    return head


def decompressed(source: BinaryIO) -> Callable[[int], bytes]:
    """A ``read(n)`` over the uncompressed tar: gzip, zstd, xz, bzip2 or plain, sniffed."""
    head = _read_head(source, 6)
    stream: Any = _Prefixed(head, source)
    if head.startswith(b"\x1f\x8b"):
        try:
            from isal import igzip

            isal_gzip: Any = igzip
            return isal_gzip.IGzipFile(fileobj=stream, mode="rb").read  # type: ignore[no-any-return]
        except ImportError:
            import gzip

            return gzip.GzipFile(fileobj=stream, mode="rb").read
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(stream, read_across_frames=True)
        return reader.read
    if head.startswith(b"\xfd7zXZ\x00"):
        import lzma

        return lzma.LZMAFile(stream).read
    if head.startswith(b"BZh"):
        import bz2

        return bz2.BZ2File(stream).read
    return stream.read  # type: ignore[no-any-return]


def _gzip_writer(out: Any) -> Any:
    """A gzip compressor writing to ``out``: isal when installed (several times faster)."""
    try:
        from isal import igzip

        isal_gzip: Any = igzip
        return isal_gzip.IGzipFile(fileobj=out, mode="wb", compresslevel=2, mtime=0)
    except ImportError:
        import gzip

        return gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0)


def _guarded(read: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """Decoders fail in many ways (EOFError, BadGzipFile, LZMAError, ZstdError...): one error."""

    def guarded(n: int) -> bytes:
        try:
            return read(n)
        except OSError as e:
            if e.errno is not None:
                raise  # the host's failure (disk, pipe), not the data's
            raise InvalidArgument(f"invalid tar archive: {e}") from None
        except Exception as e:  # decoder-specific error types
            raise InvalidArgument(f"invalid tar archive: {e or type(e).__name__}") from None

    return guarded


class _HashingFile:
    """Counts and hashes what the compressor writes (the layer blob's digest and size)."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.f.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self.f.flush()


def _store_layer(cfg: Config, source: BinaryIO) -> tuple[dict[str, Any], str]:
    """Compress the rootfs into the content store; returns (layer descriptor, diff ID)."""
    from pynerd.content.store import ContentStore
    from pynerd.images import manifest as mf
    from pynerd.images.archive import commit_file, spool_dir

    content = ContentStore(cfg.data_root / "content")
    read = _guarded(decompressed(source))
    diff = hashlib.sha256()
    with spool_dir(cfg, "import") as spool:
        path = spool / "layer.tar.gz"
        with open(path, "wb") as raw:
            counted = _HashingFile(raw)
            gz = _gzip_writer(counted)
            total = 0
            while chunk := read(CHUNK):
                diff.update(chunk)
                gz.write(chunk)
                total += len(chunk)
            gz.close()
        if total == 0:
            raise InvalidArgument("invalid tar archive: the input is empty")
        digest = "sha256:" + counted.hash.hexdigest()
        commit_file(content, path, digest, counted.size)
    desc = {"mediaType": mf.OCI_LAYER_GZIP, "digest": digest, "size": counted.size}
    return desc, "sha256:" + diff.hexdigest()


# -- sources: file, stdin, URL ----------------------------------------------------------


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _reason(e: Exception) -> str:
    """The useful end of a requests error ("Connection refused", not three wrappers)."""
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(e))
    return m.group(1).strip() if m else str(e)


@contextmanager
def open_source(text: str, stdin: BinaryIO) -> Iterator[BinaryIO]:
    """The tarball named on the command line: ``-`` (stdin), an http(s) URL or a file."""
    if text == "-":
        yield stdin
        return
    if is_url(text):
        import requests

        try:
            resp = requests.get(text, stream=True, timeout=(30, 300))
        except requests.RequestException as e:
            raise Unavailable(f"failed to download {text}: {_reason(e)}") from None
        with resp:
            if resp.status_code != 200:
                raise Unavailable(
                    f"failed to download {text}: HTTP {resp.status_code} {resp.reason}"
                )
            resp.raw.decode_content = False  # the tarball's own compression is sniffed
            yield cast(BinaryIO, resp.raw)
        return
    try:
        f = open(text, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise NotFound(f"open {text}: no such file or directory") from None
    except IsADirectoryError:
        raise InvalidArgument(f"read {text}: is a directory") from None
    except PermissionError:
        raise InvalidArgument(f"open {text}: permission denied") from None
    with f:
        yield f


# -- the import -----------------------------------------------------------------------


def import_rootfs(
    cfg: Config,
    source: BinaryIO,
    reference: str | None,
    changes: list[str],
    message: str,
    platform: str | None,
    origin: str = "-",
) -> str:
    """Import the rootfs tarball read from ``source``; returns the image ID (``sha256:…``).

    ``origin`` names the source in the default history comment (``Imported from -``,
    or the URL). Without ``reference`` the image is recorded untagged (dangling).
    """
    from pynerd.content.store import ContentStore, sha256_digest
    from pynerd.images import manifest as mf
    from pynerd.images.gc import gc_shared
    from pynerd.images.manage import _keep_dangling
    from pynerd.images.platforms import host_platform, parse_platform
    from pynerd.images.pull import Puller, now_rfc3339
    from pynerd.images.store import ImageStore

    name = None
    if reference:
        from pynerd.registry.reference import parse_reference

        ref = parse_reference(reference)
        if ref.digest:
            raise InvalidArgument(f"refusing to create a tag with a digest reference: {reference}")
        name = str(ref)
    container_config = apply_changes(changes)  # bad changes fail before reading anything
    plat = parse_platform(platform) if platform else host_platform()
    comment = message or f"Imported from {origin}"
    content = ContentStore(cfg.data_root / "content")
    images = ImageStore(cfg.namespace_root)
    with gc_shared(cfg):
        layer, diff_id = _store_layer(cfg, source)
        created = now_rfc3339()
        config: dict[str, Any] = {
            "architecture": plat.architecture,
            "comment": comment,
            "config": container_config,
            "created": created,
            "history": [{"created": created, "created_by": "", "comment": comment}],
            "os": plat.os,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        }
        if plat.variant:
            config["variant"] = plat.variant
        config_bytes = json.dumps(config, separators=(",", ":")).encode()
        image_id = content.put(config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": mf.OCI_MANIFEST,
            "config": {"mediaType": mf.OCI_CONFIG, "digest": image_id, "size": len(config_bytes)},
            "layers": [layer],
        }
        manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
        desc: dict[str, Any] = {
            "mediaType": mf.OCI_MANIFEST,
            "digest": sha256_digest(manifest_bytes),
            "size": len(manifest_bytes),
        }
        content.put(manifest_bytes, desc["digest"])
        Puller(cfg, client=None).unpack(None, [layer], [diff_id])
        record = {
            "Name": name or image_id,
            "Target": desc,
            "Manifest": desc,
            "Config": image_id,
            "Platform": str(plat),
            "Created": created,
            "Updated": created,
        }
        if name is None:
            images.put({**record, "Dangling": True})
        else:
            old = images.get(name)
            images.put(record)
            if old is not None and old["Config"] != image_id:
                _keep_dangling(images, old)
    return image_id
