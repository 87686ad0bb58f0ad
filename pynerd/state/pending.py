"""Work deferred past a command's exit, and waiting for it: ``run`` answers first.

Used by the container lifecycle (teardown after the exit code is returned), read by
every store whose answers depend on that work being done (containers, volumes,
networks), which is why it lives here, below all of them.

When a foreground ``run`` ends, what is left to do — CNI DEL of the sandbox (two plugin
processes, ~25 ms), unmounting and removing the snapshot and, with ``--rm``, the
container's files — changes nothing the caller can observe *in that process*. So
``run`` does the parts another command could trip over at once (the name is released,
published ports are given back, the record says ``removing``), forks, and returns the
container's exit code while the child finishes the job
(:func:`pynerd.containers.lifecycle.run`).

The child holds a shared flock on ``<namespace_root>/teardown.lock`` from before the
fork until it exits; every command that reads the container store as a whole or looks
a container up (``ContainerStore.list``/``find``: ``ps``, ``rm``, ``inspect``,
``rmi``'s in-use check, the network commands' reaping) or lists volumes first takes the
lock exclusively for a moment (:func:`wait_pending`), so a script's next command sees the
finished state, as if ``run`` had waited. ``run`` and ``create`` do not wait: the name
and the ports are free already.

A child killed halfway leaves a record in state ``removing`` (``ps -a``: "Removal In
Progress", Docker's words) or a sandbox not yet released; ``rm -f`` and the network
commands' reaping finish the job, every step being idempotent.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

LOCK_NAME = "teardown.lock"
_in_child = False  # a deferred teardown never waits for itself


def lock_path(namespace_root: Path) -> Path:
    return Path(namespace_root) / LOCK_NAME


def wait_pending(namespace_root: Path, timeout: float = 30.0) -> None:
    """Block until every deferred teardown of the namespace has finished (bounded)."""
    if _in_child:
        return
    try:
        fd = os.open(lock_path(namespace_root), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return  # a stuck child must not hang every command
                time.sleep(0.002)
    finally:
        os.close(fd)  # also drops the lock


def defer(namespace_root: Path, work: Callable[[], None]) -> None:
    """Run ``work`` in a forked child that outlives this process (see the module doc)."""
    path = lock_path(namespace_root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)  # held by the child's copy of fd after the fork
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    try:
        pid = os.fork()
    except OSError:
        os.close(fd)
        work()  # no fork: do it now
        return
    if pid:
        os.close(fd)
        return
    global _in_child
    _in_child = True
    code = 0
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(null, target)
        work()
    except BaseException:  # the job is redone by the next rm
        code = 1
    finally:
        os._exit(code)
