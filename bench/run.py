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
import functools
import importlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hostenv
import importtime
import machine
import peers as peer_mod
import report
from case import Case, Prepared, clean_env, display, expand, pynerd_script
from timing import TIMEOUT_S, Command, CommandFailed, sample, summarize

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


def _hook(hook: Callable[[Path], None] | None, work: Path) -> Callable[[], None] | None:
    return None if hook is None else functools.partial(hook, work)


def run_case(module: str, case: Case, peers: dict[str, peer_mod.PeerStatus],
             runs: int, warmups: int, profile_runs: int) -> dict[str, Any]:
    """Set up, time, profile and tear down one case; failures become an `error` entry."""
    result: dict[str, Any] = {"name": case.name, "module": module, "runs": runs,
                              "warmups": warmups, "description": case.description,
                              "error": None}
    work = Path(tempfile.mkdtemp(prefix=f"pynerd-bench-{case.name}-"))
    script = str(pynerd_script())
    try:
        prepared = (case.setup(work) if case.setup else None) or Prepared()
        subst = prepared.subst
        if case.peers_from_setup:
            peers = prepared.peers
            result["peers"] = {n: s.to_json() for n, s in sorted(peers.items())}
        env = clean_env(case.env)
        timeout = case.timeout_s or TIMEOUT_S

        def command(label: str, argv: list[str]) -> Command:
            return Command(label, argv, env, _hook(case.prepare.get(label), work), timeout)

        pynerd_argv = expand(case.pynerd, work, subst)
        commands = [command("pynerd", pynerd_argv if case.full_argv else [script, *pynerd_argv])]
        if case.baseline:
            commands.append(command("baseline", expand(case.baseline, work, subst)))
        result["commands"] = {c.label: display(c.argv, work, subst) for c in commands}
        result["skipped_peers"] = {}
        for name, argv in case.peers.items():
            peer = peers.get(name) or peer_mod.PeerStatus(
                name, None, None, False, "not provided by the case's setup")
            if not (peer.usable and peer.path):
                result["skipped_peers"][name] = peer.note
                continue
            argv = expand(argv, work, subst)
            result["commands"][name] = display(argv, work, subst)
            known = peer_mod.PEERS.get(name)  # a case may compare with a non-peer (runc)
            if known and argv[0] == known.binary:  # the very binary that was probed
                argv = [peer.path, *argv[1:]]
            commands.append(command(name, argv))
        try:
            samples = sample(commands, runs, warmups)
        except CommandFailed as exc:
            status = "timed out" if exc.returncode is None else f"exited {exc.returncode}"
            result["error"] = _error(display(exc.command.argv, work, subst), status, exc.stderr)
            return result
        for ref in prepared.references:
            samples[ref.label] = ref.samples_s
        result["references"] = {r.label: {"description": r.description, "detail": r.detail}
                                for r in prepared.references}
        result["notes"] = prepared.notes
        stats = {label: summarize(s) for label, s in samples.items()}
        result["samples_ms"] = {k: [round(x * 1000, 3) for x in v] for k, v in samples.items()}
        result["stats"] = stats
        result["comparisons"] = [_compare(case, label, stats) for label in stats if
                                 label != "pynerd"]
        if case.importtime and not case.full_argv:
            result["importtime"] = importtime.profile(
                Path(script), expand(case.pynerd, work, subst), env, profile_runs)
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
    target = case.target if label == "baseline" else case.targets.get(label)
    return {"label": label, "ratio": round(ratio, 3), "target": target,
            "met": None if target is None else ratio <= target}


def _finish_modules(chosen: list[tuple[str, Case]]) -> list[dict[str, str]]:
    """Call each module's `finish()` once, after its last case (also on ^C).

    A module whose cases share costly state (daemons, pulled images) builds it in
    the first case's setup and takes it down here. A failure (e.g. a leak) is
    returned, not attached to a case: the cases' numbers stay valid.
    """
    errors = []
    for module in dict.fromkeys(m for m, _ in chosen):
        finish = getattr(sys.modules.get(f"bench_{module}"), "finish", None)
        if finish is None:
            continue
        try:
            finish()
        except Exception:
            print(f"bench: finishing {module} FAILED", file=sys.stderr)
            errors.append(_error(f"bench_{module}.finish()", "raised", traceback.format_exc()))
    return errors


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
    ap.add_argument("--runs", type=int,
                    help=f"timed runs per command (default {RUNS}, or the case's own)")
    ap.add_argument("--quick", action="store_true",
                    help=f"{QUICK_RUNS} runs per command (or the case's quick_runs)")
    ap.add_argument("--warmups", type=int,
                    help=f"untimed rounds first (default {WARMUPS}, or the case's own)")
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
    warmups = WARMUPS if args.warmups is None else args.warmups
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    t0 = time.monotonic()

    # Probing and running peers (podman with its default root, daemons) touches host
    # paths; whatever they create or change is undone at the end.
    guard = hostenv.HostGuard()
    try:
        peers = peer_mod.probe_all(
            {p for _, c in chosen if not c.peers_from_setup for p in c.peers})
        info = machine.info()
        info["peers"] = {n: s.version for n, s in peers.items() if s.path}
        cases = []
        for module, case in chosen:
            print(f"bench: {case.name} ...", file=sys.stderr, flush=True)
            case_runs = args.runs or (case.quick_runs if args.quick else case.runs) or runs
            case_warmups = warmups
            if args.warmups is None and case.warmups is not None:
                case_warmups = case.warmups
            cases.append(run_case(module, case, peers, case_runs, case_warmups,
                                  3 if args.quick else 5))
            if cases[-1]["error"]:
                print(f"bench: {case.name} FAILED: {cases[-1]['error']['status']}",
                      file=sys.stderr)
    finally:
        module_errors = _finish_modules(chosen)
        restored = guard.restore()
        if restored:
            print(f"bench: host restored: {'; '.join(restored)}", file=sys.stderr)

    result = {
        "schema": 1,
        "started_utc": started.isoformat().replace("+00:00", "Z"),
        "duration_s": round(time.monotonic() - t0, 1),
        "mode": {"runs": runs, "warmups": warmups, "quick": args.quick,
                 "only": args.only},
        "machine": info,
        "peers": {n: s.to_json() for n, s in peers.items()},
        "cases": cases,
        "module_errors": module_errors,
    }
    path = write_json(result, args.out, started)
    text = report.summary(result)
    print(text)
    print(f"bench: results in {path} ({result['duration_s']} s)", file=sys.stderr)
    if not args.no_docs:
        report.update_docs(DOCS, text)
        print(f"bench: updated {DOCS}", file=sys.stderr)
    return 1 if module_errors or any(c["error"] for c in cases) else 0


if __name__ == "__main__":
    sys.exit(main())
