"""Wall-clock sampling of whole commands, and the statistics we report.

Commands of one case run interleaved, round by round, with the starting command
rotated each round, so machine drift (thermal, noisy neighbours, page cache)
hits pynerd and its comparisons alike instead of biasing one of them.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Command:
    """A labelled argv: the label is "pynerd", "baseline" or a peer name.

    `prepare` runs before every run, warm-ups included, outside the timed region:
    it resets whatever state the command leaves behind (an image store after a
    pull), so every sample measures the same work.
    """

    label: str
    argv: list[str]
    env: dict[str, str]
    prepare: Callable[[], None] | None = None
    timeout_s: float = TIMEOUT_S


class CommandFailed(Exception):
    """A timed command exited non-zero (or timed out): its samples would be meaningless."""

    def __init__(self, command: Command, returncode: int | None, stderr: str) -> None:
        status = "timed out" if returncode is None else f"exited {returncode}"
        super().__init__(f"{command.label} {status}")
        self.command = command
        self.returncode = returncode
        self.stderr = stderr


def time_once(command: Command, errfile: IO[bytes]) -> float:
    """Prepare, then run once; return seconds. Stderr goes to a scratch file for errors.

    No `timeout=` on the wait: with one, Popen.wait polls with sleeps of up to 50 ms,
    which quantizes every sample. A watchdog thread started before the clock kills
    a hung command instead.
    """
    if command.prepare is not None:
        command.prepare()
    errfile.seek(0)
    errfile.truncate()
    running: list[subprocess.Popen[bytes]] = []
    killed: list[bool] = []

    def kill() -> None:
        for proc in running:
            proc.kill()
            killed.append(True)

    watchdog = threading.Timer(command.timeout_s, kill)
    watchdog.start()
    try:
        start = time.perf_counter()
        with subprocess.Popen(command.argv, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=errfile,
                              env=command.env) as proc:
            running.append(proc)
            returncode = proc.wait()
        elapsed = time.perf_counter() - start
    finally:
        watchdog.cancel()
    if returncode != 0 or killed:
        raise CommandFailed(command, None if killed else returncode, _read(errfile))
    return elapsed


def _read(errfile: IO[bytes]) -> str:
    errfile.seek(0)
    return errfile.read().decode(errors="replace")


def sample(commands: list[Command], runs: int, warmups: int) -> dict[str, list[float]]:
    """Time every command `runs` times after `warmups` untimed rounds, interleaved."""
    samples: dict[str, list[float]] = {c.label: [] for c in commands}
    with tempfile.TemporaryFile(prefix="pynerd-bench-stderr-") as errfile:
        for round_no in range(warmups + runs):
            shift = round_no % len(commands)
            for command in commands[shift:] + commands[:shift]:
                elapsed = time_once(command, errfile)
                if round_no >= warmups:
                    samples[command.label].append(elapsed)
    return samples


def summarize(seconds: list[float]) -> dict[str, float]:
    """Median, min, p90 (and mean/stdev for the record) in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    p90 = statistics.quantiles(ms, n=10, method="inclusive")[8] if len(ms) > 1 else ms[-1]
    return {
        "median": round(statistics.median(ms), 3),
        "min": round(ms[0], 3),
        "p90": round(p90, 3),
        "mean": round(statistics.fmean(ms), 3),
        "stdev": round(statistics.stdev(ms), 3) if len(ms) > 1 else 0.0,
        "n": len(ms),
    }
