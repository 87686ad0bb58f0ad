"""Fixtures for unit tests of networks, management and sandboxes: no root, no host changes.

``host`` replaces everything that would touch the machine: the bridge devices and their
iptables rules (a :class:`FakeHostNet`, also what ``NetworkStore(cfg)`` constructs inside
the library), ``/sys/class/net`` (the fake's links) and ``/proc/net/route`` (the fake's
routes). The CNI config directory is deliberately not named ``net.d``: the session-wide
clean-up in tests/conftest.py removes the networks of every ``net.d`` with the *real*
host plumbing, which must never run for these made-up bridges.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from pynerd.config import Config


class FakeHostNet:
    """Stands in for :class:`pynerd.network.hostnet.HostNet`; records what was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.links: set[str] = set()
        self.routes: list[ipaddress.IPv4Network] = []
        self.fail_rules = False

    def add_bridge(self, spec: Any) -> None:
        self.calls.append(("add_bridge", spec))
        self.links.add(spec.bridge)

    def add_rules(self, spec: Any) -> None:
        self.calls.append(("add_rules", spec))
        if self.fail_rules:
            from pynerd.network.hostnet import HostNetError

            raise HostNetError("iptables: boom")

    def delete_rules(self, spec: Any) -> None:
        self.calls.append(("delete_rules", spec))

    def delete_bridge(self, name: str) -> None:
        self.calls.append(("delete_bridge", name))
        self.links.discard(name)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


@pytest.fixture
def host(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeHostNet:
    from pynerd.network import hostnet, networks, subnets

    fake = FakeHostNet()
    if hasattr(networks, "HOST_LOCK"):  # host-wide lock: not shared with real sessions
        monkeypatch.setattr(networks, "HOST_LOCK", tmp_path / "host-lock" / "networks.lock")
    monkeypatch.setattr(hostnet, "HostNet", lambda *a, **k: fake)
    monkeypatch.setattr(hostnet, "link_exists", lambda name: name in fake.links)
    monkeypatch.setattr(networks, "link_exists", lambda name: name in fake.links)
    monkeypatch.setattr(subnets, "host_routes", lambda *a: list(fake.routes))
    return fake


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return Config(
        data_root=tmp_path / "data", cni_netconfpath=tmp_path / "cni", run_root=tmp_path / "run"
    )
