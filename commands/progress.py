"""Drawing pull/push progress events: rich bars on a terminal, Docker's lines otherwise."""

from __future__ import annotations

import sys
from typing import Any

from pynerd.images.events import Progress

_QUIET_STATUSES = ("Downloading", "Extracting", "Pushing")


class LineProgress:
    """Docker's non-terminal output: one line per status change, no byte counts."""

    def __init__(self, out: Any = None) -> None:
        self.out = out or sys.stdout
        self.last: dict[str, str] = {}

    def __call__(self, p: Progress) -> None:
        if p.id:
            if p.status in _QUIET_STATUSES or self.last.get(p.id) == p.status:
                return
            self.last[p.id] = p.status
            self.out.write(f"{p.id}: {p.status}\n")
        else:
            self.out.write(p.status + "\n")
        self.out.flush()

    def close(self) -> None:
        pass


class BarProgress:
    """One rich progress bar per layer; status lines print above the bars."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        self.console = Console(highlight=False)
        self.bars = Progress(
            TextColumn("{task.fields[layer]}:"),
            TextColumn("{task.description:<18}"),
            BarColumn(bar_width=40),
            DownloadColumn(),
            console=self.console,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.trailer: list[str] = []
        self.bars.start()

    def __call__(self, p: Progress) -> None:
        if not p.id:
            if self.tasks:  # after the bars, like Docker's "Digest:" and "Status:" lines
                self.trailer.append(p.status)
            else:
                self.bars.console.print(p.status, markup=False)
            return
        task = self.tasks.get(p.id)
        if task is None:
            task = self.tasks[p.id] = self.bars.add_task(p.status, layer=p.id, total=None)
        kwargs: dict[str, Any] = {"description": p.status}
        if p.total:
            kwargs["total"] = p.total
        if p.current:
            kwargs["completed"] = p.current
        if p.status in (
            "Pull complete",
            "Already exists",
            "Pushed",
            "Layer already exists",
            "Download complete",
            "Mounted from",
        ):
            kwargs["completed"] = kwargs.get("total") or self._total(task) or 1
            kwargs.setdefault("total", kwargs["completed"])
        self.bars.update(task, **kwargs)

    def _total(self, task: Any) -> float | None:
        for t in self.bars.tasks:
            if t.id == task:
                return t.total
        return None

    def close(self) -> None:
        self.bars.stop()
        for line in self.trailer:
            self.console.print(line, markup=False, highlight=False)


def progress_for(quiet: bool) -> Any:
    """The sink for library progress events, chosen by -q and whether stdout is a terminal."""
    if quiet:
        return None
    if sys.stdout.isatty():
        return BarProgress()
    return LineProgress()
