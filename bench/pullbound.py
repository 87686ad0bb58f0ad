"""The machine bound for pulling an image: what no pull on this machine can beat by much.

A pull must at least move every blob over the network and decompress every
layer; decompression of different layers can use all cores at once. So the
bound is download time (all blobs at once over plain HTTP, data discarded) plus
the summed decompression time of the layers with the fastest decoder at hand
(isal, else zlib) divided by the number of cores. Writing files, hashing and
bookkeeping are left out on purpose: they are what a pull adds on top, and the
ratio to this bound says how much that is.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import statistics
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from case import Reference

ACCEPT = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
])
BUFFER = 1 << 20


@dataclass(frozen=True)
class Image:
    """Where a single-platform image lives in a plain-HTTP registry, and its blobs."""

    host: str
    port: int
    repo: str
    config: dict[str, object]
    layers: list[dict[str, object]]

    @property
    def blobs(self) -> list[dict[str, object]]:
        return [self.config, *self.layers]


def _get(host: str, port: int, path: str, headers: dict[str, str] | None = None) -> bytes:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {resp.status}")
        return body
    finally:
        conn.close()


def resolve(ref: str) -> Image:
    """Fetch the manifest of `ref` (HOST:PORT/REPO:TAG, a single-platform image)."""
    hostport, _, rest = ref.partition("/")
    repo, _, tag = rest.rpartition(":")
    host, _, port = hostport.partition(":")
    manifest = json.loads(_get(host, int(port), f"/v2/{repo}/manifests/{tag}",
                               {"Accept": ACCEPT}))
    if "layers" not in manifest:
        raise RuntimeError(f"{ref} is not a single-platform image manifest")
    return Image(host, int(port), repo, manifest["config"], manifest["layers"])


def _drain(image: Image, digest: str) -> None:
    """Download one blob into a reused buffer: the least work a client can do per byte."""
    conn = http.client.HTTPConnection(image.host, image.port, timeout=60)
    try:
        conn.request("GET", f"/v2/{image.repo}/blobs/{digest}")
        resp = conn.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"GET blob {digest}: HTTP {resp.status}")
        buf = bytearray(BUFFER)
        while resp.readinto(buf):
            pass
    finally:
        conn.close()


def download_s(image: Image) -> float:
    """Seconds to download every blob, all at once, one connection each."""
    errors: list[BaseException] = []

    def fetch(digest: str) -> None:
        try:
            _drain(image, digest)
        except BaseException as exc:  # reported by the caller, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(str(b["digest"]),)) for b in image.blobs]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def decoder() -> tuple[str, Callable[[bytes], bytes]]:
    """The fastest gzip decoder available: isal (several times zlib's speed), else zlib."""
    try:
        from isal import igzip

        return "isal", igzip.decompress
    except ImportError:
        return "zlib", lambda data: zlib.decompress(data, wbits=31)


def decompress_s(blobs: list[bytes], decode: Callable[[bytes], bytes]) -> float:
    """Seconds to decompress every layer, one after the other (the sum over layers)."""
    total = 0.0
    for blob in blobs:
        start = time.perf_counter()
        decode(blob)
        total += time.perf_counter() - start
    return total


def measure(ref: str, runs: int = 5, label: str = "bound") -> Reference:
    """Download and decompression times, `runs` times each; the bound per run."""
    image = resolve(ref)
    layers = [_get(image.host, image.port, f"/v2/{image.repo}/blobs/{layer['digest']}")
              for layer in image.layers]
    name, decode = decoder()
    gzipped = [blob for blob in layers if blob[:2] == b"\x1f\x8b"]
    cores = os.cpu_count() or 1
    download_s(image)  # warm-up: registry files into the page cache, connections set up
    downloads = [download_s(image) for _ in range(runs)]
    decompressions = [decompress_s(gzipped, decode) for _ in range(runs)]
    tars = [decode(blob) for blob in gzipped]
    start = time.perf_counter()
    for data in [*layers, *tars]:
        hashlib.sha256(data).digest()
    sha256 = time.perf_counter() - start
    samples = [d + c / cores for d, c in zip(downloads, decompressions, strict=True)]
    detail = {
        "blobs": len(image.blobs),
        "compressed_bytes": sum(int(str(b.get("size", 0))) for b in image.blobs),
        "uncompressed_bytes": sum(len(t) for t in tars),
        "gzip_layers": len(gzipped),
        "decoder": name,
        "cores": cores,
        "download_ms": [round(d * 1000, 1) for d in downloads],
        "decompress_sum_ms": [round(c * 1000, 1) for c in decompressions],
        "sha256_all_ms": round(sha256 * 1000, 1),
    }
    d, c = statistics.median(downloads), statistics.median(decompressions)
    description = (f"machine bound: download {d * 1000:.0f} ms + {name} decompression "
                   f"{c * 1000:.0f} ms / {cores} cores")
    return Reference(label, description, samples, detail)


def note(ref: Reference) -> str:
    """One Markdown line explaining the bound's parts."""
    det = ref.detail
    d = statistics.median(det["download_ms"])
    c = statistics.median(det["decompress_sum_ms"])
    bound = statistics.median(s * 1000 for s in ref.samples_s)
    return (
        f"- Machine bound: downloading all {det['blobs']} blobs "
        f"({det['compressed_bytes'] / 1e6:.1f} MB) at once over HTTP takes {d:.0f} ms; "
        f"decompressing the {det['gzip_layers']} gzip layers "
        f"({det['uncompressed_bytes'] / 1e6:.1f} MB of tar) with {det['decoder']} takes "
        f"{c:.0f} ms summed, over {det['cores']} cores {c / det['cores']:.0f} ms; bound "
        f"{bound:.0f} ms (median of {len(ref.samples_s)} runs). Not in the bound: "
        f"sha256 of all compressed and uncompressed bytes, {det['sha256_all_ms']:.0f} ms "
        "on one core, and writing the files."
    )
