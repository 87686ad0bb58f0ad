"""docs/python.md: every ```python block runs, in order, as the page shows it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.cli import PYNERD, Cli
from tests.rig.images import BuiltImage

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "python.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_the_doc_has_examples() -> None:
    blocks = python_blocks(DOC.read_text())
    assert len(blocks) >= 6 and 'DockerClient(client_call=["pynerd"])' in blocks[0]


def test_python_md_examples_run(
    cli: Cli, busybox_image: BuiltImage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page's client is DockerClient(client_call=["pynerd"]): point `pynerd` (on PATH)
    # at this test's store through the environment, and give it a `busybox` image.
    monkeypatch.setenv("PATH", f"{Path(PYNERD).parent}:{os.environ['PATH']}")
    monkeypatch.setenv("PYNERD_DATA_ROOT", str(cli.data_root))
    monkeypatch.setenv("PYNERD_RUN_ROOT", str(cli.run_root))
    monkeypatch.setenv("PYNERD_CNI_NETCONFPATH", str(cli.data_root.parent / "net.d"))
    assert cli("pull", "-q", busybox_image.ref).code == 0
    assert cli("tag", busybox_image.ref, "busybox:latest").code == 0
    assert cli("rmi", busybox_image.ref).code == 0  # untags: busybox:latest remains
    namespace: dict[str, object] = {}
    try:
        for i, block in enumerate(python_blocks(DOC.read_text())):
            code = compile(block, f"{DOC.name}[block {i}]", "exec")
            exec(code, namespace)  # the documentation's own examples
    finally:
        ids = cli("ps", "-aq", "--no-trunc").out.split()
        if ids:
            cli("rm", "-f", *ids)
    assert cli("ps", "-aq").out == ""
    assert cli("volume", "ls", "-q").out == ""  # the page cleans up after itself
