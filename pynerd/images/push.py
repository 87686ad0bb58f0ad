"""``push``: upload an image's blobs and manifests to its registry.

Blobs the registry already has are skipped (HEAD), blobs another repository of
the same registry holds are mounted across repositories instead of uploaded,
and everything else is uploaded in parallel. Manifests go last, children
before the index that names them, so the registry never serves a manifest
whose content is missing.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pynerd.config import Config
from pynerd.content.store import ContentStore
from pynerd.errors import NotFound
from pynerd.images import manifest as mf
from pynerd.images.events import Progress, ProgressFn, short_id, silent
from pynerd.images.store import ImageStore


@dataclass(frozen=True)
class PushOptions:
    reference: str
    all_tags: bool = False
    max_concurrent: int = 4


@dataclass(frozen=True)
class PushResult:
    name: str
    tag: str
    digest: str
    size: int


class Pusher:
    def __init__(self, cfg: Config, client: Any = None, progress: ProgressFn | None = None) -> None:
        self.cfg = cfg
        self.content = ContentStore(cfg.data_root / "content")
        self.images = ImageStore(cfg.namespace_root)
        if client is None:
            from pynerd.registry.client import RegistryClient

            client = RegistryClient(cfg)
        self.client = client
        self.progress = progress or silent
        self._lock = threading.Lock()

    def emit(self, layer: str, status: str, current: int = 0, total: int = 0) -> None:
        with self._lock:
            self.progress(Progress(layer, status, current, total))

    def _mount_candidates(self, ref: Any, digest: str) -> list[str]:
        """Other repositories on the same registry that hold ``digest`` (by our records)."""
        from pynerd.registry.reference import parse_reference

        out = []
        for r in self.images.list():
            if r.get("Dangling"):
                continue
            other = parse_reference(r["Name"])
            if other.domain != ref.domain or other.path == ref.path:
                continue
            try:
                data = self.content.read(r["Manifest"]["digest"])
                m = mf.parse_manifest(data, mf.media_type_of(data))
            except Exception:
                continue
            if digest == m.config["digest"] or any(x["digest"] == digest for x in m.layers):
                out.append(other.path)
        return sorted(set(out))

    def _push_blob(self, ref: Any, desc: dict[str, Any], show: bool) -> None:
        digest, size = desc["digest"], int(desc.get("size") or self.content.size(desc["digest"]))
        lid = short_id(digest)
        if self.client.blob_exists(ref, digest) is not None:
            if show:
                self.emit(lid, "Layer already exists")
            return
        candidates = self._mount_candidates(ref, digest)
        if show:
            self.emit(lid, "Pushing", 0, size)
        self.client.push_blob(
            ref, digest, size, lambda: self.content.open(digest), mount_from=candidates
        )
        if show:
            self.emit(lid, "Pushed", size, size)

    def _push_manifest_tree(self, ref: Any, manifest_desc: dict[str, Any]) -> None:
        """Config and layers of one manifest, then the manifest by digest."""
        data = self.content.read(manifest_desc["digest"])
        m = mf.parse_manifest(data, mf.media_type_of(data, manifest_desc.get("mediaType")))
        for layer in m.layers:
            self.emit(short_id(layer["digest"]), "Preparing")
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="push") as pool:
            futures = [pool.submit(self._push_blob, ref, layer, True) for layer in m.layers]
            futures.append(pool.submit(self._push_blob, ref, m.config, False))
            for f in futures:
                f.result()

    def push_one(self, name: str) -> PushResult:
        from pynerd.registry.reference import parse_reference

        record = self.images.get(name)
        ref = parse_reference(name)
        if record is None:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        target = record["Target"]
        body = self.content.read(target["digest"])
        media_type = mf.media_type_of(body, target.get("mediaType"))
        if media_type in mf.INDEX_TYPES:
            children = [e for e in mf.index_entries(body) if self.content.exists(e["digest"])]
            complete = len(children) == len(mf.index_entries(body)) and all(
                self._manifest_complete(e) for e in children
            )
            if complete:
                for e in children:
                    self._push_manifest_tree(ref, e)
                    self.client.put_manifest(
                        parse_reference(f"{ref.name}@{e['digest']}"),
                        self.content.read(e["digest"]),
                        e["mediaType"],
                    )
            else:  # only this platform was pulled: push its manifest under the tag
                target = record["Manifest"]
                body = self.content.read(target["digest"])
                media_type = mf.media_type_of(body, target.get("mediaType"))
                self._push_manifest_tree(ref, target)
        else:
            self._push_manifest_tree(ref, target)
        digest = self.client.put_manifest(ref, body, media_type)
        tag = ref.tag or "latest"
        self.emit("", f"{tag}: digest: {digest} size: {len(body)}")
        return PushResult(str(ref), tag, digest, len(body))

    def _manifest_complete(self, entry: dict[str, Any]) -> bool:
        try:
            data = self.content.read(entry["digest"])
            m = mf.parse_manifest(data, mf.media_type_of(data, entry.get("mediaType")))
        except Exception:
            return False
        return all(self.content.exists(d["digest"]) for d in [m.config, *m.layers])

    def push(self, opts: PushOptions) -> list[PushResult]:
        from pynerd.registry.reference import parse_reference

        ref = parse_reference(opts.reference)
        self.emit("", f"The push refers to repository [{ref.name}]")
        if opts.all_tags and ref.tag is None:
            names = sorted(
                r["Name"]
                for r in self.images.list()
                if not r.get("Dangling")
                and "@" not in r["Name"]
                and parse_reference(r["Name"]).name == ref.name
            )
            if not names:
                raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
            return [self.push_one(n) for n in names]
        return [self.push_one(str(ref))]


def push(
    cfg: Config, opts: PushOptions, progress: ProgressFn | None = None, client: Any = None
) -> list[PushResult]:
    return Pusher(cfg, client, progress).push(opts)
