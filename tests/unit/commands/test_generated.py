"""Generated files follow the command tree: the reference and the shell completions.

When one fails, a command or flag changed: regenerate with ``make generate`` (or run
``python scripts/gen-reference.py`` and ``python scripts/gen-completions.py``) and
commit the result.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("script", ["gen-reference.py", "gen-completions.py"])
def test_generated_files_are_up_to_date(script: str) -> None:
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr  # the message says how to regenerate


def test_the_check_fails_with_instructions(tmp_path: Path) -> None:
    stale = tmp_path / "command-reference.md"
    stale.write_text("# old\n")
    p = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-reference.py"), "--check", "--output", stale],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 1
    assert "out of date" in p.stderr and "make generate" in p.stderr


def test_the_reference_lists_what_docker_has_and_pynerd_lacks() -> None:
    text = (ROOT / "docs" / "command-reference.md").read_text()
    run = text[text.index("## pynerd run\n") : text.index("## pynerd exec\n")]
    assert "| `-d, --detach` |" in run
    assert "**Not supported** (Docker flags pynerd lacks):" in run and "`--blkio-weight`" in run
    assert "`docker system df`" in text  # a Docker command pynerd does not have
