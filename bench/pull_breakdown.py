"""Where `pynerd pull` spends its time: `python bench/pull_breakdown.py [--runs N]`.

Hand-run companion of bench_pull.py, for the cost breakdown in docs/performance.md.
pynerd itself stays free of timing code: this script runs the pull in-process
with pynerd's own steps (resolve, config fetch, per-layer download and extraction,
snapshot commit, image record) wrapped in timers, and accounts CPU time to the
puller and to its extraction children. It then times the parts of one layer
alone (decompression, hashing, pynerd's extractor, GNU tar writing the same files)
and GNU tar extracting the whole image, to show which floor each step sits on.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import hostenv
import pullbound
from bench_pull import PullEnv

Span = tuple[str, float, float]  # label, start, end (seconds since the pull started)
Timed = tuple[float, list[Span], dict[str, float]]  # wall seconds, spans, CPU by party


class Recorder:
    """Wraps methods with timers; spans are recorded from any thread."""

    def __init__(self) -> None:
        self.t0 = 0.0
        self.spans: list[Span] = []
        self.lock = threading.Lock()
        self.undo: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, name: str, label: Callable[..., str]) -> None:
        original = getattr(owner, name, None)
        if original is None:  # the library changed shape: time less, never fail
            print(f"breakdown: no {owner.__name__}.{name}; not timed", file=sys.stderr)
            return

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                end = time.perf_counter()
                with self.lock:
                    self.spans.append((label(*args, **kwargs), start - self.t0, end - self.t0))

        self.undo.append((owner, name, original))
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, original in reversed(self.undo):
            setattr(owner, name, original)
        self.undo.clear()


def _short(desc: dict[str, Any]) -> str:
    return str(desc["digest"]).split(":")[-1][:12]


def timed_pull(ref: str, store: Path, snapshotter: str) -> Timed:
    """One in-process pull into an empty store: wall seconds, spans, CPU seconds by party."""
    from pynerd.config import load
    from pynerd.images import apply, pull
    from pynerd.images.store import ImageStore
    from pynerd.registry.client import RegistryClient
    from pynerd.snapshots import get_snapshotter

    hostenv.remove_tree(store)
    os.sync()
    cfg = load({"data_root": str(store / "data"), "run_root": str(store / "run"),
                "snapshotter": snapshotter}, environ={"PYNERD_TOML": ""})
    snap_cls = type(get_snapshotter(snapshotter, store / "probe"))
    hostenv.remove_tree(store / "probe")
    rec = Recorder()
    rec.wrap(RegistryClient, "resolve", lambda *a, **k: "resolve manifest")
    rec.wrap(pull.Puller, "fetch_small_blob", lambda *a, **k: "fetch config")
    rec.wrap(pull.Puller, "_stream_layer", lambda s, r, desc, *a, **k: f"download {_short(desc)}")
    rec.wrap(apply, "apply_layer",
             lambda *a, **k: threading.current_thread().name.replace("-", " ", 1))
    rec.wrap(snap_cls, "commit_layer", lambda *a, **k: "commit snapshot")
    rec.wrap(ImageStore, "put", lambda *a, **k: "write image record")
    self_before = resource.getrusage(resource.RUSAGE_SELF)
    kids_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        rec.t0 = time.perf_counter()
        pull.pull(cfg, pull.PullOptions(ref))
        wall = time.perf_counter() - rec.t0
    finally:
        rec.restore()
    self_after = resource.getrusage(resource.RUSAGE_SELF)
    kids_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {
        "puller user": self_after.ru_utime - self_before.ru_utime,
        "puller sys": self_after.ru_stime - self_before.ru_stime,
        "extractors user": kids_after.ru_utime - kids_before.ru_utime,
        "extractors sys": kids_after.ru_stime - kids_before.ru_stime,
    }
    return wall, sorted(rec.spans, key=lambda s: s[1]), cpu


def _time(fn: Callable[[], object], runs: int = 5) -> float:
    """Median seconds of `fn`, each run after a sync so write-back does not leak in."""
    samples = []
    for _ in range(runs):
        os.sync()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def floors(ref: str, scratch: Path) -> list[tuple[str, float]]:
    """The parts of extracting one layer, alone, and GNU tar extracting the whole image."""
    from pynerd.images.apply import apply_layer

    image = pullbound.resolve(ref)
    layer = max(image.layers, key=lambda d: int(str(d["size"])))
    blob = pullbound._get(image.host, image.port, f"/v2/{image.repo}/blobs/{layer['digest']}")
    name, decode = pullbound.decoder()
    tar = decode(blob)
    scratch.mkdir(parents=True, exist_ok=True)
    blob_file, tar_file = scratch / "layer.gz", scratch / "layer.tar"
    blob_file.write_bytes(blob)
    tar_file.write_bytes(tar)
    counter = iter(range(1_000_000))

    def fresh() -> Path:
        target = scratch / f"x{next(counter)}"
        target.mkdir()
        return target

    def pynerd_apply() -> None:
        with open(blob_file, "rb") as f:
            apply_layer(f.fileno(), str(layer["mediaType"]), fresh(), "overlay")

    def gnu_tar(path: Path, flags: str = "-xf") -> None:
        subprocess.run(["tar", flags, str(path), "-C", str(fresh())], check=True)

    tars = []
    for i, desc in enumerate(image.layers):
        data = decode(pullbound._get(image.host, image.port,
                                     f"/v2/{image.repo}/blobs/{desc['digest']}"))
        tars.append(scratch / f"all-{i}.tar")
        tars[-1].write_bytes(data)
    cores = os.cpu_count() or 1

    def whole_image() -> None:
        with ThreadPoolExecutor(cores) as pool:
            list(pool.map(gnu_tar, tars))

    mb = f"{len(blob) / 1e6:.0f} MB gzip, {len(tar) / 1e6:.0f} MB tar"
    rows = [
        (f"one layer ({mb}): {name} decompression", _time(lambda: decode(blob))),
        ("one layer: sha256 of the tar", _time(lambda: hashlib.sha256(tar).digest())),
        ("one layer: pynerd's extractor (apply_layer, from a file)", _time(pynerd_apply)),
        ("one layer: GNU tar -xf of the uncompressed tar", _time(lambda: gnu_tar(tar_file))),
        ("one layer: GNU tar -xzf (gzip in a second process)",
         _time(lambda: gnu_tar(blob_file, "-xzf"))),
        (f"whole image: GNU tar -xf of all {len(tars)} uncompressed tars, {cores} at a time",
         _time(whole_image)),
    ]
    hostenv.remove_tree(scratch)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/pull_breakdown.py", description=__doc__)
    ap.add_argument("--runs", type=int, default=3, help="in-process pulls (default 3)")
    ap.add_argument("--snapshotter", default="overlayfs")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pynerd-bench-breakdown-"))
    env = PullEnv(peers=False)
    try:
        prepared = env.setup(work)
        ref = env.ref
        results = [timed_pull(ref, work / "store", args.snapshotter) for _ in range(args.runs)]
        results.sort(key=lambda r: r[0])
        wall, spans, cpu = results[len(results) // 2]
        print(f"In-process pull ({args.snapshotter}), the median of {args.runs}: "
              f"{wall * 1000:.0f} ms (walls: "
              f"{', '.join(f'{r[0] * 1000:.0f}' for r in results)} ms)\n")
        print("| step | start ms | end ms | ms |\n|---|---:|---:|---:|")
        for label, start, end in spans:
            print(f"| {label} | {start * 1000:.0f} | {end * 1000:.0f} | "
                  f"{(end - start) * 1000:.0f} |")
        print("\nCPU seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
        print("\n" + "\n".join(prepared.notes))
        print("\n| floor | ms |\n|---|---:|")
        for label, seconds in floors(ref, work / "floors"):
            print(f"| {label} | {seconds * 1000:.0f} |")
    finally:
        env.teardown(work)
        hostenv.remove_tree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
