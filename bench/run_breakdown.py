"""Where `pynerd run --rm --net none busybox true` spends its time: `python bench/run_breakdown.py`.

Hand-run companion of bench_run.py, for the cost breakdown in docs/performance.md.
pynerd itself has no timing code, so everything is measured from the outside:

1. the CLI's wall time, next to the interpreter alone, `import typer` and `runc run`;
2. `python -X importtime` of the command, summed by package (imports are most of
   a Python CLI's start-up);
3. a timeline of the cold command between the runc processes it spawns: interpreter
   + imports + create until `runc run -d`, each runc call, what follows the exit;
4. the command run in-process (`pynerd_cli.main.run_argv(argv)`, modules already
   imported) with pynerd's steps wrapped in timers: image lookup, snapshot prepare,
   rootfs mount, /etc files, spec, records, runc run -d, the wait, teardown;
5. cProfile of that in-process call: the functions with the most own time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import importtime
from bench_run import BUNDLE, REF, ROOTS, RUNC, World, _run
from case import PYTHON, clean_env, pynerd_script
from pull_breakdown import Recorder


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _median_wall(argv: list[str], env: dict[str, str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def walls(world: World, argv: list[str], env: dict[str, str], runs: int) -> list[str]:
    """The command's wall time next to what it cannot go below."""
    script = str(pynerd_script())
    rows = [("`pynerd run --rm --net none busybox true`", [script, *argv]),
            ("`python -c pass` (interpreter, site)", [PYTHON, "-c", "pass"]),
            ("`python -S -E -c pass` (bare interpreter)", [PYTHON, "-S", "-E", "-c", "pass"]),
            ("`python -c \"import typer\"`", [PYTHON, "-c", "import typer"])]
    # main() parses `run` with pynerd_cli.fastrun; typer's path parses the same flags
    # (what every command line the fast path declines costs). Both run as `python -c`.
    fast = "import sys\nfrom pynerd_cli.main import main\nmain(sys.argv[1:])"
    typer_path = ("import os, sys\nfrom pynerd_cli.errors import run\nfrom pynerd_cli.tree "
                  "import app\ncode = run(app, sys.argv[1:])\nsys.stdout.flush()\n"
                  "sys.stderr.flush()\nos._exit(code)")
    rows += [("the same as `python -c` calling `main()` (fast path)", [PYTHON, "-c", fast, *argv]),
             ("… through typer's command tree instead", [PYTHON, "-c", typer_path, *argv])]
    out = ["| command | median ms |", "|---|---:|"]
    for label, cmd in rows:
        out.append(f"| {label} | {_ms(_median_wall(cmd, env, runs))} |")
    return out


def imports(argv: list[str], env: dict[str, str], runs: int) -> list[str]:
    """importtime's self times summed by package: who pays for the imports."""
    totals: dict[str, list[int]] = defaultdict(list)
    modules: dict[str, list[int]] = defaultdict(list)
    importers: dict[str, str | None] = {}
    grand = []
    for _ in range(runs):
        proc = subprocess.run([PYTHON, "-X", "importtime", str(pynerd_script()), *argv],
                              env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, check=True)
        by_group: dict[str, int] = defaultdict(int)
        for name, parent, own, _cum in importtime.parse(proc.stderr):
            by_group[_group(name)] += own
            modules[name].append(own)
            importers.setdefault(name, parent)
        for group, us in by_group.items():
            totals[group].append(us)
        grand.append(sum(by_group.values()))
    out = [f"Imports, median of {runs} runs: {statistics.median(grand) / 1000:.1f} ms "
           "(self times summed; importtime's overhead included)", "",
           "| package | ms |", "|---|---:|"]
    ranked = sorted(totals, key=lambda g: statistics.median(totals[g]), reverse=True)
    for group in ranked[:14]:
        out.append(f"| {group} | {statistics.median(totals[group]) / 1000:.1f} |")
    out += ["", "Single modules by own import time:", "",
            "| module | imported by | own ms |", "|---|---|---:|"]
    heavy = sorted(modules, key=lambda m: statistics.median(modules[m]), reverse=True)
    for name in heavy[:15]:
        out.append(f"| `{name}` | {importers[name] or '-'} "
                   f"| {statistics.median(modules[name]) / 1000:.1f} |")
    return out


def _group(module: str) -> str:
    """pynerd's modules by subpackage, third-party packages by name, the rest as stdlib."""
    parts = module.split(".")
    if parts[0] in ("pynerd", "pynerd_cli") and len(parts) > 1:
        deep = parts[1] in ("containers", "images", "volumes")
        return ".".join(parts[:3] if deep else parts[:2])
    if parts[0] in ("typer", "click", "rich", "requests", "urllib3", "site"):
        return parts[0]
    if parts[0].startswith("__editable__"):
        return "editable-install finder"
    return "stdlib"


# The CLI in a fresh interpreter, noting when it spawns each runc and when that runc
# exits (CLOCK_MONOTONIC, the clock of time.perf_counter in every process), when the
# command returns and when os._exit is called. Importing monitor first moves ~2 ms of
# imports, costs nothing more.
LAUNCHER = """
import os, sys, time
from pynerd.containers import monitor
marks = []
out = sys.argv[1]
spawn, wait = monitor._spawn, monitor._wait
def timed_spawn(argv, *args, **kwargs):
    verb = next((w for w in argv if w in ("run", "create", "start", "delete")), argv[0])
    marks.append((time.perf_counter(), "spawn of `runc " + verb + "`"))
    return spawn(argv, *args, **kwargs)
def timed_wait(pid):
    status = wait(pid)
    marks.append((time.perf_counter(), "that runc exited"))
    return status
monitor._spawn, monitor._wait = timed_spawn, timed_wait
from pynerd_cli import main as cli
run_argv = cli.run_argv
def returned(argv):
    try:
        return run_argv(argv)
    finally:
        marks.append((time.perf_counter(), "the command returned"))
cli.run_argv = returned
hard_exit = os._exit
def dump(code):
    with open(out, "w") as f:
        f.write("\\n".join(f"{t!r} {label}" for t, label in marks))
    hard_exit(code)
os._exit = dump
cli.main(sys.argv[2:])
"""


def timeline(argv: list[str], env: dict[str, str], runs: int, scratch: Path) -> list[str]:
    """The cold command's phases, seen from the runc processes it spawns.

    strace -f would show them too, but following runc's Go threads with ptrace more
    than doubles runc's time; a wrapped `_spawn` in a fresh interpreter costs nothing.
    """
    phases: dict[str, list[float]] = defaultdict(list)
    order: list[str] = []
    walls_ = []
    marks_file = scratch / "marks"
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([PYTHON, "-c", LAUNCHER, str(marks_file), *argv], env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
        end = time.perf_counter()
        marks = [line.split(" ", 1) for line in marks_file.read_text().splitlines()]
        points = [(start, "start"), *((float(t), label) for t, label in marks),
                  (end, "process reaped (exit, interpreter teardown skipped)")]
        seen: dict[str, int] = defaultdict(int)
        for (a, _), (b, label) in itertools.pairwise(points):
            seen[label] += 1
            key = f"→ {label}" + (f" ({seen[label]})" if seen[label] > 1 else "")
            phases[key].append(b - a)
            if key not in order:
                order.append(key)
        walls_.append(end - start)
    rows = [f"Phases of the cold command, between its runc spawns, median of {runs} "
            f"(wall {_ms(statistics.median(walls_))} ms):", "",
            "| phase | ms |", "|---|---:|"]
    rows += [f"| {label} | {_ms(statistics.median(phases[label]))} |" for label in order]
    return rows


def in_process(argv: list[str], runs: int) -> tuple[list[str], list[str]]:
    """The command in-process, imports done: pynerd's steps timed, then cProfiled."""
    from pynerd_cli import runopts
    from pynerd_cli.main import run_argv

    from pynerd.containers import create, etcfiles, lifecycle, monitor, remove
    from pynerd.containers import spec as specmod
    from pynerd.runtime.runc import Runc
    from pynerd.snapshots import mount
    from pynerd.snapshots.overlay import OverlaySnapshotter
    from pynerd.state import kv
    from pynerd.volumes import mounts as volmounts

    def call() -> None:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            code = run_argv(list(argv))
        if code != 0:
            raise RuntimeError(f"in-process run exited {code}")

    for _ in range(2):
        call()  # warm: lazy imports, page cache
    rec = Recorder()
    const: Callable[[str], Callable[..., str]] = lambda text: lambda *a, **k: text  # noqa: E731
    steps: list[tuple[Any, str, str]] = [
        (runopts, "build_options", "cli: options → CreateOptions"),
        (lifecycle, "run", "lifecycle.run (create + start + wait + remove)"),
        (create, "create", "create (total)"),
        (create, "_image", "create: image lookup"),
        (create, "_reserve_name", "create: name reservation"),
        (OverlaySnapshotter, "prepare", "create: snapshot prepare"),
        (mount, "mount_all", "create: rootfs mount"),
        (etcfiles, "write", "create: /etc files (hostname, hosts, resolv.conf)"),
        (volmounts, "resolve", "create: volume resolution"),
        (specmod, "build_spec", "create: spec build"),
        (create, "_write_json", "create: config.json write"),
        (create, "_record", "create: record build"),
        (lifecycle, "monitor_config", "monitor config"),
        (monitor, "run_foreground", "run_foreground (total)"),
        (monitor.Monitor, "start_container", "monitor: runc run -d (+ pipes, pid file, record)"),
        (monitor.Monitor, "process_started", "monitor: running record"),
        (monitor.Monitor, "on_init_exit", "monitor: container exited (drain)"),
        (monitor.Monitor, "runc_quiet", "monitor: a runc call (delete)"),
        (monitor.Monitor, "finish", "monitor: exit record"),
        (monitor.Monitor, "shutdown", "monitor: shutdown"),
        (remove, "destroy", "teardown (total)"),
        (Runc, "delete", "teardown: runc delete --force (if the monitor did not)"),
        (remove, "discard_files", "teardown: unmount + snapshot remove + rmtree"),
        (mount, "unmount", "teardown: rootfs unmount"),
        (OverlaySnapshotter, "remove", "teardown: snapshot remove"),
        (volmounts, "release", "teardown: volume release"),
        (kv.BucketTxn, "put", "kv: record/name put"),
        (kv.BucketTxn, "delete", "kv: record/name delete"),
    ]
    for owner, name, label in steps:
        rec.wrap(owner, name, const(label))
    last = ["?"]  # the runc subcommand last spawned: `_wait(pid)` does not say

    def spawned(argv_: list[str], *a: Any, **k: Any) -> str:
        last[0] = next((w for w in argv_ if w in ("run", "create", "start", "delete")), argv_[0])
        return f"monitor: spawn runc {last[0]}"

    rec.wrap(monitor, "_spawn", spawned)
    rec.wrap(monitor, "_wait", lambda *a, **k: f"monitor: runc {last[0]} process (spawn → exit)")
    totals: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = {}
    firsts: dict[str, list[float]] = defaultdict(list)
    walls_ = []
    try:
        for _ in range(runs):
            rec.spans.clear()
            rec.t0 = time.perf_counter()
            call()
            walls_.append(time.perf_counter() - rec.t0)
            per: dict[str, float] = defaultdict(float)
            seen: dict[str, int] = defaultdict(int)
            for label, begin, end in rec.spans:
                if label not in per:
                    firsts[label].append(begin)
                per[label] += end - begin
                seen[label] += 1
            for label, seconds in per.items():
                totals[label].append(seconds)
                counts[label] = seen[label]
            started = [e for lb, _, e in rec.spans if lb.startswith("monitor: running record")]
            exited = [b for lb, b, _ in rec.spans if lb.startswith("monitor: container exited")]
            wait_label = "wait: running recorded → exit seen"
            if started and exited:
                totals[wait_label].append(exited[0] - started[0])
                firsts[wait_label].append(started[0])
                counts[wait_label] = 1
    finally:
        rec.restore()
    order = sorted(totals, key=lambda lb: statistics.median(firsts[lb]))
    table = [f"In-process (`pynerd_cli.main.run_argv(argv)`, imports done), median of "
             f"{runs}: {_ms(statistics.median(walls_))} ms", "",
             "| step | calls | starts at ms | ms |", "|---|---:|---:|---:|"]
    for label in order:
        table.append(f"| {label} | {counts[label]} | {_ms(statistics.median(firsts[label]))} "
                     f"| {_ms(statistics.median(totals[label]))} |")

    profile = cProfile.Profile()
    profile.enable()
    call()
    profile.disable()
    buf = io.StringIO()
    stats = pstats.Stats(profile, stream=buf)
    prof = [f"cProfile of one in-process run: {stats.total_calls} calls "  # type: ignore[attr-defined]
            "(own time, top 12)", "", "| function | calls | own ms | cumulative ms |",
            "|---|---:|---:|---:|"]
    entries = stats.stats  # type: ignore[attr-defined]
    ranked = sorted(entries.items(), key=lambda kv_: kv_[1][2], reverse=True)[:12]
    for (file, line, func), (_cc, nc, tt, ct, _callers) in ranked:
        where = f"{Path(file).name}:{line}" if line else file
        prof.append(f"| `{func}` ({where}) | {nc} | {_ms(tt)} | {_ms(ct)} |")
    return table, prof


def runc_specs(world: World, runs: int, scratch: Path) -> list[str]:
    """`runc run` of pynerd's own spec, then without its parts: what the spec costs.

    The spec comes from a `pynerd create`d container (its rootfs stays mounted);
    each variant is a bundle of its own that points at that rootfs.
    """
    assert world.dir is not None
    world.peers["runc"] = world._runc()  # the minimal bundle (`runc spec`) to compare with
    cid = _run(world.sub(["pynerd", *ROOTS, "create", "--net", "none", REF, "true"]), "create")
    spec_file = next((world.dir / "pynerd" / "data").glob(f"**/containers/{cid}/config.json"))
    spec = json.loads(spec_file.read_text())
    spec["root"]["path"] = str(spec_file.parent / spec["root"]["path"])
    spec["linux"]["cgroupsPath"] = "/pynerd-bench/spec"
    variants: list[tuple[str, dict[str, Any]]] = [("pynerd's spec", spec)]
    spec = json.loads(json.dumps(spec))
    del spec["linux"]["seccomp"]
    variants.append(("… without seccomp (Docker's allowlist, 377 names)", spec))
    spec = json.loads(json.dumps(spec))
    spec["linux"].pop("resources", None)
    spec["linux"].pop("sysctl", None)
    variants.append(("… and without device cgroup rules and sysctls", spec))
    spec = json.loads(json.dumps(spec))
    spec["linux"].pop("maskedPaths", None)
    spec["linux"].pop("readonlyPaths", None)
    spec["mounts"] = [m for m in spec["mounts"] if m["type"] != "bind"]
    variants.append(("… and without masked/read-only paths and the 3 /etc binds", spec))
    runc = world.sub(RUNC)
    bundles = []
    for i, (label, variant) in enumerate(variants):
        bundle = scratch / f"bundle-{i}"
        bundle.mkdir()
        (bundle / "config.json").write_text(json.dumps(variant))
        bundles.append((label, str(bundle)))
    bundles.append(("`runc spec`'s minimal config (bench_run's runc floor)",
                    world.sub([BUNDLE])[0]))
    samples: dict[str, list[float]] = defaultdict(list)
    for round_no in range(runs + 1):
        for label, path in bundles:
            start = time.perf_counter()
            subprocess.run([*runc, "run", "--bundle", path, f"spec-{round_no}"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
            if round_no:  # round 0 warms up
                samples[label].append(time.perf_counter() - start)
    out = [f"`runc run` (create + start + wait + delete) of `true`, median of {runs}:", "",
           "| bundle | ms |", "|---|---:|"]
    out += [f"| {label} | {_ms(statistics.median(samples[label]))} |" for label, _ in bundles]
    return [*out, "", *_create_start(runc, bundles[0][1], runs, scratch)]


def _create_start(runc: list[str], bundle: str, runs: int, scratch: Path) -> list[str]:
    """pynerd starts a container with `runc run -d`, one process (create + start with -t)."""
    pid_file = str(scratch / "pid")
    quiet: dict[str, Any] = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
                             "stderr": subprocess.DEVNULL, "check": True}
    ways = {
        "`runc create` + `runc start` (pynerd with -t)": [
            [*runc, "create", "--bundle", bundle, "--pid-file", pid_file, "cs"],
            [*runc, "start", "cs"]],
        "`runc run -d` (pynerd otherwise: one runc process)": [
            [*runc, "run", "-d", "--bundle", bundle, "--pid-file", pid_file, "cs"]],
    }
    samples: dict[str, list[float]] = defaultdict(list)
    for round_no in range(runs + 1):
        for label, commands in ways.items():
            start = time.perf_counter()
            for argv in commands:
                subprocess.run(argv, **quiet)
            if round_no:
                samples[label].append(time.perf_counter() - start)
            subprocess.run([*runc, "delete", "--force", "cs"], **quiet)
    out = [f"Starting a container of pynerd's spec, median of {runs}:", "",
           "| how | ms |", "|---|---:|"]
    return [*out, *(f"| {label} | {_ms(statistics.median(samples[label]))} |" for label in ways)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run_breakdown.py", description=__doc__)
    ap.add_argument("--runs", type=int, default=15, help="runs per measurement (default 15)")
    args = ap.parse_args(argv)
    world = World(peers=False)
    scratch = Path(tempfile.mkdtemp(prefix="pynerd-bench-run-breakdown-"))
    try:
        world.ensure()
        run_argv = world.sub([*ROOTS, "run", "--rm", "--net", "none", REF, "true"])
        env = clean_env({})
        os.environ.update({k: v for k, v in env.items() if k == "PYNERD_TOML"})
        for key in [k for k in os.environ if k.startswith("PYNERD_") and k != "PYNERD_TOML"]:
            del os.environ[key]
        print("\n".join(walls(world, run_argv, env, args.runs)), "\n")
        print("\n".join(imports(run_argv, env, max(3, args.runs // 3))), "\n")
        print("\n".join(timeline(run_argv, env, args.runs, scratch)), "\n")
        print("\n".join(runc_specs(world, args.runs, scratch)), "\n")
        table, prof = in_process(run_argv, args.runs)
        print("\n".join(table), "\n")
        print("\n".join(prof))
    finally:
        world.finish()
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
