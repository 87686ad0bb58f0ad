"""Benchmark harness: `python bench/run.py [--only NAME ...] [--runs N] [--quick] [--out DIR]`.

Discovers `bench/bench_*.py` (each exports `cases() -> list[Case]`), times every
case against its baseline and usable peers, saves the samples and machine info
as JSON under bench/results/, prints a Markdown summary and writes it into
docs/performance.md between the bench markers. Speed is measured here, never
asserted: unmet targets are reported, only broken commands make the run fail.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import importtime
import machine
import peers as peer_mod
import report
from case import Case, clean_env, display, expand, pynerd_script
from timing import Command, CommandFailed, sample, summarize

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs" / "performance.md"
RUNS, QUICK_RUNS, WARMUPS = 15, 5, 2


def discover() -> list[tuple[str, Case]]:
    """(module, case) for every case of every bench_*.py, in file order; names must be unique."""
    found: list[tuple[str, Case]] = []
    for path in sorted(HERE.glob("bench_*.py")):
        module = importlib.import_module(path.stem)
        found += [(path.stem.removeprefix("bench_"), case) for case in module.cases()]
    names = [case.name for _, case in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SystemExit(f"bench: duplicate case names: {', '.join(dupes)}")
    return found


def select(found: list[tuple[str, Case]], only: list[str]) -> list[tuple[str, Case]]:
    """Cases whose name or module (bench_<module>.py) is in `only`; all if `only` is empty."""
    if not only:
        return found
    chosen = [(m, c) for m, c in found if c.name in only or m in only]
    known = {c.name for _, c in found} | {m for m, _ in found}
    unknown = [n for n in only if n not in known]
    if unknown:
        raise SystemExit(f"bench: no case or module named {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known))}")
    return chosen


def _error(command: str, status: str, stderr: str) -> dict[str, str]:
    return {"command": command, "status": status, "stderr": stderr[-4000:]}


def run_case(module: str, case: Case, peers: dict[str, peer_mod.PeerStatus],
             runs: int, warmups: int, profile_runs: int) -> dict[str, Any]:
    """Set up, time, profile and tear down one case; failures become an `error` entry."""
    result: dict[str, Any] = {"name": case.name, "module": module,
                              "description": case.description, "error": None}
    work = Path(tempfile.mkdtemp(prefix=f"pynerd-bench-{case.name}-"))
    script = str(pynerd_script())
    try:
        if case.setup:
            case.setup(work)
        env = clean_env(case.env)
        commands = [Command("pynerd", [script, *expand(case.pynerd, work)], env)]
        if case.baseline:
            commands.append(Command("baseline", expand(case.baseline, work), env))
        result["commands"] = {c.label: display(c.argv, work) for c in commands}
        result["skipped_peers"] = {}
        for name, argv in case.peers.items():
            peer = peers[name]
            if not (peer.usable and peer.path):
                result["skipped_peers"][name] = peer.note
                continue
            result["commands"][name] = display(expand(argv, work), work)
            if argv[0] == peer_mod.PEERS[name].binary:  # the very binary that was probed
                argv = [peer.path, *argv[1:]]
            commands.append(Command(name, expand(argv, work), env))
        try:
            samples = sample(commands, runs, warmups)
        except CommandFailed as exc:
            status = "timed out" if exc.returncode is None else f"exited {exc.returncode}"
            result["error"] = _error(display(exc.command.argv, work), status, exc.stderr)
            return result
        stats = {label: summarize(s) for label, s in samples.items()}
        result["samples_ms"] = {k: [round(x * 1000, 3) for x in v] for k, v in samples.items()}
        result["stats"] = stats
        result["comparisons"] = [_compare(case, label, stats) for label in stats if
                                 label != "pynerd"]
        if case.importtime:
            result["importtime"] = importtime.profile(
                Path(script), expand(case.pynerd, work), env, profile_runs)
    except Exception:
        result["error"] = _error(case.name, "raised in the harness or setup",
                                 traceback.format_exc())
    finally:
        try:
            if case.teardown:
                case.teardown(work)
        except Exception:
            result["error"] = result["error"] or _error(case.name, "teardown raised",
                                                        traceback.format_exc())
        shutil.rmtree(work, ignore_errors=True)
    return result


def _compare(case: Case, label: str, stats: dict[str, dict[str, float]]) -> dict[str, Any]:
    ratio = stats["pynerd"]["median"] / stats[label]["median"]
    target = case.target if label == "baseline" else None
    return {"label": label, "ratio": round(ratio, 3), "target": target,
            "met": None if target is None else ratio <= target}


def write_json(result: dict[str, Any], out: Path, started: dt.datetime) -> Path:
    """Save atomically as <UTC timestamp>-<hostname>.json (the .tmp is git-ignored)."""
    out.mkdir(parents=True, exist_ok=True)
    host = re.sub(r"[^A-Za-z0-9._-]", "_", result["machine"]["hostname"])
    path = out / f"{started:%Y%m%dT%H%M%SZ}-{host}.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", action="extend", default=[], metavar="NAME",
                    help="case names or modules (bench_<module>.py) to run")
    ap.add_argument("--runs", type=int, help=f"timed runs per command (default {RUNS})")
    ap.add_argument("--quick", action="store_true", help=f"{QUICK_RUNS} runs per command")
    ap.add_argument("--warmups", type=int, default=WARMUPS, help="untimed rounds first")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="results directory")
    ap.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    ap.add_argument("--list", action="store_true", help="list cases and exit")
    args = ap.parse_args(argv)
    if args.runs is not None and args.runs < 1:
        ap.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = select(discover(), args.only)
    if args.list:
        for module, case in chosen:
            print(f"{case.name:<20} [{module}] {case.description}")
        return 0
    runs = args.runs or (QUICK_RUNS if args.quick else RUNS)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = time.monotonic()

    peers = peer_mod.probe_all({p for _, c in chosen for p in c.peers})
    info = machine.info()
    info["peers"] = {n: s.version for n, s in peers.items() if s.path}
    cases = []
    for module, case in chosen:
        print(f"bench: {case.name} ...", file=sys.stderr, flush=True)
        cases.append(run_case(module, case, peers, runs, args.warmups, 3 if args.quick else 5))
        if cases[-1]["error"]:
            print(f"bench: {case.name} FAILED: {cases[-1]['error']['status']}", file=sys.stderr)

    result = {
        "schema": 1,
        "started_utc": started.isoformat().replace("+00:00", "Z"),
        "duration_s": round(time.monotonic() - t0, 1),
        "mode": {"runs": runs, "warmups": args.warmups, "quick": args.quick,
                 "only": args.only},
        "machine": info,
        "peers": {n: s.to_json() for n, s in peers.items()},
        "cases": cases,
    }
    path = write_json(result, args.out, started)
    text = report.summary(result)
    print(text)
    print(f"bench: results in {path} ({result['duration_s']} s)", file=sys.stderr)
    if not args.no_docs:
        report.update_docs(DOCS, text)
        print(f"bench: updated {DOCS}", file=sys.stderr)
    return 1 if any(c["error"] for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
