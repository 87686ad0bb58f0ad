"""OCI content descriptors (mediaType, digest, size, and optional platform/annotations/urls)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pynerd.errors import InvalidArgument
from pynerd.registry.errors import InvalidDigest
from pynerd.registry.reference import parse_digest


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: dict[str, Any] | None = None
    annotations: dict[str, str] | None = None
    urls: tuple[str, ...] = field(default=())

    def to_oci(self) -> dict[str, Any]:
        """The JSON object as it appears in manifests and indexes (optional keys omitted)."""
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out

    @classmethod
    def from_oci(cls, obj: Any) -> Descriptor:
        """Validate and convert a descriptor object read from a manifest."""
        if not isinstance(obj, dict):
            raise InvalidArgument("invalid descriptor: not a JSON object")
        media_type, digest, size = obj.get("mediaType"), obj.get("digest"), obj.get("size")
        if not isinstance(media_type, str) or not media_type:
            raise InvalidArgument("invalid descriptor: missing mediaType")
        if not isinstance(digest, str):
            raise InvalidArgument("invalid descriptor: missing digest")
        try:
            parse_digest(digest)
        except InvalidDigest as e:
            raise InvalidArgument(f"invalid descriptor digest {digest!r}: {e}") from None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidArgument(f"invalid descriptor size for {digest}")
        platform = obj.get("platform")
        if platform is not None and not isinstance(platform, dict):
            raise InvalidArgument(f"invalid descriptor platform for {digest}")
        annotations = obj.get("annotations")
        if annotations is not None and not (
            isinstance(annotations, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items())
        ):
            raise InvalidArgument(f"invalid descriptor annotations for {digest}")
        urls = obj.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise InvalidArgument(f"invalid descriptor urls for {digest}")
        return cls(media_type, digest, size, platform or None, annotations or None, tuple(urls))
