"""``pull``: resolve a reference, fetch what is missing, unpack layers into snapshots.

Speed comes from doing everything at once: layers download in parallel
(``max_concurrent``), and each one is decompressed and extracted *while* it
streams in: the downloader writes every chunk both to the content store's
ingest file and into a pipe read by that layer's extractor (a chrooted child
process, see :mod:`pynerd.images.apply`), so the cores work in parallel and
the blob is never read twice. Snapshotters that need the parent's content to
apply a layer (native) get downloads in parallel and extraction in order.

Nothing half-done becomes visible: blobs are committed only after their digest
checks out, snapshots only after the layer's diff ID matches the config, and
the image record is written last.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pynerd.config import Config
from pynerd.content.store import ContentStore, DigestMismatch
from pynerd.errors import PynerdError
from pynerd.images import manifest as mf
from pynerd.images.events import Progress, ProgressFn, short_id, silent
from pynerd.images.platforms import Platform, host_platform, parse_platform
from pynerd.images.store import ImageStore

CHUNK = 1 << 20
SIZE_LABEL = "pynerd.size"  # snapshot label: the layer's unpacked size in bytes


@dataclass(frozen=True)
class PullOptions:
    reference: str
    platform: str | None = None
    all_platforms: bool = False
    max_concurrent: int = 4


@dataclass(frozen=True)
class PullResult:
    name: str  # canonical reference stored, e.g. docker.io/library/busybox:latest
    digest: str  # what the name resolved to (index or manifest digest)
    image_id: str  # config digest
    downloaded: bool


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


class Puller:
    """One pull; holds the stores and the registry client it needs."""

    def __init__(self, cfg: Config, client: Any = None, progress: ProgressFn | None = None) -> None:
        from pynerd.snapshots import get_snapshotter

        self.cfg = cfg
        self.content = ContentStore(cfg.data_root / "content")
        self.snapshotter = get_snapshotter(
            cfg.snapshotter, cfg.data_root / "snapshots" / cfg.snapshotter
        )
        self.images = ImageStore(cfg.namespace_root)
        self._client = client
        self.progress = progress or silent
        self.downloaded = False
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The registry client, created on first use: load and import never need one."""
        if self._client is None:
            from pynerd.registry.client import RegistryClient

            self._client = RegistryClient(self.cfg)
        return self._client

    def emit(self, layer: str, status: str, current: int = 0, total: int = 0) -> None:
        with self._lock:
            self.progress(Progress(layer, status, current, total))

    # -- manifests ---------------------------------------------------------

    def fetch_manifest(self, ref: Any, digest: str) -> bytes:
        if self.content.exists(digest):
            return self.content.read(digest)
        data: bytes = self.client.fetch_manifest(ref, digest)
        self.content.put(data, digest)
        return data

    def fetch_small_blob(self, ref: Any, desc: dict[str, Any]) -> bytes:
        digest = desc["digest"]
        if not self.content.exists(digest):
            with self.content.writer(digest, desc.get("size")) as w:
                if w is not None:
                    self._download_into(ref, digest, w, sinks=())
                    w.commit()
                    self.downloaded = True
        return self.content.read(digest)

    # -- layers ------------------------------------------------------------

    def _download_into(
        self,
        ref: Any,
        digest: str,
        w: Any,
        sinks: Iterable[Any],
        layer_id: str = "",
        total: int = 0,
    ) -> None:
        """Stream the blob from the registry into the ingest writer and every sink."""
        sinks = list(sinks)
        with self.client.fetch_blob(ref, digest, offset=w.offset) as reader:
            if reader.offset == 0 and w.offset:
                w.reset()  # the registry ignored Range: start over
            for chunk in w.partial():
                for s in sinks:
                    s(chunk)
            last = 0.0
            for chunk in reader.iter_chunks(CHUNK):
                w.write(chunk)
                for s in sinks:
                    s(chunk)
                if layer_id and time.monotonic() - last > 0.1:
                    last = time.monotonic()
                    self.emit(layer_id, "Downloading", w.offset, total)
        if layer_id:
            self.emit(layer_id, "Verifying Checksum")

    def _stream_layer(self, ref: Any, desc: dict[str, Any], sink: Any) -> None:
        """Feed the layer's compressed bytes to ``sink``: from the store, or the registry."""
        digest, size, lid = desc["digest"], int(desc.get("size") or 0), short_id(desc["digest"])
        with self.content.writer(digest, size or None) as w:
            if w is None:
                with self.content.open(digest) as f:
                    while chunk := f.read(CHUNK):
                        sink(chunk)
                return
            self._download_into(ref, digest, w, [sink], lid, size)
            w.commit()
            self.downloaded = True
        self.emit(lid, "Download complete")

    def _apply_streaming(
        self, ref: Any, desc: dict[str, Any], parent: str | None, diff_id: str
    ) -> Any:
        """Download and extract one layer at once; returns the staged layer."""
        from pynerd.images.apply import apply_layer

        stage = self.snapshotter.begin_layer(parent)
        try:
            rfd, wfd = os.pipe()
            result: dict[str, Any] = {}

            def extract() -> None:
                try:
                    result["applied"] = apply_layer(
                        rfd, desc["mediaType"], stage.path, self.snapshotter.whiteouts
                    )
                except BaseException as e:
                    result["error"] = e
                finally:
                    os.close(rfd)

            t = threading.Thread(target=extract, name=f"extract-{short_id(desc['digest'])}")
            t.start()
            try:
                self._stream_layer(ref, desc, _pipe_writer(wfd))
            except BrokenPipeError:
                pass  # the extractor stopped early; its error is reported below
            finally:
                os.close(wfd)
                t.join()
            if "error" in result:
                raise result["error"]
            applied = result["applied"]
            if applied.diff_id != diff_id:
                raise DigestMismatch(
                    f"layer {desc['digest']}: uncompressed digest {applied.diff_id} does not "
                    f"match the image config's diff ID {diff_id}"
                )
            return stage, applied.size
        except BaseException:
            self.snapshotter.abort_layer(stage)
            raise

    def unpack(self, ref: Any, layers: list[dict[str, Any]], diff_ids: list[str]) -> None:
        if len(layers) != len(diff_ids):
            raise PynerdError(
                f"image has {len(layers)} layers but its config lists {len(diff_ids)} diff IDs"
            )
        chains = mf.chain_ids(diff_ids)
        todo: list[int] = []
        blobs_only: list[int] = []  # unpacked already, but push and save need the blob too
        for i, (desc, chain) in enumerate(zip(layers, chains, strict=True)):
            lid = short_id(desc["digest"])
            if self.snapshotter.exists(chain):
                self.emit(lid, "Already exists")
                if not self.content.exists(desc["digest"]):
                    blobs_only.append(i)
            else:
                self.emit(lid, "Pulling fs layer")
                todo.append(i)
        if blobs_only:
            with ThreadPoolExecutor(max_workers=self.cfg_concurrency) as pool:
                for f in [
                    pool.submit(self._stream_layer, ref, layers[i], _discard) for i in blobs_only
                ]:
                    f.result()
        if not todo:
            return
        workers = max(1, min(self.cfg_concurrency, len(todo)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pull") as pool:
            if self.snapshotter.parallel_apply:
                futures: dict[int, Future[Any]] = {
                    i: pool.submit(
                        self._apply_streaming,
                        ref,
                        layers[i],
                        chains[i - 1] if i else None,
                        diff_ids[i],
                    )
                    for i in todo
                }
                self._commit_in_order(futures, layers, chains)
            else:
                downloads = {
                    i: pool.submit(self._stream_layer, ref, layers[i], _discard) for i in todo
                }
                for i in todo:
                    downloads[i].result()
                    self._apply_from_store(layers[i], chains, i, diff_ids[i])

    cfg_concurrency = 4

    def _commit_in_order(
        self, futures: dict[int, Future[Any]], layers: list[dict[str, Any]], chains: list[str]
    ) -> None:
        error: BaseException | None = None
        for i in sorted(futures):
            try:
                stage, size = futures[i].result()
            except BaseException as e:
                error = error or e
                continue
            if error is not None:
                self.snapshotter.abort_layer(stage)
                continue
            self.snapshotter.commit_layer(
                stage, chains[i], chains[i - 1] if i else None, {SIZE_LABEL: str(size)}
            )
            self.emit(short_id(layers[i]["digest"]), "Pull complete")
        if error is not None:
            raise error

    def _apply_from_store(
        self, desc: dict[str, Any], chains: list[str], i: int, diff_id: str
    ) -> None:
        from pynerd.images.apply import apply_layer

        lid = short_id(desc["digest"])
        self.emit(lid, "Extracting")
        parent = chains[i - 1] if i else None
        stage = self.snapshotter.begin_layer(parent)
        try:
            with self.content.open(desc["digest"]) as f:
                applied = apply_layer(
                    f.fileno(), desc["mediaType"], stage.path, self.snapshotter.whiteouts
                )
            if applied.diff_id != diff_id:
                raise DigestMismatch(
                    f"layer {desc['digest']}: uncompressed digest {applied.diff_id} does not "
                    f"match the image config's diff ID {diff_id}"
                )
        except BaseException:
            self.snapshotter.abort_layer(stage)
            raise
        self.snapshotter.commit_layer(stage, chains[i], parent, {SIZE_LABEL: str(applied.size)})
        self.emit(lid, "Pull complete")

    def fetch_only(self, ref: Any, descs: Iterable[dict[str, Any]]) -> None:
        """Fetch blobs into the content store without unpacking (other platforms)."""
        for desc in descs:
            self._stream_layer(ref, desc, _discard)

    # -- the whole pull ------------------------------------------------------

    def pull(self, opts: PullOptions) -> PullResult:
        from pynerd.registry.reference import parse_reference

        ref = parse_reference(opts.reference)
        self.cfg_concurrency = max(1, opts.max_concurrent)
        wanted = parse_platform(opts.platform) if opts.platform else host_platform()
        if ref.tag is None and ref.digest is None:
            self.emit("", "Using default tag: latest")
        desc, body = self.client.resolve(ref)
        target: dict[str, Any] = {
            "mediaType": desc.media_type,
            "digest": desc.digest,
            "size": desc.size,
        }
        self.emit("", f"{ref.tag or ref.digest or 'latest'}: Pulling from {ref.repository_path}")
        previous = self.images.get(_record_name(ref))
        if not self.content.exists(desc.digest):
            self.content.put(body, desc.digest)
        media_type = mf.media_type_of(body, desc.media_type)
        if media_type in mf.INDEX_TYPES:
            if opts.all_platforms:
                self._pull_other_platforms(ref, body, wanted)
            entry = mf.choose_platform(body, wanted, str(ref))
            manifest_desc: dict[str, Any] = {
                k: entry[k] for k in ("mediaType", "digest", "size") if k in entry
            }
            manifest_bytes = self.fetch_manifest(ref, entry["digest"])
            manifest_type = mf.media_type_of(manifest_bytes, entry.get("mediaType"))
        else:
            manifest_desc, manifest_bytes, manifest_type = target, body, media_type
        manifest = mf.parse_manifest(manifest_bytes, manifest_type)
        config = mf.load_json(self.fetch_small_blob(ref, manifest.config), "image config")
        self.unpack(ref, manifest.layers, mf.config_diff_ids(config))
        record = {
            "Name": _record_name(ref),
            "Target": target,
            "Manifest": manifest_desc,
            "Config": manifest.config["digest"],
            "Platform": str(_config_platform(config, wanted)),
            "Created": (previous or {}).get("Created") or now_rfc3339(),
            "Updated": now_rfc3339(),
        }
        self.images.put(record)
        self.emit("", f"Digest: {desc.digest}")
        fresh = self.downloaded or previous is None or previous.get("Target") != target
        familiar = ref.familiar()
        self.emit(
            "",
            f"Status: Downloaded newer image for {familiar}"
            if fresh
            else f"Status: Image is up to date for {familiar}",
        )
        return PullResult(record["Name"], desc.digest, record["Config"], fresh)

    def _pull_other_platforms(self, ref: Any, index: bytes, wanted: Platform) -> None:
        for entry in mf.index_entries(index):
            if wanted.matches(entry.get("platform")):
                continue
            data = self.fetch_manifest(ref, entry["digest"])
            mt = mf.media_type_of(data, entry.get("mediaType"))
            if mt in mf.INDEX_TYPES:
                continue
            m = mf.parse_manifest(data, mt)
            self.fetch_small_blob(ref, m.config)
            self.fetch_only(ref, m.layers)


def _discard(_: bytes) -> None:
    """A sink for blobs that are only stored, not extracted."""


def _record_name(ref: Any) -> str:
    return str(ref)


def _config_platform(config: dict[str, Any], wanted: Platform) -> Platform:
    from pynerd.images.platforms import normalize

    if config.get("architecture"):
        return normalize(
            Platform(
                config.get("os") or "linux", config["architecture"], config.get("variant") or ""
            )
        )
    return wanted


def _pipe_writer(fd: int) -> Any:
    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]

    return write


def pull(
    cfg: Config, opts: PullOptions, progress: ProgressFn | None = None, client: Any = None
) -> PullResult:
    """Pull ``opts.reference`` into the namespace's image store."""
    from pynerd.images.gc import gc_shared

    with gc_shared(cfg):
        return Puller(cfg, client, progress).pull(opts)
