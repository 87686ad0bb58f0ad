"""Reference parsing and normalization, with distribution/reference's own cases."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pynerd.errors import InvalidArgument
from pynerd.registry.errors import InvalidDigest, InvalidReference
from pynerd.registry.reference import Reference, is_digest, parse_digest, parse_reference

D = "sha256:" + "7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"
HEX64 = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a"

# text -> (domain, path, tag, digest, str(), familiar_name, familiar())
VALID = [
    ("busybox", "docker.io", "library/busybox", None, None,
     "docker.io/library/busybox:latest", "busybox", "busybox:latest"),
    ("busybox:1.36", "docker.io", "library/busybox", "1.36", None,
     "docker.io/library/busybox:1.36", "busybox", "busybox:1.36"),
    ("user/app", "docker.io", "user/app", None, None,
     "docker.io/user/app:latest", "user/app", "user/app:latest"),
    ("docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", None,
     "docker.io/library/busybox:latest", "busybox", "busybox:latest"),
    ("docker.io/busybox", "docker.io", "library/busybox", None, None,
     "docker.io/library/busybox:latest", "busybox", "busybox:latest"),
    ("index.docker.io/user/app", "docker.io", "user/app", None, None,
     "docker.io/user/app:latest", "user/app", "user/app:latest"),
    ("index.docker.io/debian", "docker.io", "library/debian", None, None,
     "docker.io/library/debian:latest", "debian", "debian:latest"),
    ("library/foo/bar", "docker.io", "library/foo/bar", None, None,
     "docker.io/library/foo/bar:latest", "library/foo/bar", "library/foo/bar:latest"),
    ("127.0.0.1:5000/x", "127.0.0.1:5000", "x", None, None,
     "127.0.0.1:5000/x:latest", "127.0.0.1:5000/x", "127.0.0.1:5000/x:latest"),
    ("127.0.0.1:5000/a/b:v1", "127.0.0.1:5000", "a/b", "v1", None,
     "127.0.0.1:5000/a/b:v1", "127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:v1"),
    ("localhost/x", "localhost", "x", None, None,
     "localhost/x:latest", "localhost/x", "localhost/x:latest"),
    ("localhost:5000/x:tag", "localhost:5000", "x", "tag", None,
     "localhost:5000/x:tag", "localhost:5000/x", "localhost:5000/x:tag"),
    ("example.com/private/moonbase", "example.com", "private/moonbase", None, None,
     "example.com/private/moonbase:latest", "example.com/private/moonbase",
     "example.com/private/moonbase:latest"),
    ("test-com:8080/foo", "test-com:8080", "foo", None, None,
     "test-com:8080/foo:latest", "test-com:8080/foo", "test-com:8080/foo:latest"),
    ("test_com/foo", "docker.io", "test_com/foo", None, None,
     "docker.io/test_com/foo:latest", "test_com/foo", "test_com/foo:latest"),
    ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo", None, None,
     "xn--n3h.com:18080/foo:latest", "xn--n3h.com:18080/foo", "xn--n3h.com:18080/foo:latest"),
    ("[fc00::1]:5000/docker/docker", "[fc00::1]:5000", "docker/docker", None, None,
     "[fc00::1]:5000/docker/docker:latest", "[fc00::1]:5000/docker/docker",
     "[fc00::1]:5000/docker/docker:latest"),
    # An uppercase first component can only be a host (namespaces are lowercase).
    ("Foo/bar", "Foo", "bar", None, None, "Foo/bar:latest", "Foo/bar", "Foo/bar:latest"),
    ("FOO/bar", "FOO", "bar", None, None, "FOO/bar:latest", "FOO/bar", "FOO/bar:latest"),
    (f"busybox@{D}", "docker.io", "library/busybox", None, D,
     f"docker.io/library/busybox@{D}", "busybox", f"busybox@{D}"),
    (f"busybox:latest@{D}", "docker.io", "library/busybox", "latest", D,
     f"docker.io/library/busybox:latest@{D}", "busybox", f"busybox:latest@{D}"),
    (f"127.0.0.1:5000/x@{D}", "127.0.0.1:5000", "x", None, D,
     f"127.0.0.1:5000/x@{D}", "127.0.0.1:5000/x", f"127.0.0.1:5000/x@{D}"),
    ("docker---rules/docker", "docker.io", "docker---rules/docker", None, None,
     "docker.io/docker---rules/docker:latest", "docker---rules/docker",
     "docker---rules/docker:latest"),
    ("dock__er/docker", "docker.io", "dock__er/docker", None, None,
     "docker.io/dock__er/docker:latest", "dock__er/docker", "dock__er/docker:latest"),
    ("d/docker", "docker.io", "d/docker", None, None,
     "docker.io/d/docker:latest", "d/docker", "d/docker:latest"),
    (f"docker.io/{HEX64}", "docker.io", f"library/{HEX64}", None, None,
     f"docker.io/library/{HEX64}:latest", HEX64, f"{HEX64}:latest"),
    ("busybox:Tag_1.0-rc", "docker.io", "library/busybox", "Tag_1.0-rc", None,
     "docker.io/library/busybox:Tag_1.0-rc", "busybox", "busybox:Tag_1.0-rc"),
]


@pytest.mark.parametrize(
    ("text", "domain", "path", "tag", "digest", "full", "fname", "fam"),
    VALID,
    ids=[v[0] for v in VALID],
)
def test_valid(
    text: str, domain: str, path: str, tag: str | None, digest: str | None,
    full: str, fname: str, fam: str,
) -> None:
    ref = parse_reference(text)
    assert (ref.domain, ref.path, ref.tag, ref.digest) == (domain, path, tag, digest)
    assert str(ref) == full
    assert ref.familiar_name == fname
    assert ref.familiar() == fam
    assert ref.name == f"{domain}/{path}"
    assert ref.repository_path == path
    # The canonical form parses back to the same reference.
    assert parse_reference(full) == ref or (ref.tag is None and ref.digest is None)


# text -> exact message (Docker's wording)
INVALID = [
    ("", "invalid reference format"),
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("docker/Docker",
     "invalid reference format: repository name (docker/Docker) must be lowercase"),
    ("docker.io/docker/Docker",
     "invalid reference format: repository name (docker/Docker) must be lowercase"),
    ("127.0.0.1:5000/Up:tag",
     "invalid reference format: repository name (Up) must be lowercase"),
    (HEX64, f"invalid repository name ({HEX64}), cannot specify 64-byte hexadecimal strings"),
    ("https://github.com/docker/docker", "invalid reference format"),
    ("-docker", "invalid reference format"),
    ("-docker/docker", "invalid reference format"),
    ("-docker.io/docker/docker", "invalid reference format"),
    ("docker///docker", "invalid reference format"),
    ("docker.io/docker///docker", "invalid reference format"),
    ("docker-/docker", "invalid reference format"),
    ("____/____", "invalid reference format"),
    ("_docker/_docker", "invalid reference format"),
    ("dock..er/docker", "invalid reference format"),
    ("dock_.er/docker", "invalid reference format"),
    ("dock-.er/docker", "invalid reference format"),
    ("docker/", "invalid reference format"),
    ("[fc00::1]", "invalid reference format"),
    ("[fc00::1]:5000", "invalid reference format"),
    ("fc00::1:5000/debian", "invalid reference format"),
    ("[fe80::1%eth0]:5000/debian", "invalid reference format"),
    ("busybox:-tag", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("busybox:a:b", "invalid reference format"),
    ("busybox@sha256:abc", "invalid reference format"),
    ("busybox@sha256:" + "A" * 64, "invalid checksum digest format"),
    ("busybox@sha256:" + "a" * 63 + "a0", "invalid checksum digest length"),
    ("busybox@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("a b", "invalid reference format"),
    ("a" * 250 + "/docker",
     "invalid reference format: repository name must not be more than 255 characters"),
]


@pytest.mark.parametrize(("text", "message"), INVALID, ids=[v[0][:40] or "empty" for v in INVALID])
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        parse_reference(text)
    assert isinstance(exc.value, (InvalidReference, InvalidDigest))
    assert str(exc.value) == message


def test_reference_is_frozen_and_hashable() -> None:
    ref = parse_reference("busybox")
    assert ref == Reference("docker.io", "library/busybox")
    assert {ref: 1}[Reference("docker.io", "library/busybox")] == 1
    with pytest.raises(AttributeError):
        ref.tag = "x"  # type: ignore[misc]


def test_object_and_helpers() -> None:
    ref = parse_reference("busybox")
    assert ref.effective_tag == "latest" and ref.object == "latest"
    assert parse_reference("busybox:1").object == "1"
    assert parse_reference(f"busybox:1@{D}").object == D
    assert ref.with_tag("2").familiar() == "busybox:2"
    assert str(ref.with_digest(D)) == f"docker.io/library/busybox@{D}"
    assert parse_reference(f"busybox:1@{D}").repository() == ref
    with pytest.raises(InvalidReference):
        ref.with_tag("-bad")


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        (D, True),
        ("sha512:" + "ab" * 64, True),
        ("sha384:" + "ab" * 48, True),
        ("sha256:" + "a" * 63, False),
        ("sha256:" + "A" * 64, False),
        ("sha256" + "a" * 64, False),
        ("md5:" + "a" * 32, False),
        ("", False),
        ("sha256:", False),
    ],
)
def test_digests(text: str, ok: bool) -> None:
    assert is_digest(text) is ok
    if ok:
        assert parse_digest(text) == text
    else:
        with pytest.raises(InvalidDigest):
            parse_digest(text)


def test_importing_reference_loads_no_network_modules() -> None:
    code = (
        "import sys, pynerd.registry.reference\n"
        "bad = [m for m in ('requests', 'ssl', 'http.client', 'urllib3', 'tomli') "
        "if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_importing_the_client_loads_no_network_modules() -> None:
    code = (
        "import sys, pynerd.registry.client, pynerd.registry.hosts\n"
        "bad = [m for m in ('requests', 'ssl', 'http.client', 'urllib3', 'tomli') "
        "if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
