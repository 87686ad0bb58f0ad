"""Platform strings (``os/arch[/variant]``): parsing, normalizing, matching the host."""

from __future__ import annotations

import os

from pynerd.errors import InvalidArgument
from pynerd.structs import frozen_record

_ARCH = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armhf": "arm",
    "armel": "arm",
    "i386": "386",
    "i686": "386",
}


@frozen_record
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    def to_oci(self) -> dict[str, str]:
        d = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            d["variant"] = self.variant
        return d

    def matches(self, other: dict[str, str] | None) -> bool:
        """Does an index entry's platform object fit this platform?"""
        if not other:
            return False
        o = normalize(
            Platform(other.get("os", ""), other.get("architecture", ""), other.get("variant", ""))
        )
        if (o.os, o.architecture) != (self.os, self.architecture):
            return False
        return not self.variant or not o.variant or o.variant == self.variant


def normalize(p: Platform) -> Platform:
    arch = _ARCH.get(p.architecture.lower(), p.architecture.lower())
    variant = p.variant.lower()
    if arch == "arm64" and variant in ("8", "v8"):
        variant = "v8" if p.variant else ""
    if arch == "arm64" and variant == "v8":
        variant = ""  # arm64 implies v8, as containerd's normalization does
    if arch == "arm" and not variant:
        variant = "v7"
    if arch == "arm" and variant.isdigit():
        variant = "v" + variant
    return Platform(p.os.lower() or "linux", arch, variant)


def parse_platform(text: str) -> Platform:
    parts = text.strip().split("/")
    if not 1 <= len(parts) <= 3 or not all(parts):
        raise InvalidArgument(f"invalid platform {text!r}: expected os/arch[/variant]")
    if len(parts) == 1:
        return normalize(Platform("linux", parts[0]))
    return normalize(Platform(parts[0], parts[1], parts[2] if len(parts) == 3 else ""))


def host_platform() -> Platform:
    return normalize(Platform("linux", os.uname().machine))
