"""``save`` and ``load``: images to and from tar archives.

**One archive, two readers.** ``save`` writes what Docker 25+ writes: a Docker
archive (``manifest.json`` with ``Config``/``RepoTags``/``Layers``, and the
legacy ``repositories``) that is at the same time an OCI image layout
(``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``), so ``docker load``,
skopeo's ``docker-archive:`` and ``oci-archive:`` transports and containerd all
read it. Layers are written exactly as stored (usually gzip): the manifest and
its digest stay valid, and Docker's and skopeo's loaders decompress layer files
themselves. The tar is streamed: nothing is staged, whatever the image size.

**Loading from a pipe.** ``load`` reads the tar as a stream (stdin is not
seekable). Entries named ``blobs/sha256/<hex>`` go straight into the content
store through its verifying writer, so a corrupt blob is refused before it is
ever visible and big layers are written once. Anything else (``manifest.json``,
``<id>/layer.tar`` and ``<id>.json`` of older Docker archives) is spooled under
``<data-root>/tmp/load-*`` while its digest is computed, because the metadata
that says what those files are may come last in the tar. Only after every blob
checked out and every layer unpacked are image records written: a failed load
leaves no record (committed but unreferenced blobs go at the next GC).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import posixpath
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO

from pynerd.config import Config
from pynerd.content.store import ContentStore, DigestMismatch, sha256_digest
from pynerd.errors import InvalidArgument, NotFound, PynerdError
from pynerd.images import manifest as mf
from pynerd.images.events import Progress, ProgressFn, short_id
from pynerd.images.store import ImageStore, Record

CHUNK = 1 << 20
OCI_LAYOUT = b'{"imageLayoutVersion":"1.0.0"}'
ANNOTATION_NAME = "io.containerd.image.name"
ANNOTATION_REF = "org.opencontainers.image.ref.name"
TERMINAL_REFUSAL = "cowardly refusing to save to a terminal. Use the -o flag or redirect"
EMPTY_STDIN = "requested load from stdin, but stdin is empty"
MAX_METADATA = 32 << 20  # JSON files (manifests, configs) are read into memory
_BLOB_RE = re.compile(r"blobs/sha256/([0-9a-f]{64})")
_SPOOL_KINDS = ("load-", "import-")
_STALE_SPOOL = 60.0  # seconds: older unlocked spool dirs belong to a dead process


class ArchiveError(InvalidArgument):
    """The archive is malformed, incomplete or corrupt."""


# -- spool directories under the data root --------------------------------------------


@contextmanager
def spool_dir(cfg: Config, kind: str) -> Iterator[Path]:
    """A private scratch directory ``<data-root>/tmp/<kind>-XXXX``, removed on exit.

    Under the data root rather than /tmp: it holds layer-sized files, and the
    final copy into the content store then stays on one filesystem. The owner
    holds an flock on ``.lock`` inside; a later load or import removes leftovers
    of killed processes (unlocked and older than a minute).
    """
    root = cfg.data_root / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    _sweep_spools(root)
    path = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=root))
    fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def _sweep_spools(root: Path) -> None:
    now = time.time()
    try:
        entries = list(os.scandir(root))
    except FileNotFoundError:
        return
    for entry in entries:
        if not entry.name.startswith(_SPOOL_KINDS) or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < _STALE_SPOOL:
                continue
            fd = os.open(os.path.join(entry.path, ".lock"), os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            fd = -1
        try:
            if fd >= 0:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            shutil.rmtree(entry.path, ignore_errors=True)
        except BlockingIOError:
            pass  # in use
        finally:
            if fd >= 0:
                os.close(fd)


def commit_file(content: ContentStore, path: Path, digest: str, size: int) -> None:
    """Copy a spooled file into the content store (verified against ``digest``)."""
    with content.writer(digest, size) as w:
        if w is None:
            return
        if w.offset:
            w.reset()
        try:
            with open(path, "rb") as f:
                while chunk := f.read(CHUNK):
                    w.write(chunk)
            w.commit()
        except BaseException:
            w.discard()
            raise


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


# -- save -------------------------------------------------------------------------------


@dataclass
class _SavedImage:
    image_id: str
    record: Record
    refs: list[Any] = field(default_factory=list)  # tagged references (registry.Reference)


def _is_id(text: str, image_id: str) -> bool:
    ident = text[7:] if text.startswith("sha256:") else text
    return (
        bool(ident)
        and len(ident) <= 64
        and set(ident) <= set("0123456789abcdef")
        and image_id[7:].startswith(ident)
    )


def _select(store: ImageStore, names: list[str]) -> list[_SavedImage]:
    """Images to save, in argument order; tags only for images named by tag (as Docker)."""
    from pynerd.registry.reference import parse_reference

    chosen: dict[str, _SavedImage] = {}

    def add(record: Record, ref: Any) -> None:
        image = chosen.setdefault(record["Config"], _SavedImage(record["Config"], record))
        if ref is not None and all(str(r) != str(ref) for r in image.refs):
            image.refs.append(ref)

    for text in names:
        try:
            ref = parse_reference(text)
        except InvalidArgument:
            ref = None
        if (
            ref is not None
            and ref.tag is None
            and ref.digest is None
            and not (set(text) <= set("0123456789abcdef"))
        ):
            # A bare repository name saves every tag of that repository.
            tagged = []
            for r in store.list():
                if r.get("Dangling") or "@" in r["Name"] or r["Name"].startswith("sha256:"):
                    continue
                rref = parse_reference(r["Name"])
                if rref.name == ref.name:
                    tagged.append((rref.tag or "", r, rref))
            if tagged:
                for _, r, rref in sorted(tagged, key=lambda t: t[0]):
                    add(r, rref)
                continue
        record = store.lookup(text)[0]
        if (
            _is_id(text, record["Config"])
            or (ref is not None and ref.digest)
            or record.get("Dangling")
            or record["Name"].startswith("sha256:")
        ):
            add(record, None)  # by ID or digest: saved without a tag, as Docker does
            continue
        named = parse_reference(record["Name"])
        add(record, named if named.tag and not named.digest else None)
    return list(chosen.values())


def _tar_file(tf: tarfile.TarFile, name: str, size: int, data: BinaryIO) -> None:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    tf.addfile(info, data)


def _tar_dir(tf: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = 0
    tf.addfile(info)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _fetch_missing(
    cfg: Config, content: ContentStore, record: Record, layers: list[dict[str, Any]]
) -> None:
    """Download layer blobs the content store lacks, from the image's own repository.

    A pull skips the download of a layer whose snapshot exists already, so an
    image sharing a layer (same diff ID) with another one, but compressed
    differently, may have no blob of its own: save needs it.
    """
    missing = [d for d in layers if not content.exists(d["digest"])]
    if not missing:
        return
    name = record["Name"]
    why = "the image has no name to fetch it with"
    if not record.get("Dangling") and not name.startswith("sha256:"):
        from pynerd.images.pull import Puller
        from pynerd.registry.reference import parse_reference

        try:
            Puller(cfg).fetch_only(parse_reference(name), missing)
            return
        except PynerdError as e:
            why = e.message
    raise NotFound(
        f"layer {missing[0]['digest']} of image {name} is not in the content "
        f"store, and fetching it failed: {why}"
    )


def save(cfg: Config, names: list[str], out: BinaryIO) -> None:
    """Stream one tar holding ``names`` to ``out``: a Docker archive and an OCI layout."""
    if not names:
        raise InvalidArgument("save requires at least 1 image")
    if _isatty(out):
        raise InvalidArgument(TERMINAL_REFUSAL)
    from pynerd.images.gc import gc_shared

    content = ContentStore(cfg.data_root / "content")
    # gc_shared: an rmi + collect in another process must not delete a blob mid-stream.
    with gc_shared(cfg):
        images = _select(ImageStore(cfg.namespace_root), names)
        blobs: dict[str, int] = {}  # digest -> size, in writing order
        index: list[dict[str, Any]] = []
        docker: list[dict[str, Any]] = []
        repositories: dict[str, dict[str, str]] = {}
        for image in images:
            mdesc = image.record["Manifest"]
            raw = content.read(mdesc["digest"])
            manifest = mf.parse_manifest(raw, mf.media_type_of(raw, mdesc.get("mediaType")))
            _fetch_missing(cfg, content, image.record, manifest.layers)
            config = mf.load_json(content.read(image.image_id), "image config")
            for desc in [*manifest.layers, manifest.config]:
                blobs.setdefault(desc["digest"], content.size(desc["digest"]))
            blobs.setdefault(mdesc["digest"], len(raw))
            plat = {k: config[k] for k in ("architecture", "os", "variant") if config.get(k)}
            base = {"mediaType": manifest.media_type, "digest": mdesc["digest"], "size": len(raw)}
            for ref in image.refs:
                index.append(
                    {
                        **base,
                        "annotations": {ANNOTATION_NAME: str(ref), ANNOTATION_REF: ref.tag},
                        **({"platform": plat} if plat else {}),
                    }
                )
                top = manifest.layers[-1]["digest"][7:] if manifest.layers else ""
                repositories.setdefault(ref.familiar_name, {})[ref.tag] = top
            if not image.refs:
                index.append({**base, **({"platform": plat} if plat else {})})
            docker.append(
                {
                    "Config": f"blobs/sha256/{image.image_id[7:]}",
                    "RepoTags": [ref.familiar() for ref in image.refs] or None,
                    "Layers": [f"blobs/sha256/{d['digest'][7:]}" for d in manifest.layers],
                }
            )
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.USTAR_FORMAT) as tf:
            _tar_dir(tf, "blobs/")
            _tar_dir(tf, "blobs/sha256/")
            for digest, size in blobs.items():
                with content.open(digest) as f:
                    _tar_file(tf, f"blobs/sha256/{digest[7:]}", size, f)
            files = {
                "index.json": _json(
                    {"schemaVersion": 2, "mediaType": mf.OCI_INDEX, "manifests": index}
                ),
                "manifest.json": _json(docker) + b"\n",
                "oci-layout": OCI_LAYOUT,
            }
            if repositories:
                files["repositories"] = _json(repositories) + b"\n"
            for name, data in files.items():
                _tar_file(tf, name, len(data), io.BytesIO(data))
    with contextlib.suppress(AttributeError, ValueError):
        out.flush()


def save_file(cfg: Config, names: list[str], path: Path) -> None:
    """``save -o``: write a temp file beside ``path`` and rename it, like Docker's CLI."""
    parent = path.parent
    if not parent.is_dir():
        raise InvalidArgument(
            f'failed to save image: invalid output path: directory "{parent}" does not exist'
        )
    if path.is_dir():
        raise InvalidArgument(f"failed to save image: open {path}: is a directory")
    fd, tmp = tempfile.mkstemp(prefix=".pynerd_temp_", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            save(cfg, names, f)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# -- load: reading the tar --------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """A regular file of the archive: in the content store, or spooled at ``path``."""

    digest: str
    size: int
    path: Path | None = None


class _Archive:
    """Every file of the tar, with symlinks and hardlinks resolved by name."""

    def __init__(self, content: ContentStore) -> None:
        self.content = content
        self.files: dict[str, _Entry] = {}
        self.links: dict[str, str] = {}

    def find(self, name: str) -> _Entry | None:
        name = _clean(name)
        for _ in range(32):
            if name in self.files:
                return self.files[name]
            if name not in self.links:
                return None
            name = self.links[name]
        return None

    def get(self, name: str, what: str) -> _Entry:
        entry = self.find(name)
        if entry is None:
            raise ArchiveError(f"invalid archive: {what} {name!r} is not in the archive")
        return entry

    def read(self, entry: _Entry, what: str) -> bytes:
        if entry.size > MAX_METADATA:
            raise ArchiveError(f"invalid archive: {what} is too large ({entry.size} bytes)")
        if entry.path is None:
            return self.content.read(entry.digest)
        return entry.path.read_bytes()

    def head(self, entry: _Entry, n: int = 6) -> bytes:
        if entry.path is None:
            with self.content.open(entry.digest) as f:
                return f.read(n)
        with open(entry.path, "rb") as f:
            return f.read(n)


def _clean(name: str) -> str:
    name = posixpath.normpath("/" + name).lstrip("/")
    return "" if name == "." else name


class _Reader:
    """``read(n)`` over the possibly compressed archive (``docker load`` takes .tar.gz too)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read

    def read(self, n: int = -1) -> bytes:
        return self._read(n if n >= 0 else 1 << 30)


def _read_archive(inp: BinaryIO, content: ContentStore, spool: Path) -> _Archive:
    from pynerd.images.importer import decompressed

    archive = _Archive(content)
    try:
        source: Any = _Reader(decompressed(inp))
        with tarfile.open(fileobj=source, mode="r|") as tf:
            for member in tf:
                name = _clean(member.name)
                if member.issym():
                    archive.links[name] = _clean(
                        posixpath.join(posixpath.dirname(name), member.linkname)
                    )
                elif member.islnk():
                    archive.links[name] = _clean(member.linkname)
                elif member.isfile() and name:
                    data = tf.extractfile(member)
                    assert data is not None
                    m = _BLOB_RE.fullmatch(name)
                    if m:
                        archive.files[name] = _ingest(
                            content, f"sha256:{m.group(1)}", member.size, data, name
                        )
                    else:
                        archive.files[name] = _spool(data, spool / f"f{len(archive.files)}")
    except tarfile.TarError as e:
        raise ArchiveError(f"invalid archive: {e}") from None
    except (EOFError, ValueError) as e:
        raise ArchiveError(f"invalid archive: {e or type(e).__name__}") from None
    except OSError as e:
        if e.errno is None:  # a decoder's complaint (e.g. BadGzipFile), not the host's
            raise ArchiveError(f"invalid archive: {e}") from None
        raise
    if not archive.files:
        raise ArchiveError("invalid archive: no files (is the input a tar archive?)")
    return archive


def _ingest(content: ContentStore, digest: str, size: int, data: IO[bytes], name: str) -> _Entry:
    with content.writer(digest, size) as w:
        if w is not None:
            if w.offset:
                w.reset()  # a partial download of a pull: we have the whole blob here
            try:
                while chunk := data.read(CHUNK):
                    w.write(chunk)
                w.commit()
            except DigestMismatch as e:
                raise ArchiveError(f"invalid archive: {name} is corrupt: {e.message}") from None
            except BaseException:
                w.discard()
                raise
    return _Entry(digest, size)


def _spool(data: IO[bytes], path: Path) -> _Entry:
    h = hashlib.sha256()
    size = 0
    with open(path, "wb") as f:
        while chunk := data.read(CHUNK):
            f.write(chunk)
            h.update(chunk)
            size += len(chunk)
    return _Entry("sha256:" + h.hexdigest(), size, path)


# -- load: what the archive holds -------------------------------------------------------


@dataclass
class _LoadImage:
    names: list[str]  # canonical references
    target: dict[str, Any]
    manifest: dict[str, Any]  # descriptor of the platform manifest
    layers: list[dict[str, Any]]
    config_digest: str
    config: dict[str, Any]
    # A Docker archive's image: the config and the manifest built for it, stored
    # (with its spooled layers) only once the whole archive checked out.
    pending: tuple[bytes, bytes] | None = None

    def add_names(self, names: list[str]) -> None:
        self.names += [n for n in names if n not in self.names]


def _entry_names(entry: dict[str, Any]) -> list[str]:
    """The image name an OCI index entry carries, canonicalized (none if it has none)."""
    from pynerd.registry.reference import parse_reference

    ann = entry.get("annotations") or {}
    text = ann.get(ANNOTATION_NAME) or ""
    if not text:
        ref_name = ann.get(ANNOTATION_REF) or ""
        # A bare "latest" is only a tag (Docker writes the name beside it); a
        # reference needs a repository part.
        if ":" in ref_name or "/" in ref_name:
            text = ref_name
    if not text:
        return []
    try:
        ref = parse_reference(text)
    except InvalidArgument as e:
        raise ArchiveError(f"invalid archive: image name {text!r}: {e.message}") from None
    return [str(ref)] if not ref.digest or ref.tag else []


def _from_descriptor(content: ContentStore, entry: dict[str, Any], depth: int = 0) -> _LoadImage:
    """The image an index entry points to; for an index, the host's platform."""
    from pynerd.images.platforms import host_platform

    digest = entry.get("digest")
    if not isinstance(digest, str) or not content.exists(digest):
        raise ArchiveError(f"invalid archive: manifest {digest} is not in the archive")
    data = content.read(digest)
    mt = mf.media_type_of(data, entry.get("mediaType"))
    if mt in mf.INDEX_TYPES:
        if depth > 4:
            raise ArchiveError("invalid archive: indexes nested too deeply")
        wanted = host_platform()
        children = [
            e
            for e in mf.index_entries(data)
            if not (e.get("annotations") or {}).get("vnd.docker.reference.type")
            and content.exists(e.get("digest", ""))
        ]
        matching = [e for e in children if wanted.matches(e.get("platform"))]
        if not matching and len(children) == 1:
            matching = children
        if not matching:
            raise NotFound(f"no matching manifest for {wanted} in the archive's index {digest}")
        matching.sort(key=lambda e: (e.get("platform") or {}).get("variant", "") != wanted.variant)
        image = _from_descriptor(content, matching[0], depth + 1)
        image.target = {"mediaType": mt, "digest": digest, "size": len(data)}
        return image
    manifest = mf.parse_manifest(data, mt)
    config_digest = manifest.config.get("digest", "")
    for desc in [manifest.config, *manifest.layers]:
        d = desc.get("digest", "")
        if not content.exists(d):
            raise ArchiveError(
                f"invalid archive: blob {d} of manifest {digest} is not in the archive"
            )
        if desc.get("size") is not None and content.size(d) != desc["size"]:
            raise ArchiveError(
                f"invalid archive: blob {d} has size {content.size(d)}, its "
                f"manifest says {desc['size']}"
            )
    config = mf.load_json(content.read(config_digest), "image config")
    desc = {"mediaType": mt, "digest": digest, "size": len(data)}
    return _LoadImage([], desc, dict(desc), manifest.layers, config_digest, config)


def _layer_type(head: bytes, name: str) -> str:
    if head.startswith(b"\x1f\x8b"):
        return mf.OCI_LAYER_GZIP
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return mf.OCI_LAYER_ZSTD
    if head.startswith((b"BZh", b"\xfd7zXZ\x00")):
        raise ArchiveError(
            f"invalid archive: layer {name} is compressed with bzip2 or xz, "
            "which pynerd cannot unpack; recompress it with gzip or zstd"
        )
    return mf.OCI_LAYER


def _from_docker_item(archive: _Archive, item: dict[str, Any]) -> _LoadImage:
    """An image of ``manifest.json``, with an OCI manifest built from its config and layers."""
    config_name = item.get("Config")
    layer_names = item.get("Layers") or []
    if not isinstance(config_name, str) or not isinstance(layer_names, list):
        raise ArchiveError("invalid archive: manifest.json entry without Config or Layers")
    config_entry = archive.get(config_name, "image config")
    config_bytes = archive.read(config_entry, f"image config {config_name}")
    stem = posixpath.basename(config_name).removesuffix(".json")
    if re.fullmatch(r"[0-9a-f]{64}", stem) and stem != config_entry.digest[7:]:
        raise ArchiveError(
            f"invalid archive: {config_name} is corrupt: its content has "
            f"digest {config_entry.digest}"
        )
    config = mf.load_json(config_bytes, f"image config {config_name}")
    diff_ids = mf.config_diff_ids(config)
    if len(diff_ids) != len(layer_names):
        raise ArchiveError(
            f"invalid archive: {len(layer_names)} layers listed for image "
            f"config {config_name}, which has {len(diff_ids)} diff IDs"
        )
    layers = []
    for name, diff_id in zip(layer_names, diff_ids, strict=True):
        entry = archive.get(name, "layer")
        media_type = _layer_type(archive.head(entry), name)
        if media_type == mf.OCI_LAYER and entry.digest != diff_id:
            raise ArchiveError(
                f"invalid archive: layer {name} is corrupt: its digest is "
                f"{entry.digest}, the image config lists {diff_id}"
            )
        layers.append({"mediaType": media_type, "digest": entry.digest, "size": entry.size})
    image_id = config_entry.digest
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": mf.OCI_MANIFEST,
            "config": {"mediaType": mf.OCI_CONFIG, "digest": image_id, "size": len(config_bytes)},
            "layers": layers,
        }
    )
    desc = {"mediaType": mf.OCI_MANIFEST, "digest": sha256_digest(manifest), "size": len(manifest)}
    return _LoadImage(
        [], desc, dict(desc), layers, image_id, config, pending=(config_bytes, manifest)
    )


def _store_pending(archive: _Archive, image: _LoadImage) -> None:
    """Commit a Docker archive image's spooled files, config and built manifest."""
    if image.pending is None:
        return
    config_bytes, manifest = image.pending
    by_digest = {e.digest: e for e in archive.files.values() if e.path is not None}
    for layer in image.layers:
        entry = by_digest.get(layer["digest"])
        if entry is not None and entry.path is not None:
            commit_file(archive.content, entry.path, entry.digest, entry.size)
    archive.content.put(config_bytes, image.config_digest)
    archive.content.put(manifest, image.manifest["digest"])
    image.pending = None


def _plan(archive: _Archive) -> list[_LoadImage]:
    """Every image of the archive: OCI index entries first, then Docker-only entries."""
    from pynerd.registry.reference import parse_reference

    images: list[_LoadImage] = []
    by_manifest: dict[str, _LoadImage] = {}
    index_entry = archive.find("index.json")
    docker_entry = archive.find("manifest.json")
    if index_entry is None and docker_entry is None:
        raise ArchiveError(
            "invalid archive: neither manifest.json nor index.json found "
            "(is this an image archive?)"
        )
    if index_entry is not None:
        index = mf.load_json(archive.read(index_entry, "index.json"), "index.json")
        entries = index.get("manifests") or []
        if not isinstance(entries, list):
            raise ArchiveError("invalid archive: index.json has no manifests list")
        for entry in entries:
            if (entry.get("annotations") or {}).get("vnd.docker.reference.type"):
                continue
            image = _from_descriptor(archive.content, entry)
            known = by_manifest.get(image.target["digest"])
            if known is None:
                known = by_manifest[image.target["digest"]] = image
                images.append(image)
            known.add_names(_entry_names(entry))
    if docker_entry is not None:
        try:
            items = json.loads(archive.read(docker_entry, "manifest.json"))
        except ValueError as e:
            raise ArchiveError(f"invalid archive: manifest.json: {e}") from None
        if not isinstance(items, list):
            raise ArchiveError("invalid archive: manifest.json is not a list")
        for item in items:
            if not isinstance(item, dict):
                raise ArchiveError("invalid archive: manifest.json entry is not an object")
            tags = []
            for tag in item.get("RepoTags") or []:
                try:
                    tags.append(str(parse_reference(tag)))
                except InvalidArgument as e:
                    raise ArchiveError(f"invalid archive: RepoTag {tag!r}: {e.message}") from None
            config_entry = archive.get(str(item.get("Config")), "image config")
            known = next((i for i in images if i.config_digest == config_entry.digest), None)
            if known is not None and len(known.layers) == len(mf.config_diff_ids(known.config)):
                known.add_names(tags)
                continue
            image = _from_docker_item(archive, item)
            image.add_names(tags)
            if known is not None:  # an index manifest without its layers (Docker 25.0)
                known.target, known.manifest = image.target, image.manifest
                known.layers, known.pending = image.layers, image.pending
                known.add_names(tags)
            else:
                images.append(image)
    return images


# -- load -------------------------------------------------------------------------------


_LOAD_STATUS = {
    "Pulling fs layer": "Loading layer",
    "Extracting": "Loading layer",
    "Pull complete": "Loaded",
    "Download complete": "Loading layer",
}


def _load_events(progress: ProgressFn | None, images: list[_LoadImage]) -> ProgressFn | None:
    """Per-layer unpack events, worded for a load instead of a pull, with layer sizes."""
    if progress is None:
        return None
    sink = progress
    sizes = {short_id(d["digest"]): int(d.get("size") or 0) for i in images for d in i.layers}

    def emit(p: Progress) -> None:
        if p.id:
            status = _LOAD_STATUS.get(p.status, p.status)
            size = sizes.get(p.id, 0)
            done = size if status in ("Loaded", "Already exists") else 0
            sink(Progress(p.id, status, done, size))

    return emit


def load(cfg: Config, inp: BinaryIO, progress: ProgressFn | None = None) -> list[str]:
    """Load every image of the archive read from ``inp``; returns what was loaded.

    Each item is a familiar name (``busybox:latest``) for a tagged image, or the
    image ID (``sha256:…``) for an untagged one, in archive order.
    """
    if _isatty(inp):
        raise InvalidArgument(EMPTY_STDIN)
    from pynerd.images.gc import gc_shared
    from pynerd.images.pull import Puller

    content = ContentStore(cfg.data_root / "content")
    with gc_shared(cfg), spool_dir(cfg, "load") as spool:
        archive = _read_archive(inp, content, spool)
        images = _plan(archive)
        for image in images:
            diff_ids = mf.config_diff_ids(image.config)
            if len(diff_ids) != len(image.layers):
                raise ArchiveError(
                    f"invalid archive: image {image.config_digest} has "
                    f"{len(image.layers)} layers but its config lists "
                    f"{len(diff_ids)} diff IDs"
                )
        for image in images:
            _store_pending(archive, image)
        puller = Puller(cfg, client=None, progress=_load_events(progress, images))
        for image in images:
            puller.unpack(None, image.layers, mf.config_diff_ids(image.config))
        return _record(cfg, images)


def _record(cfg: Config, images: list[_LoadImage]) -> list[str]:
    from pynerd.images.manage import _keep_dangling
    from pynerd.images.platforms import host_platform
    from pynerd.images.pull import _config_platform, now_rfc3339
    from pynerd.images.view import familiar

    store = ImageStore(cfg.namespace_root)
    now = now_rfc3339()
    loaded: list[str] = []
    for image in images:
        base = {
            "Target": image.target,
            "Manifest": image.manifest,
            "Config": image.config_digest,
            "Platform": str(_config_platform(image.config, host_platform())),
        }
        if not image.names:
            if not store.by_id(image.config_digest):
                store.put(
                    {
                        "Name": image.config_digest,
                        **base,
                        "Created": now,
                        "Updated": now,
                        "Dangling": True,
                    }
                )
            loaded.append(image.config_digest)
            continue
        for name in image.names:
            old = store.get(name)
            store.put(
                {"Name": name, **base, "Created": (old or {}).get("Created") or now, "Updated": now}
            )
            if old is not None and old["Config"] != image.config_digest:
                _keep_dangling(store, old)
            loaded.append(familiar(name))
        stale = store.get(image.config_digest)
        if stale is not None and stale.get("Dangling"):
            store.delete(image.config_digest)  # it has a name now
    return loaded


def load_file(cfg: Config, path: Path, progress: ProgressFn | None = None) -> list[str]:
    """``load -i FILE``."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise NotFound(f"open {path}: no such file or directory") from None
    except IsADirectoryError:
        raise InvalidArgument(f"read {path}: is a directory") from None
    with f:
        return load(cfg, f, progress)
