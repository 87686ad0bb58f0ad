"""Fixture images built locally and pushed to the rig registry over its HTTP API.

There is no internet, so every image pynerd's tests pull is made here from
Debian's busybox-static. Tars are deterministic (fixed mtimes, no user names, entries in a
fixed order, gzip mtime 0), so digests are stable across runs and machines with the same
busybox binary; tests may therefore compare digests, not just "something was pulled".

Builders return :class:`BuiltImage` / :class:`BuiltIndex`. ``python -m tests.rig.images
--push-large HOST:PORT`` pushes the benchmark image to a running registry and prints its ref.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import posixpath
import random
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from tests.rig.registry import (
    MT_DOCKER_LIST,
    MT_DOCKER_MANIFEST,
    MT_OCI_INDEX,
    MT_OCI_MANIFEST,
    Registry,
    sha256_digest,
)

# Bump when any builder's output changes: it names the on-disk cache directory.
BUILDER_VERSION = "v1"
BUSYBOX = "/bin/busybox"
MTIME = 1_700_000_000  # 2023-11-14T22:13:20Z: fixed so layer digests are reproducible
CREATED = "2023-11-14T22:13:20Z"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

Kind = Literal["file", "dir", "symlink", "hardlink", "fifo"]


# --------------------------------------------------------------------------------------------
# data model
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Platform:
    """An OCI platform; ``str()`` gives the ``os/arch[/variant]`` form users type."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    def to_json(self) -> dict[str, str]:
        d = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            d["variant"] = self.variant
        return d


def host_platform() -> Platform:
    """The platform images must have for runc to run them here."""
    machine = platform.machine()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        machine, machine
    )
    return Platform("linux", arch, "v8" if arch == "arm64" else None)


@dataclass(frozen=True)
class Entry:
    """One tar entry, and equally one node of an expected unpacked tree.

    ``path`` is relative without a leading slash in layers; tree keys are absolute.
    ``mode`` holds permission bits only (incl. setuid/sticky), compare with S_IMODE.
    ``link`` is the symlink target, or for hardlinks the (relative) path linked to.
    """

    path: str
    kind: Kind
    mode: int
    uid: int = 0
    gid: int = 0
    data: bytes = b""
    link: str = ""


@dataclass(frozen=True)
class LayerInfo:
    """A pushed layer: compressed ``digest``/``size`` and uncompressed ``diff_id``."""

    digest: str
    diff_id: str
    size: int
    media_type: str = MT_DOCKER_LAYER


@dataclass
class BuiltImage:
    """A single-platform image as pushed; ``ref`` is ``127.0.0.1:PORT/repo:tag``.

    ``rootfs_tar`` (busybox only) is the uncompressed layer, for ``pynerd import`` tests.
    ``expected_tree`` maps absolute paths to :class:`Entry` for the fully unpacked image.
    ``variants`` holds the same image pushed in another format (e.g. ``"oci"``).
    """

    repo: str
    tag: str
    ref: str
    manifest_digest: str
    config_digest: str
    layers: list[LayerInfo]
    media_type: str
    platform: Platform
    manifest: bytes
    config: bytes
    rootfs_tar: bytes | None = None
    expected_tree: dict[str, Entry] = field(default_factory=dict)
    variants: dict[str, BuiltImage] = field(default_factory=dict)

    @property
    def digest_ref(self) -> str:
        """``127.0.0.1:PORT/repo@sha256:...``."""
        return f"{self.ref.rsplit(':', 1)[0]}@{self.manifest_digest}"

    @property
    def config_json(self) -> dict[str, Any]:
        return dict(json.loads(self.config))

    @property
    def compressed_size(self) -> int:
        return sum(layer.size for layer in self.layers)


@dataclass
class BuiltIndex:
    """A multi-platform image: an OCI index or Docker manifest list and its children."""

    repo: str
    tag: str
    ref: str
    digest: str
    media_type: str
    raw: bytes
    images: list[BuiltImage]
    variants: dict[str, BuiltIndex] = field(default_factory=dict)

    @property
    def platforms(self) -> list[Platform]:
        return [i.platform for i in self.images]

    def for_platform(self, plat: Platform | str) -> BuiltImage:
        for image in self.images:
            if str(image.platform) == str(plat):
                return image
        raise KeyError(str(plat))


# --------------------------------------------------------------------------------------------
# tar / layer helpers
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """A built (not yet pushed) layer."""

    tar: bytes
    blob: bytes
    diff_id: str
    digest: str

    @classmethod
    def from_tar(cls, tar: bytes, level: int = 6) -> Layer:
        blob = gzip.compress(tar, compresslevel=level, mtime=0)
        return cls(tar, blob, sha256_digest(tar), sha256_digest(blob))


_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def make_tar(entries: list[Entry]) -> bytes:
    """Deterministic PAX tar of ``entries``, written in the given order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.path)
            info.type = _TAR_TYPES[e.kind]
            info.mode = e.mode
            info.uid, info.gid = e.uid, e.gid
            info.uname = info.gname = ""
            info.mtime = MTIME
            info.linkname = e.link
            if e.kind == "file":
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def d(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, "dir", mode, uid, gid)


def f(path: str, data: bytes | str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Entry:
    raw = data.encode() if isinstance(data, str) else data
    return Entry(path, "file", mode, uid, gid, raw)


def whiteout(path: str) -> Entry:
    """OCI whiteout deleting ``path`` from lower layers (``dir/.wh.name``)."""
    parent, name = posixpath.split(path)
    return f(posixpath.join(parent, ".wh." + name), b"", 0o644)


def opaque(directory: str) -> Entry:
    """OCI opaque marker: hide everything lower layers put in ``directory``."""
    return f(posixpath.join(directory, ".wh..wh..opq"), b"", 0o644)


def apply_layers(layers: list[list[Entry]]) -> dict[str, Entry]:
    """The tree a correct unpacker produces, keyed by absolute path.

    Whiteouts in a layer only hide lower layers' content, so they are applied first,
    then the layer's other entries. Hardlinks keep kind ``hardlink`` and carry the data.
    """
    tree: dict[str, Entry] = {}
    for entries in layers:
        for e in entries:
            parent, name = posixpath.split("/" + e.path)
            if name == ".wh..wh..opq":
                prefix = parent.rstrip("/") + "/"
                for p in [p for p in tree if p.startswith(prefix)]:
                    del tree[p]
            elif name.startswith(".wh."):
                gone = posixpath.join(parent, name[4:])
                for p in [p for p in tree if p == gone or p.startswith(gone + "/")]:
                    del tree[p]
        for e in entries:
            name = posixpath.basename(e.path)
            if name.startswith(".wh."):
                continue
            node = e
            if e.kind == "hardlink":
                target = tree["/" + e.link]
                node = Entry(
                    e.path, "hardlink", target.mode, target.uid, target.gid, target.data, e.link
                )
            tree["/" + e.path] = node
    return tree


# --------------------------------------------------------------------------------------------
# busybox
# --------------------------------------------------------------------------------------------
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n"
INDEX_HTML = "<html><body><h1>pynerd test rig</h1><p>served from busybox</p></body></html>\n"


@lru_cache(maxsize=1)
def busybox_sha256() -> str:
    with open(BUSYBOX, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


@lru_cache(maxsize=1)
def busybox_entries() -> tuple[Entry, ...]:
    """Rootfs entries: /bin/busybox, ``bin/<applet> -> busybox`` symlinks, minimal /etc."""
    applets = subprocess.run(
        [BUSYBOX, "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    binary = Path(BUSYBOX).read_bytes()
    entries = [
        d("bin"),
        f("bin/busybox", binary, 0o755),
        *(
            Entry(f"bin/{a}", "symlink", 0o777, link="busybox")
            for a in sorted(set(applets))
            if a != "busybox" and "/" not in a
        ),
        d("dev"),
        d("etc"),
        f("etc/group", GROUP),
        f("etc/passwd", PASSWD),
        d("home"),
        d("proc", 0o555),
        d("root", 0o700),
        d("sys", 0o555),
        d("tmp", 0o1777),
        d("var"),
        d("var/www"),
        f("var/www/index.html", INDEX_HTML),
    ]
    return tuple(entries)


@lru_cache(maxsize=1)
def busybox_layer() -> Layer:
    return Layer.from_tar(make_tar(list(busybox_entries())))


def image_config(
    plat: Platform,
    diff_ids: list[str],
    history: list[str],
    cmd: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """Image config JSON (Docker and OCI share the format we need)."""
    cfg: dict[str, Any] = {"Env": [DEFAULT_PATH], "Cmd": cmd or ["sh"]}
    cfg.update(extra or {})
    doc: dict[str, Any] = {
        "created": CREATED,
        **plat.to_json(),
        "config": cfg,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": h} for h in history],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def push_image(
    reg: Registry,
    repo: str,
    tag: str | None,
    layers: list[Layer],
    config: bytes,
    plat: Platform,
    oci: bool = False,
) -> BuiltImage:
    """Push blobs, then the manifest (by tag, or by digest only when ``tag`` is None)."""
    layer_mt = MT_OCI_LAYER if oci else MT_DOCKER_LAYER
    config_digest = reg.push_blob(repo, config)
    infos = []
    for layer in layers:
        reg.push_blob(repo, layer.blob)
        infos.append(LayerInfo(layer.digest, layer.diff_id, len(layer.blob), layer_mt))
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": MT_OCI_MANIFEST if oci else MT_DOCKER_MANIFEST,
        "config": {
            "mediaType": MT_OCI_CONFIG if oci else MT_DOCKER_CONFIG,
            "size": len(config),
            "digest": config_digest,
        },
        "layers": [{"mediaType": i.media_type, "size": i.size, "digest": i.digest} for i in infos],
    }
    body = json.dumps(manifest, indent=3).encode()
    media_type = str(manifest["mediaType"])
    digest = reg.push_manifest(repo, tag or sha256_digest(body), body, media_type)
    ref = f"{reg.host}/{repo}:{tag}" if tag else f"{reg.host}/{repo}@{digest}"
    return BuiltImage(
        repo=repo,
        tag=tag or "",
        ref=ref,
        manifest_digest=digest,
        config_digest=config_digest,
        layers=infos,
        media_type=media_type,
        platform=plat,
        manifest=body,
        config=config,
    )


def build_busybox(reg: Registry, repo: str = "busybox", tag: str = "latest") -> BuiltImage:
    """Single-layer busybox image for the host platform; Cmd ``["sh"]``."""
    layer = busybox_layer()
    plat = host_platform()
    config = image_config(plat, [layer.diff_id], ["pynerd-rig: busybox rootfs"])
    image = push_image(reg, repo, tag, [layer], config, plat)
    image.rootfs_tar = layer.tar
    image.expected_tree = apply_layers([list(busybox_entries())])
    return image


# --------------------------------------------------------------------------------------------
# multilayer
# --------------------------------------------------------------------------------------------
LONG_NAME = "data/" + "long-name-" * 12 + "end"  # > 100 chars: needs a PAX path record


def multilayer_layers() -> list[list[Entry]]:
    """Layers 2-4 (above busybox): every entry kind, then whiteouts and an opaque dir."""
    layer2 = [
        d("data"),
        f("data/a", "alpha\n"),
        f("data/b", "bravo\n"),
        d("data/dir"),
        f("data/dir/x", "x-ray\n"),
        d("data/dir/sub"),
        f("data/dir/sub/y", "yankee\n"),
        f("data/empty", b""),
        Entry("data/fifo", "fifo", 0o644),
        Entry("data/hard", "hardlink", 0o644, link="data/b"),
        Entry("data/link", "symlink", 0o777, link="b"),
        f(LONG_NAME, "long\n"),
        f("data/secret", "s3cret\n", 0o600),
        d("home"),
        d("home/user", 0o750, 1000, 1000),
        f("home/user/owned", "owned by 1000\n", 0o640, 1000, 1000),
        d("opt"),
        d("opt/gone"),
        f("opt/gone/g", "golf\n"),
        d("opt/keep"),
        f("opt/keep/k", "kilo\n"),
        d("usr"),
        d("usr/local"),
        d("usr/local/bin"),
        f("usr/local/bin/suidtool", "#!/bin/sh\necho suid\n", 0o4755),
    ]
    layer3 = [
        d("data"),
        whiteout("data/a"),
        d("opt"),
        d("opt/gone"),
        opaque("opt/gone"),
        f("opt/gone/new", "november\n"),
    ]
    layer4 = [
        d("data"),
        whiteout("data/dir"),
        d("etc"),
        f("etc/motd", "multilayer\n"),
        d("opt"),
        d("opt/keep"),
        f("opt/keep/k", "kilo-v2\n"),
    ]
    return [layer2, layer3, layer4]


def build_multilayer(
    reg: Registry, repo: str = "multilayer", tag: str = "latest", oci_tag: str = "oci"
) -> BuiltImage:
    """busybox + 3 layers, as a Docker v2 manifest; the OCI-manifest twin is in ``variants``."""
    specs = multilayer_layers()
    layers = [busybox_layer(), *(Layer.from_tar(make_tar(s)) for s in specs)]
    plat = host_platform()
    history = [
        "pynerd-rig: busybox rootfs",
        "pynerd-rig: add files of every kind",
        "pynerd-rig: whiteout /data/a, opaque /opt/gone",
        "pynerd-rig: whiteout /data/dir, update /opt/keep/k",
    ]
    config = image_config(
        plat,
        [x.diff_id for x in layers],
        history,
        extra={"Labels": {"org.pynerd.test": "multilayer"}},
    )
    tree = apply_layers([list(busybox_entries()), *specs])
    image = push_image(reg, repo, tag, layers, config, plat)
    image.expected_tree = tree
    oci = push_image(reg, repo, oci_tag, layers, config, plat, oci=True)
    oci.expected_tree = tree
    image.variants["oci"] = oci
    return image


# --------------------------------------------------------------------------------------------
# multiplatform
# --------------------------------------------------------------------------------------------
PLATFORMS = [
    Platform("linux", "amd64"),
    Platform("linux", "arm64", "v8"),
    Platform("linux", "arm", "v7"),
]


def _index(
    reg: Registry, repo: str, tag: str, images: list[BuiltImage], media_type: str
) -> BuiltIndex:
    doc = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [
            {
                "mediaType": i.media_type,
                "size": len(i.manifest),
                "digest": i.manifest_digest,
                "platform": i.platform.to_json(),
            }
            for i in images
        ],
    }
    raw = json.dumps(doc, indent=3).encode()
    digest = reg.push_manifest(repo, tag, raw, media_type)
    return BuiltIndex(repo, tag, f"{reg.host}/{repo}:{tag}", digest, media_type, raw, images)


def build_multiplatform(
    reg: Registry, repo: str = "multiplatform", tag: str = "latest", docker_tag: str = "dockerlist"
) -> BuiltIndex:
    """OCI index of amd64, arm64/v8, arm/v7; the Docker manifest list twin is in ``variants``.

    Each child has ``/platform.txt`` naming its platform; the host's child sits on the
    busybox layer (so it runs, Cmd ``cat /platform.txt``), the others are one layer only.
    """
    host = str(host_platform())
    per_format: dict[bool, list[BuiltImage]] = {True: [], False: []}
    for plat in PLATFORMS:
        top = Layer.from_tar(make_tar([f("platform.txt", f"{plat}\n")]))
        specs = [[f("platform.txt", f"{plat}\n")]]
        layers = [top]
        history = [f"pynerd-rig: platform.txt for {plat}"]
        if str(plat) == host:
            layers.insert(0, busybox_layer())
            specs.insert(0, list(busybox_entries()))
            history.insert(0, "pynerd-rig: busybox rootfs")
        config = image_config(
            plat, [x.diff_id for x in layers], history, cmd=["cat", "/platform.txt"]
        )
        for oci in (True, False):
            image = push_image(reg, repo, None, layers, config, plat, oci=oci)
            image.expected_tree = apply_layers(specs)
            per_format[oci].append(image)
    index = _index(reg, repo, tag, per_format[True], MT_OCI_INDEX)
    index.variants["docker"] = _index(reg, repo, docker_tag, per_format[False], MT_DOCKER_LIST)
    return index


# --------------------------------------------------------------------------------------------
# large (benchmarks)
# --------------------------------------------------------------------------------------------
LARGE_LAYERS = 5
# Shaped like a real application layer, so decompression and extraction cost what they
# cost in the field: many small, compressible source-like files plus a few large
# binaries that are half incompressible. Per layer ~46 MB unpacked, ~20 MB gzipped.
LARGE_SMALL_FILES = 1500
LARGE_BINARIES = 6
LARGE_BINARY_SIZE = 5_000_000
LARGE_SEED = 20261126
_WORDS = [
    "def",
    "return",
    "self",
    "import",
    "class",
    "value",
    "config",
    "layer",
    "image",
    "name",
    "for",
    "in",
    "if",
    "else",
    "None",
    "True",
    "False",
    "data",
    "path",
    "open",
    "read",
    "write",
    "error",
    "raise",
    "with",
    "as",
    "from",
    "pynerd",
    "index",
    "digest",
    "size",
]


def cache_dir() -> Path:
    """``$PYNERD_TEST_CACHE/<BUILDER_VERSION>`` (default base /var/tmp/pynerd-test-cache)."""
    base = os.environ.get("PYNERD_TEST_CACHE", "/var/tmp/pynerd-test-cache")
    return Path(base) / BUILDER_VERSION


def _text(rng: random.Random, size: int) -> bytes:
    vocab = _WORDS + [f"ident_{rng.randrange(4000)}" for _ in range(64)]
    out = " ".join(rng.choices(vocab, k=size // 5)).encode()
    return out[:size]


def _half_random(rng: random.Random, size: int) -> bytes:
    block = 4096
    parts = []
    for k in range(size // block):
        parts.append(rng.randbytes(block) if k % 2 else bytes([k % 251]) * block)
    return b"".join(parts)


def _large_layer_spec(i: int) -> list[Entry]:
    rng = random.Random(LARGE_SEED + i)
    entries = [d("large"), d(f"large/{i}"), d(f"large/{i}/src"), d(f"large/{i}/bin")]
    for j in range(LARGE_SMALL_FILES):
        entries.append(f(f"large/{i}/src/m{j:04d}.py", _text(rng, rng.randrange(1000, 20000))))
    for j in range(LARGE_BINARIES):
        entries.append(f(f"large/{i}/bin/b{j}.so", _half_random(rng, LARGE_BINARY_SIZE)))
    return entries


def _large_layer(i: int, cache: Path) -> Layer:
    """Layer ``i`` from the cache if its digest checks out, else built (gzip -1) and stored.

    The content does not depend on busybox, so the cache key is just the builder version
    and layer parameters; the cheap busybox layer is always rebuilt fresh.
    """
    stem = f"large-v2-{i}-{LARGE_SEED}-{LARGE_SMALL_FILES}-{LARGE_BINARIES}x{LARGE_BINARY_SIZE}"
    blob_path, meta_path = cache / f"{stem}.tar.gz", cache / f"{stem}.json"
    try:
        meta = json.loads(meta_path.read_text())
        blob = blob_path.read_bytes()
        if sha256_digest(blob) == meta["digest"]:
            return Layer(b"", blob, meta["diff_id"], meta["digest"])
    except (OSError, ValueError, KeyError):
        pass
    layer = Layer.from_tar(make_tar(_large_layer_spec(i)), level=1)
    cache.mkdir(parents=True, exist_ok=True)
    for path, content in (
        (blob_path, layer.blob),
        (meta_path, json.dumps({"digest": layer.digest, "diff_id": layer.diff_id}).encode()),
    ):
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
        os.replace(tmp, path)  # atomic: a concurrent run never reads half a blob
    return Layer(b"", layer.blob, layer.diff_id, layer.digest)


def build_large(
    reg: Registry, repo: str = "large", tag: str = "latest", cache: Path | None = None
) -> BuiltImage:
    """busybox + 5 application-like layers (~100 MB compressed), cached on disk."""
    cache = cache or cache_dir()
    layers = [busybox_layer(), *(_large_layer(i, cache) for i in range(LARGE_LAYERS))]
    plat = host_platform()
    history = [
        "pynerd-rig: busybox rootfs",
        *(f"pynerd-rig: large layer {i}" for i in range(LARGE_LAYERS)),
    ]
    config = image_config(plat, [x.diff_id for x in layers], history)
    return push_image(reg, repo, tag, layers, config, plat)


def main(argv: list[str] | None = None) -> int:
    """CLI for benchmarks: push the large image to an already running registry."""
    ap = argparse.ArgumentParser(prog="python -m tests.rig.images", description=__doc__)
    ap.add_argument(
        "--push-large",
        metavar="HOST:PORT",
        required=True,
        help="registry to push the large benchmark image to (http)",
    )
    args = ap.parse_args(argv)
    reg = Registry()
    host, _, port = str(args.push_large).rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        ap.error("expected 127.0.0.1:PORT")
    reg.port = int(port)
    try:
        print(build_large(reg).ref)
    finally:
        reg.session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
