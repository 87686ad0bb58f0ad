"""Start-up is a feature: ``run`` of a local image loads no network or UI heavyweights."""

from __future__ import annotations

import pytest

from tests.cli import Cli
from tests.unit.commands.test_import_graph import HEAVY, modules_after

pytestmark = pytest.mark.integration


def test_run_rm_of_a_local_image_imports_nothing_heavy(cli: Cli, busybox_image, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert cli("pull", "-q", busybox_image.ref).code == 0
    roots = ["--data-root", str(cli.data_root), "--run-root", str(cli.run_root)]
    loaded = modules_after([*roots, "run", "--rm", "--net", "none", busybox_image.ref, "true"],
                           tmp_path)
    assert "pynerd.containers.monitor" in loaded  # it really ran a container
    assert sorted(m for m in loaded if m in HEAVY or m.split(".")[0] in HEAVY) == []
    # the fast path of run (pynerd_cli.fastrun) parsed it: no typer, no click
    assert "pynerd_cli.fastrun" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in ("typer", "click")) == []
    assert not any(m.startswith("pynerd.registry.client") for m in loaded)
    assert cli("ps", "-aq").out == ""
