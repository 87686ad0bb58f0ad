"""python-on-whales drives the real pynerd binary: a client nobody here wrote.

``DockerClient(client_call=[PYNERD, --data-root, ..., --run-root, ...])``: python-on-whales
appends its own arguments to ``client_call``, so global flags placed there reach pynerd
before the command, exactly as ``docker --config X ps`` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli import PYNERD

pow = pytest.importorskip("python_on_whales")


@pytest.fixture
def docker(tmp_path: Path) -> Iterator[object]:
    """A python-on-whales client bound to this test's own pynerd data root."""
    client = pow.DockerClient(
        client_call=[
            PYNERD,
            "--data-root",
            str(tmp_path / "data"),
            "--run-root",
            str(tmp_path / "run"),
            "--cni-netconfpath",  # the test's own networks, removed after it (tests/conftest.py)
            str(tmp_path / "net.d"),
        ]
    )
    yield client
    ids = [c.id for c in client.container.list(all=True)]
    if ids:
        client.container.remove(ids, force=True, volumes=True)
