"""``python -m pynerd.containers.cleanup``: remove an ``--rm`` container after it exited.

The monitor runs this (it must stay lean and cannot import the store, snapshot
and volume code itself); it is also safe to run twice.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from pynerd.config import load
    from pynerd.containers.remove import destroy
    from pynerd.containers.store import ContainerStore

    ap = argparse.ArgumentParser(prog="pynerd.containers.cleanup")
    for flag in ("--data-root", "--run-root", "--namespace", "--snapshotter"):
        ap.add_argument(flag, required=True)
    ap.add_argument("id")
    a = ap.parse_args(argv)
    cfg = load(
        {
            "data_root": a.data_root,
            "run_root": a.run_root,
            "namespace": a.namespace,
            "snapshotter": a.snapshotter,
        },
        {"PYNERD_TOML": ""},
    )
    record = ContainerStore(cfg.namespace_root).records.get(a.id)
    if record is not None:
        destroy(cfg, record, True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
