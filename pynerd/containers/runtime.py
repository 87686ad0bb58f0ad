"""The runc instance for a configuration: one state root per namespace."""

from __future__ import annotations

from pynerd.config import Config
from pynerd.runtime.runc import Runc


def runc_for(cfg: Config) -> Runc:
    return Runc(root=cfg.run_root / "runc" / cfg.namespace)
