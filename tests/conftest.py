"""Shared test set-up: the session rig (registry, images, leak check) and CLI helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.rig.plugin", "tests.rig.auth", "tests.cli"]


@pytest.fixture(autouse=True)
def _no_host_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the machine's /etc/pynerd/pynerd.toml or the caller's PYNERD_* vars."""
    import os

    for var in list(os.environ):
        # PYNERD_RIG_SESSION tags this session's processes for the leak check: keep it.
        if var.startswith("PYNERD_") and var != "PYNERD_RIG_SESSION":
            monkeypatch.delenv(var)
    monkeypatch.setenv("PYNERD_TOML", "")


@pytest.fixture(autouse=True)
def _networks_removed(tmp_path: Path) -> Iterator[None]:
    """Networks a test made (its default ``bridge`` included) go with the test.

    Bridge devices and iptables rules are host-wide; the CLI helper points every test at
    ``<tmp_path>/net.d`` and ``<tmp_path>/data``, so this finds exactly the test's own.
    """
    yield
    netconf = tmp_path / "net.d"
    if not netconf.is_dir():
        return
    from pynerd.config import Config
    from pynerd.network.networks import NetworkStore

    NetworkStore(Config(data_root=tmp_path / "data", cni_netconfpath=netconf)).remove_all()
