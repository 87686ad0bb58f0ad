"""Image references, normalized exactly as Docker does (distribution/reference).

``busybox`` → ``docker.io/library/busybox:latest``; ``user/app`` → ``docker.io/user/app``;
the first path component is a registry host when it contains ``.`` or ``:``, is
``localhost``, or has an uppercase letter (Docker's rule: namespaces are lowercase, so such a
component can only be a host). ``index.docker.io`` is an alias of ``docker.io``.

This module is imported on every start-up path that names an image, so it stays cheap: no
hashlib, no network modules.
"""

from __future__ import annotations

import re

from pynerd.registry.errors import InvalidDigest, InvalidReference
from pynerd.structs import frozen_record, replace

DOCKER_HUB = "docker.io"
LEGACY_HUB = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
MAX_NAME_LENGTH = 255

# The grammar of distribution/reference (regexp.go), with Go's ASCII \w and [[:xdigit:]].
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = _ALNUM + r"(?:" + _SEPARATOR + _ALNUM + r")*"
_REMOTE_NAME = _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN = r"(?:" + _DOMAIN_NAME + "|" + _IPV6 + r")(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE_RE = re.compile(
    r"((?:" + _DOMAIN + r"/)?" + _REMOTE_NAME + r")(?::(" + _TAG + r"))?(?:@(" + _DIGEST + r"))?",
    re.ASCII,
)
_NAME_RE = re.compile(r"(?:(" + _DOMAIN + r")/)?(" + _REMOTE_NAME + r")", re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_IDENTIFIER_RE = re.compile(r"[a-f0-9]{64}")
_DIGEST_SYNTAX_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
# go-digest's registered algorithms and the exact form of their encoded part.
_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX_RE = re.compile(r"[a-f0-9]+")


@frozen_record
class Reference:
    """A normalized reference. ``tag`` and ``digest`` are None when not given.

    ``str()`` is the canonical form (``docker.io/library/busybox:latest``), with ``:latest``
    supplied only when there is neither a tag nor a digest.
    """

    domain: str
    path: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def repository_path(self) -> str:
        """``library/busybox``: the repository part of registry API URLs."""
        return self.path

    @property
    def familiar_name(self) -> str:
        """Docker's short display name: ``busybox``, ``user/app``, ``127.0.0.1:5000/x``."""
        if self.domain == DOCKER_HUB:
            rest = self.path.removeprefix(OFFICIAL_PREFIX)
            if rest != self.path and "/" not in rest:
                return rest
            return self.path
        return self.name

    @property
    def effective_tag(self) -> str | None:
        """The tag, or ``latest`` when the reference names neither tag nor digest."""
        if self.tag is None and self.digest is None:
            return DEFAULT_TAG
        return self.tag

    @property
    def object(self) -> str:
        """What goes after ``/manifests/`` in a URL: the digest if any, else the tag."""
        return self.digest or self.effective_tag or DEFAULT_TAG

    def _suffix(self) -> str:
        tag = self.effective_tag
        return (f":{tag}" if tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """``busybox:latest``, ``user/app@sha256:…``: the short form Docker prints."""
        return self.familiar_name + self._suffix()

    def with_tag(self, tag: str) -> Reference:
        if not _TAG_RE.fullmatch(tag):
            raise InvalidReference("invalid tag format")
        return replace(self, tag=tag)

    def with_digest(self, digest: str | None) -> Reference:
        return replace(self, digest=parse_digest(digest) if digest else None)

    def repository(self) -> Reference:
        """The bare repository (no tag, no digest)."""
        return replace(self, tag=None, digest=None)


def split_docker_domain(name: str) -> tuple[str, str]:
    """Docker's ``splitDockerDomain``: (domain, remainder) with ``library/`` for Hub images."""
    maybe_domain, sep, rest = name.partition("/")
    if not sep:
        return DOCKER_HUB, OFFICIAL_PREFIX + name
    if maybe_domain == "localhost":
        domain, remote = maybe_domain, rest
    elif maybe_domain == LEGACY_HUB:
        domain, remote = DOCKER_HUB, rest
    elif "." in maybe_domain or ":" in maybe_domain or maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, rest
    else:
        domain, remote = DOCKER_HUB, name
    if domain == DOCKER_HUB and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def parse_reference(text: str) -> Reference:
    """Parse what a user typed (``busybox``, ``host:5000/a/b:tag``, ``x@sha256:…``)."""
    if _IDENTIFIER_RE.fullmatch(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = split_docker_domain(text)
    remote = remainder.partition("@")[0].partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    full = f"{domain}/{remainder}"
    m = _REFERENCE_RE.fullmatch(full)
    if m is None:
        lowered = full.lower()
        if lowered != full and _REFERENCE_RE.fullmatch(lowered):
            raise InvalidReference("invalid reference format: repository name must be lowercase")
        raise InvalidReference("invalid reference format")
    name, tag, digest = m.group(1), m.group(2), m.group(3)
    nm = _NAME_RE.fullmatch(name)
    if nm is None or nm.group(1) is None:  # pragma: no cover - the regexes guarantee a domain
        raise InvalidReference("invalid reference format")
    path = nm.group(2)
    if len(path) > MAX_NAME_LENGTH:
        raise InvalidReference(
            f"invalid reference format: repository name must not be more than "
            f"{MAX_NAME_LENGTH} characters"
        )
    if digest is not None:
        digest = parse_digest(digest)
    return Reference(domain=nm.group(1), path=path, tag=tag, digest=digest)


def parse_digest(text: str) -> str:
    """Validate ``algorithm:encoded`` like go-digest; returns it unchanged.

    sha256/sha384/sha512 with lowercase hex of the right length; the messages are
    go-digest's (``invalid checksum digest format`` / ``length``, ``unsupported digest
    algorithm``), which is what Docker prints for a bad digest in a reference.
    """
    algorithm, sep, encoded = text.partition(":")
    if not sep or not _DIGEST_SYNTAX_RE.fullmatch(text):
        raise InvalidDigest("invalid checksum digest format")
    length = _ALGORITHMS.get(algorithm)
    if length is None:
        raise InvalidDigest("unsupported digest algorithm")
    if not _HEX_RE.fullmatch(encoded):
        raise InvalidDigest("invalid checksum digest format")
    if len(encoded) != length:
        raise InvalidDigest("invalid checksum digest length")
    return text


def is_digest(text: str) -> bool:
    """True for a valid digest string such as ``sha256:<64 hex>``."""
    try:
        parse_digest(text)
    except InvalidDigest:
        return False
    return True
