"""Shared test set-up: the session rig (registry, images, leak check) and CLI helpers."""

from __future__ import annotations

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
