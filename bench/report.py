"""Render a results dict as Markdown, and keep docs/performance.md's generated block current.

The summary is built from the same dict that is saved as JSON, so what the docs
say is exactly what the results file records.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

START = "<!-- bench:start -->"
END = "<!-- bench:end -->"
NEW_DOC = "# Performance\n\nMeasured by `make bench` (see bench/README.md).\n"


def _ms(value: float) -> str:
    return f"{value:.1f}"


def _machine_line(machine: dict[str, Any]) -> str:
    commit = machine.get("git_commit")
    tree = f"commit `{commit[:12]}`" if commit else "no git commit"
    if machine.get("git_dirty"):
        tree += " (with uncommitted changes)"
    return (
        f"{machine.get('cpu_model') or 'unknown CPU'}, {machine.get('nproc')} CPUs, "
        f"{machine.get('memory_gib')} GiB, Linux {machine.get('kernel')}, "
        f"Python {machine.get('python')}, pynerd {machine.get('pynerd_version')}, {tree}"
    )


def _case_rows(case: dict[str, Any]) -> list[str]:
    stats, commands = case["stats"], case["commands"]
    refs = case.get("references") or {}
    by_label = {c["label"]: c for c in case["comparisons"]}
    rows = []
    for label in [*commands, *refs]:
        s = stats[label]
        cmp = by_label.get(label)
        role = "" if label == "pynerd" else f" ({label})"
        ratio = f"{cmp['ratio']:.2f}x" if cmp else ""
        target = f"≤ {cmp['target']:.2f}x" if cmp and cmp["target"] is not None else ""
        met = "" if not target else ("yes" if cmp and cmp["met"] else "**NO**")
        name = case["name"] if label == "pynerd" else ""
        what = f"`{commands[label]}`" if label in commands else refs[label]["description"]
        rows.append(
            f"| {name} | {what}{role} | {_ms(s['median'])} | {_ms(s['min'])} "
            f"| {_ms(s['p90'])} | {ratio} | {target} | {met} |"
        )
    return rows


def _runs_sentence(result: dict[str, Any]) -> str:
    """How often commands ran: the run's default, plus the cases that set their own."""
    mode = result["mode"]

    def often(runs: int, warmups: int) -> str:
        return f"{runs} times after {warmups} warm-up{'' if warmups == 1 else 's'}"

    own = [c for c in result["cases"]
           if (c.get("runs", mode["runs"]), c.get("warmups", mode["warmups"]))
           != (mode["runs"], mode["warmups"])]
    text = f"Each command ran {often(mode['runs'], mode['warmups'])}"
    if own:
        text += " (" + "; ".join(f"{c['name']}: {often(c['runs'], c['warmups'])}"
                                 for c in own) + ")"
    return text


def _peer_lines(peers: dict[str, Any]) -> list[str]:
    lines = []
    for name, p in peers.items():
        version = f" ({p['version']})" if p.get("version") else ""
        verdict = "compared" if p["usable"] else "skipped"
        lines.append(f"- {name}{version}: {verdict}; {p['note']}")
    return lines


def _breakdown(case: dict[str, Any]) -> list[str]:
    prof = case.get("importtime")
    if not prof:
        return []
    title = f"Cost breakdown: imports of `{case['commands']['pynerd']}`"
    if "error" in prof:
        return [f"#### {title}", "", f"`python -X importtime` {prof['error']}:", "",
                "```", prof["stderr"], "```", ""]
    wall = case["stats"]["pynerd"]["median"]
    lines = [
        f"#### {title}", "",
        f"`python -X importtime`, median of {prof['runs']} runs: {prof['modules']} modules, "
        f"{_ms(prof['total_import_ms'])} ms of imports (importtime's own overhead included) "
        f"against a {_ms(wall)} ms median wall time. Cumulative includes what the module "
        "imports; \"-\" in *imported by* means the script itself or code at run time.", "",
        "| module | imported by | cumulative ms | self ms |", "|---|---|---:|---:|",
    ]
    for row in prof["top"]:
        parent = f"`{row['imported_by']}`" if row["imported_by"] else "-"
        lines.append(f"| `{row['module']}` | {parent} | {_ms(row['cumulative_ms'])} "
                     f"| {_ms(row['self_ms'])} |")
    return [*lines, ""]


def summary(result: dict[str, Any]) -> str:
    """The Markdown summary of one harness run."""
    lines = [
        f"### Results: {result['started_utc']} on `{result['machine']['hostname']}`", "",
        f"Machine: {_machine_line(result['machine'])}.", "",
        f"{_runs_sentence(result)}, interleaved round by round; wall time in ms. "
        "Ratio is median(pynerd) / median(that command).", "",
        "| case | command | median | min | p90 | ratio | target | met |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    failed = [c for c in result["cases"] if c.get("error")]
    for case in result["cases"]:
        if not case.get("error"):
            lines += _case_rows(case)
    lines.append("")

    peers = result.get("peers", {})
    if peers:
        lines += ["Peers:", *_peer_lines(peers), ""]
    for case in result["cases"]:
        if case.get("peers"):
            lines += [f"Peers of {case['name']} (private instances started by its setup):",
                      *_peer_lines(case["peers"]), ""]
        if case.get("notes") and not case.get("error"):
            lines += [f"Notes on {case['name']}:", "", *case["notes"], ""]

    for case in failed:
        err = case["error"]
        lines += [f"**{case['name']} failed**: `{err['command']}` {err['status']}; "
                  "the case was not timed. Its stderr:", "", "```",
                  err["stderr"].rstrip() or "(empty)", "```", ""]

    for err in result.get("module_errors", []):
        lines += [f"**`{err['command']}` {err['status']}** (the module's shared set-up could "
                  "not be taken down cleanly). Its error:", "", "```",
                  err["stderr"].rstrip() or "(empty)", "```", ""]

    for case in result["cases"]:
        lines += _breakdown(case)
    return "\n".join(lines).rstrip() + "\n"


def update_docs(path: Path, block: str) -> None:
    """Replace the marker block of `path` (created if missing), atomically.

    Text outside the markers is hand-written and kept as is.
    """
    text = path.read_text() if path.exists() else NEW_DOC
    generated = f"{START}\n{block.rstrip()}\n{END}"
    head, found_start, rest = text.partition(START)
    _, found_end, tail = rest.partition(END)
    if found_start and found_end:
        text = head + generated + tail
    else:
        text = text.rstrip() + "\n\n" + generated + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
