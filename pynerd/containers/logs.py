"""Reading Docker's json-file log: ``logs`` with --follow, --since, --until, --tail, -t.

The monitor writes one JSON object per line (``{"log", "stream", "time"}``, see
:mod:`pynerd.containers.monitor`). ``--tail N`` reads the file backwards in blocks,
so it costs the size of the last N lines, not of the log. Like Docker, the tail is
taken over raw entries (both streams), then ``--since``/``--until`` and the stream
selection filter what is left. ``--follow`` polls the file for growth until the
caller's ``is_running`` says the container is gone, then reads what is left.
"""

from __future__ import annotations

import calendar
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO

from pynerd.errors import InvalidArgument

BLOCK = 64 * 1024
FOLLOW_POLL = 0.1


def read_logs(
    path: str | os.PathLike[str],
    follow: bool = False,
    since: float | None = None,
    until: float | None = None,
    tail: int | None = None,
    timestamps: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    is_running: Callable[[], bool] | None = None,
    poll_interval: float = FOLLOW_POLL,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(stream, data)`` per log entry; ``data`` starts with the time when ``timestamps``.

    ``tail`` None or negative means all; ``since``/``until`` are Unix times (see
    :func:`parse_since`). A missing file yields nothing (the container never logged).
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 (closed in finally; the generator may pause)
    except FileNotFoundError:
        return
    try:
        f.seek(_tail_offset(f, tail) if tail is not None and tail >= 0 else 0)
        pending = b""
        draining = False
        while True:
            chunk = f.read(BLOCK)
            if chunk:
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:
                    entry = _entry(line, since, until, timestamps, stdout, stderr)
                    if entry is _STOP:
                        return
                    if entry is not None:
                        yield entry
                continue
            if not follow or draining:
                break
            if is_running is None or not is_running():
                draining = True  # one more read: what was written before it stopped
                continue
            time.sleep(poll_interval)
        if pending.strip():  # a last line without newline (a writer killed mid-line)
            entry = _entry(pending, since, until, timestamps, stdout, stderr)
            if entry is not None and entry is not _STOP:
                yield entry
    finally:
        f.close()


_STOP = ("", b"")


def _entry(
    line: bytes,
    since: float | None,
    until: float | None,
    timestamps: bool,
    stdout: bool,
    stderr: bool,
) -> tuple[str, bytes] | None:
    """The decoded entry, None to skip it, ``_STOP`` once past ``until``."""
    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    stream = str(obj.get("stream", "stdout"))
    stamp = str(obj.get("time", ""))
    if since is not None or until is not None:
        t = parse_rfc3339(stamp)
        if until is not None and t > until:
            return _STOP
        if since is not None and t < since:
            return None
    if (stream == "stdout" and not stdout) or (stream == "stderr" and not stderr):
        return None
    data = str(obj.get("log", "")).encode("utf-8", "replace")
    if timestamps:
        data = fixed_rfc3339nano(stamp).encode() + b" " + data
    return stream, data


def _tail_offset(f: BinaryIO, n: int) -> int:
    """File offset where the last ``n`` lines start (reading backwards)."""
    end = f.seek(0, os.SEEK_END)
    if n == 0:
        return end
    pos = end
    count = 0
    first = True
    while pos > 0:
        size = min(BLOCK, pos)
        pos -= size
        f.seek(pos)
        block = f.read(size)
        idx = len(block)
        if first:
            first = False
            if block.endswith(b"\n"):
                idx -= 1  # the final newline ends the last line, it does not start one
        while True:
            nl = block.rfind(b"\n", 0, idx)
            if nl < 0:
                break
            count += 1
            if count == n:
                return pos + nl + 1
            idx = nl
    return 0


# -- time ---------------------------------------------------------------------------------------


def parse_rfc3339(value: str) -> float:
    """RFC 3339 with any fraction and Z or ±hh:mm → Unix time (0 when unparsable)."""
    try:
        secs, nanos = _parse_rfc3339_parts(value)
    except ValueError:
        return 0.0
    return secs + nanos / 1e9


def _parse_rfc3339_parts(value: str) -> tuple[int, int]:
    if len(value) < 19 or value[10] not in "Tt":
        raise ValueError(value)
    base = time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")
    rest = value[19:]
    nanos = 0
    if rest.startswith("."):
        digits = ""
        i = 1
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        nanos = int((digits + "000000000")[:9]) if digits else 0
        rest = rest[i:]
    offset = 0
    if rest in ("Z", "z"):
        pass
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        offset = (int(rest[1:3]) * 60 + int(rest[4:6])) * 60
        if rest[0] == "-":
            offset = -offset
    else:
        raise ValueError(value)
    return calendar.timegm(base) - offset, nanos


def fixed_rfc3339nano(value: str) -> str:
    """A stored time as ``docker logs -t`` prints it: UTC, always 9 fraction digits."""
    try:
        secs, nanos = _parse_rfc3339_parts(value)
    except ValueError:
        return value
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{nanos:09d}Z"


_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(value: str) -> float:
    """Go's ``time.ParseDuration`` in seconds: ``10m``, ``1h30m``, ``1.5h``, ``-300ms``."""
    s = value
    sign = 1.0
    if s and s[0] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"invalid duration {value!r}")
    total = 0.0
    while s:
        i = 0
        while i < len(s) and (s[i].isdigit() or s[i] == "."):
            i += 1
        if i == 0 or s[:i].count(".") > 1 or s[:i] == ".":
            raise ValueError(f"invalid duration {value!r}")
        number = float(s[:i])
        s = s[i:]
        j = 0
        while j < len(s) and not (s[j].isdigit() or s[j] == "."):
            j += 1
        unit = s[:j]
        if unit not in _UNITS:
            raise ValueError(f"invalid duration {value!r}")
        total += number * _UNITS[unit]
        s = s[j:]
    return sign * total


def parse_since(value: str, now: float | None = None) -> float:
    """Docker's ``--since``/``--until`` value → Unix time.

    Accepts a Go duration relative to now (``10m``, ``1h30m``), RFC 3339 / its prefixes
    (``2024-01-01``, ``2024-01-01T10:00``, ``2024-01-01T10:00:00Z``, ``…+02:00``; local time
    when no zone is given) and Unix timestamps (``1700000000``, ``1700000000.5``).
    """
    value = value.strip()
    reference = time.time() if now is None else now
    if value != "0":
        try:
            return reference - parse_go_duration(value)
        except ValueError:
            pass
    if "-" in value[1:] or "T" in value:
        try:
            return _parse_timestamp_text(value)
        except ValueError:
            raise InvalidArgument(f'failed to parse value as time or duration: "{value}"') from None
    try:
        if value.count(".") > 1 or not value.replace(".", "", 1).isdigit():
            raise ValueError(value)
        return float(value)
    except ValueError:
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"') from None


def _parse_timestamp_text(value: str) -> float:
    from datetime import UTC, datetime, timedelta, timezone

    text = value
    tz: timezone | None = None
    if text[-1:] in ("Z", "z"):
        tz, text = UTC, text[:-1]
    elif len(text) > 6 and text[-6] in "+-" and text[-3] == ":" and text.count("-") >= 2:
        sign = -1 if text[-6] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(text[-5:-3]), minutes=int(text[-2:])))
        text = text[:-6]
    frac = 0.0
    if "." in text:
        text, digits = text.split(".", 1)
        if not digits.isdigit():
            raise ValueError(value)
        frac = float("0." + digits)
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d"):
        try:
            dt = datetime.strptime(text, fmt)
            break
        except ValueError:
            continue
    else:
        raise ValueError(value)
    if tz is not None:
        return dt.replace(tzinfo=tz).timestamp() + frac
    return dt.timestamp() + frac  # naive: the local zone, as Docker's ParseInLocation
