"""Parsing manifests, indexes and image configs; choosing a platform; chain IDs."""

from __future__ import annotations

import json
from typing import Any

from pynerd.errors import InvalidArgument, NotFound
from pynerd.images.platforms import Platform
from pynerd.structs import frozen_record

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
SCHEMA1_TYPES = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)


def load_json(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except ValueError as e:
        raise InvalidArgument(f"invalid {what}: {e}") from None
    if not isinstance(obj, dict):
        raise InvalidArgument(f"invalid {what}: not a JSON object")
    return obj


def media_type_of(data: bytes, header_type: str | None = None) -> str:
    """The manifest's media type: its own field, else the Content-Type, else by shape."""
    obj = load_json(data, "manifest")
    mt = obj.get("mediaType") or header_type or ""
    if mt in SCHEMA1_TYPES or obj.get("schemaVersion") == 1:
        raise InvalidArgument(
            "unsupported manifest media type "
            f"{mt or 'application/vnd.docker.distribution.manifest.v1+json'}: Docker image "
            "manifest schema 1 is deprecated and not supported; repush the image with a "
            "current client"
        )
    if not mt or mt.startswith(("application/json", "text/plain")):
        mt = OCI_INDEX if "manifests" in obj else OCI_MANIFEST if "layers" in obj else ""
    if mt not in INDEX_TYPES + MANIFEST_TYPES:
        raise InvalidArgument(f"unsupported manifest media type {mt!r}")
    return mt


@frozen_record
class Manifest:
    media_type: str
    config: dict[str, Any]
    layers: list[dict[str, Any]]
    annotations: dict[str, str]


def parse_manifest(data: bytes, media_type: str) -> Manifest:
    obj = load_json(data, "manifest")
    config = obj.get("config")
    layers = obj.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list):
        raise InvalidArgument("invalid manifest: missing config or layers")
    return Manifest(media_type, config, layers, obj.get("annotations") or {})


def index_entries(data: bytes) -> list[dict[str, Any]]:
    entries = load_json(data, "index").get("manifests")
    if not isinstance(entries, list):
        raise InvalidArgument("invalid index: missing manifests")
    return entries


def choose_platform(data: bytes, wanted: Platform, ref: str) -> dict[str, Any]:
    """The index entry for ``wanted`` (attestation manifests are skipped)."""
    candidates = []
    for entry in index_entries(data):
        if (entry.get("annotations") or {}).get("vnd.docker.reference.type"):
            continue  # buildkit attestations, not images
        if wanted.matches(entry.get("platform")):
            candidates.append(entry)
    if not candidates:
        raise NotFound(f"no matching manifest for {wanted} in the manifest list entries ({ref})")
    # Prefer an exact variant match over a variant-less one.
    candidates.sort(key=lambda e: (e.get("platform") or {}).get("variant", "") != wanted.variant)
    return candidates[0]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain IDs: chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n))."""
    out: list[str] = []
    for d in diff_ids:
        if not out:
            out.append(d)
        else:
            import hashlib  # here: OpenSSL's start-up is not paid for one-layer images

            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def config_diff_ids(config: dict[str, Any]) -> list[str]:
    rootfs = config.get("rootfs") or {}
    ids = rootfs.get("diff_ids")
    if not isinstance(ids, list):
        raise InvalidArgument("invalid image config: missing rootfs.diff_ids")
    return [str(i) for i in ids]
