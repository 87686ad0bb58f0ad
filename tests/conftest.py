"""Shared test set-up: the session rig (registry, images, leak check) and CLI helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.rig.plugin", "tests.rig.auth", "tests.cli"]


@pytest.fixture(autouse=True)
def _no_host_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the machine's /etc/pynerd/pynerd.toml or the caller's PYNERD_* vars."""
    import os

    for var in list(os.environ):
        # PYNERD_RIG_SESSION tags this session's processes for the leak check: keep it.
        if var.startswith("PYNERD_") and var != "PYNERD_RIG_SESSION":
            monkeypatch.delenv(var)
    monkeypatch.setenv("PYNERD_TOML", "")
    # whatever runs pynerd without the CLI helper's flags still never writes to
    # the host's /etc/cni/net.d
    monkeypatch.setenv("PYNERD_CNI_NETCONFPATH", str(tmp_path / "net.d"))


@pytest.fixture(autouse=True)
def _networks_removed(tmp_path: Path) -> Iterator[None]:
    """Networks a test made (its default ``bridge`` included) go with the test.

    Bridge devices and iptables rules are host-wide; the CLI helper points every test at
    ``<tmp_path>/net.d`` and ``<tmp_path>/data``, so this finds exactly the test's own.
    """
    yield
    from pynerd.config import Config
    from pynerd.network.networks import NetworkStore

    for netconf in sorted(tmp_path.glob("**/net.d")):
        cfg = Config(data_root=netconf.parent / "data", cni_netconfpath=netconf)
        NetworkStore(cfg).remove_all()
