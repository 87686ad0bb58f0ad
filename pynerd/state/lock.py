"""Advisory file locks (flock) that serialize writers across pynerd processes.

flock locks are released by the kernel when the holder dies, so a SIGKILLed
pynerd never leaves a lock behind for the next command to trip on.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pynerd.errors import Unavailable


@contextmanager
def file_lock(path: Path, shared: bool = False, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive (or shared) flock on ``path``, creating the file if needed.

    With ``timeout`` the wait is bounded and ends in :class:`Unavailable`.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        op = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        if timeout is None:
            fcntl.flock(fd, op)
        else:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, op | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise Unavailable(f"timed out waiting for lock {path}") from None
                    time.sleep(0.01)
        yield
    finally:
        os.close(fd)
