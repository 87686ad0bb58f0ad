"""The library never depends on the CLI layer or its UI toolkits."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pynerd

FORBIDDEN = ("typer", "rich", "click", "pynerd_cli")
LIB = Path(pynerd.__file__).parent


def test_importing_every_library_module_loads_no_ui_module() -> None:
    code = (
        "import importlib, json, pkgutil, sys, pynerd\n"
        "for m in pkgutil.walk_packages(pynerd.__path__, 'pynerd.'):\n"
        "    importlib.import_module(m.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    bad = [m for m in loaded if m.split(".")[0] in FORBIDDEN]
    assert bad == []
    assert "pynerd.config" in loaded  # the walk really imported the library


def test_no_library_source_imports_a_ui_module_even_lazily() -> None:
    offenders = []
    for path in LIB.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [
                f"{path}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN
            ]
    assert offenders == []
