"""Cost breakdown: where a command's start-up time goes, from `python -X importtime`.

For a CLI in Python, start-up is mostly imports, so the most expensive imports
(cumulative, i.e. including what they pull in) are the list of things to trim.
Several runs are taken and each module's median kept, to damp one-off noise.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path

LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S.*)$")


def parse(stderr: str) -> list[tuple[str, str | None, int, int]]:
    """(module, importer, self µs, cumulative µs) for each import, in report order.

    importtime prints a module after the imports it triggered (post-order, nesting
    by indentation), so a module's importer is the next line one level shallower.
    Top-level lines have no importer: the script imported them, or code at run time.
    """
    rows = []
    for line in stderr.splitlines():
        match = LINE.match(line)
        if match:
            self_us, cum_us, indent, name = match.groups()
            rows.append((name, (len(indent) - 1) // 2, int(self_us), int(cum_us)))
    out: list[tuple[str, str | None, int, int]] = []
    outer: list[str] = []  # outer[d]: the enclosing import at depth d, walking backwards
    for name, depth, own, cum in reversed(rows):
        del outer[depth:]
        out.append((name, outer[depth - 1] if 0 < depth <= len(outer) else None, own, cum))
        outer.append(name)
    return out[::-1]


def profile(
    script: Path, args: list[str], env: dict[str, str], repeat: int, top: int = 15
) -> dict[str, object]:
    """Run `python -X importtime <script> args` `repeat` times; the `top` costliest imports."""
    runs: list[list[tuple[str, str | None, int, int]]] = []
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", str(script), *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, env=env, timeout=60, check=False,
        )
        if proc.returncode != 0:
            tail = [ln for ln in proc.stderr.splitlines() if not ln.startswith("import time:")]
            return {"error": f"exited {proc.returncode}", "stderr": "\n".join(tail[-20:])}
        runs.append(parse(proc.stderr))

    importer: dict[str, str | None] = {}
    self_us: dict[str, list[int]] = {}
    cum_us: dict[str, list[int]] = {}
    totals = []
    for rows in runs:
        totals.append(sum(cum for _, parent, _, cum in rows if parent is None))
        for name, parent, own, cum in rows:
            importer.setdefault(name, parent)
            self_us.setdefault(name, []).append(own)
            cum_us.setdefault(name, []).append(cum)

    def ms(values: list[int]) -> float:
        return round(statistics.median(values) / 1000, 2)

    ranked = sorted(cum_us, key=lambda name: statistics.median(cum_us[name]), reverse=True)
    return {
        "runs": repeat,
        "modules": len(cum_us),
        "total_import_ms": ms(totals),
        "top": [
            {"module": n, "imported_by": importer[n], "cumulative_ms": ms(cum_us[n]),
             "self_ms": ms(self_us[n])}
            for n in ranked[:top]
        ],
    }
