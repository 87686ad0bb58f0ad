"""Parsers for the values of ``run``/``create`` flags, with docker/cli's grammar and wording.

The CLI keeps flag values as typed (``memory="512m"``); these turn them into numbers.
Error messages are the inner part of Docker's, e.g. ``invalid size: 'abc'``; callers that
know the flag wrap them as docker/cli does (``invalid argument "abc" for "--memory" flag: …``).
"""

from __future__ import annotations

from typing import NamedTuple

from pynerd.errors import InvalidArgument

_BINARY = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str | int) -> int:
    """Bytes from Docker's RAMInBytes grammar: ``512m``, ``1g``, ``64M``, ``1.5GiB``, ``100``.

    Units are binary (k = 1024) and case-insensitive; an optional ``b``/``ib`` may follow.
    """
    if isinstance(text, int):
        return text
    s = text.strip()
    low = s.lower()
    if low.endswith("b"):
        low = low[:-1]
    if low.endswith("i"):
        low = low[:-1]
    unit = ""
    if low and low[-1] in _BINARY:
        unit = low[-1]
        low = low[:-1]
    if low.endswith(" "):  # one space is allowed between number and unit
        low = low[:-1]
    if not _is_decimal(low) or (text != s):
        raise InvalidArgument(f"invalid size: '{text}'")
    return int(float(low) * _BINARY[unit]) if "." in low else int(low) * _BINARY[unit]


def _is_decimal(s: str) -> bool:
    """``\\d+(\\.\\d+)?``: what go-units' regexp and ParseFloat both accept."""
    parts = s.split(".")
    return len(parts) <= 2 and all(p.isascii() and p.isdigit() for p in parts)


def parse_memory_swap(text: str) -> int:
    """``--memory-swap``: a size, or ``-1`` for unlimited."""
    return -1 if text.strip() == "-1" else parse_size(text)


def parse_cpus(text: str) -> int:
    """``--cpus`` as nano-CPUs (``1.5`` → 1_500_000_000), like docker/cli's NanoCPUs.

    Accepts what Go's big.Rat accepts: ``1.5``, ``3/2``, ``1e-1``.
    """
    num, den = _parse_rational(text.strip())
    if num is None or den == 0:
        raise InvalidArgument(f"failed to parse {text} as a rational number")
    nano, rest = divmod(num * 1_000_000_000, den)
    if rest:
        raise InvalidArgument("value is too precise")
    return nano


def _parse_rational(s: str) -> tuple[int | None, int]:
    if "/" in s:
        a, _, b = s.partition("/")
        if _is_int(a) and b.isascii() and b.isdigit():
            return int(a), int(b)
        return None, 1
    mant, _, exp = s.lower().partition("e")
    if exp and not _is_int(exp):
        return None, 1
    sign = -1 if mant.startswith("-") else 1
    if mant.startswith(("+", "-")):
        mant = mant[1:]
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    if not digits or not digits.isascii() or not digits.isdigit():
        return None, 1
    shift = int(exp or "0") - len(frac)
    num = sign * int(digits)
    if shift >= 0:
        return num * 10**shift, 1
    return num, 10**-shift


def _is_int(s: str) -> bool:
    body = s[1:] if s.startswith(("+", "-")) else s
    return bool(body) and body.isascii() and body.isdigit()


_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5
    "μs": 1e-6,  # U+03BC
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration(text: str) -> float:
    """Seconds from Go's time.ParseDuration grammar: ``30s``, ``1m30s``, ``500ms``, ``-1.5h``."""
    s = text
    quoted = f'"{text}"'
    if s.startswith(("+", "-")):
        sign, s = (-1.0 if s[0] == "-" else 1.0), s[1:]
    else:
        sign = 1.0
    if s == "0":
        return 0.0
    if not s:
        raise InvalidArgument(f"time: invalid duration {quoted}")
    total = 0.0
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and (s[j].isdigit() or s[j] == "."):
            j += 1
        number = s[i:j]
        if not number or number == "." or number.count(".") > 1:
            raise InvalidArgument(f"time: invalid duration {quoted}")
        k = j
        while k < len(s) and not (s[k].isdigit() or s[k] == "."):
            k += 1
        unit = s[j:k]
        if not unit:
            raise InvalidArgument(f"time: missing unit in duration {quoted}")
        if unit not in _DURATION_UNITS:
            raise InvalidArgument(f'time: unknown unit "{unit}" in duration {quoted}')
        total += float(number) * _DURATION_UNITS[unit]
        i = k
    return sign * total


# --ulimit ------------------------------------------------------------------------------

ULIMIT_NAMES = (
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
)


class Ulimit(NamedTuple):
    """One ``--ulimit name=soft[:hard]``; -1 means unlimited."""

    name: str
    soft: int
    hard: int

    def rlimit(self) -> dict[str, object]:
        """The OCI ``process.rlimits`` entry (negative values wrap to uint64 like Docker's)."""
        mask = (1 << 64) - 1
        return {
            "type": "RLIMIT_" + self.name.upper(),
            "soft": self.soft & mask,
            "hard": self.hard & mask,
        }


def parse_ulimit(text: str) -> Ulimit:
    """``nofile=1024:2048`` (go-units ParseUlimit): hard defaults to soft."""
    name, sep, values = text.partition("=")
    if not sep:
        raise InvalidArgument(f"invalid ulimit argument: {text}")
    if name not in ULIMIT_NAMES:
        raise InvalidArgument(f"invalid ulimit type: {name}")
    parts = values.split(":")
    if len(parts) > 2:
        raise InvalidArgument(
            f"too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
        )
    for p in parts:
        if not _is_int(p):
            raise InvalidArgument(f'strconv.ParseInt: parsing "{p}": invalid syntax')
    soft = int(parts[0])
    hard = int(parts[1]) if len(parts) == 2 else soft
    if hard != -1 and soft > hard:
        raise InvalidArgument(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return Ulimit(name, soft, hard)


# --device ------------------------------------------------------------------------------


class DeviceMapping(NamedTuple):
    """One ``--device host[:container][:rwm]`` as parsed (docker/cli parseLinuxDevice)."""

    path_on_host: str
    path_in_container: str
    permissions: str = "rwm"


def valid_device_mode(mode: str) -> bool:
    """A non-empty combination of r, w and m, each at most once."""
    return bool(mode) and len(set(mode)) == len(mode) and set(mode) <= {"r", "w", "m"}


def parse_device(text: str) -> DeviceMapping:
    """Validate like docker/cli's ValidateDevice, then split like parseLinuxDevice."""
    import posixpath

    if text.count(":") > 2:
        raise InvalidArgument(f"bad format for path: {text}")
    split = text.split(":")
    if split[0] == "":
        raise InvalidArgument(f"bad format for path: {text}")
    src, dst, perms = split[0], "", "rwm"
    if len(split) == 2:
        if valid_device_mode(split[1]):
            perms = split[1]
        else:
            dst = split[1]
    elif len(split) == 3:
        dst, perms = split[1], split[2]
        if not valid_device_mode(perms):
            raise InvalidArgument(f"bad mode specified: {perms}")
    container_path = dst or src
    if not container_path.startswith("/"):
        raise InvalidArgument(f"{container_path} is not an absolute path")
    return DeviceMapping(src, posixpath.normpath(container_path), perms)


# signals -------------------------------------------------------------------------------


def parse_signal(text: str) -> int:
    """A signal number from ``TERM``, ``SIGTERM``, ``sigterm``, ``15`` or ``RTMIN+3``."""
    import signal

    raw = text.strip()
    if _is_int(raw):
        num = int(raw)
        if num <= 0 or num > signal.SIGRTMAX:
            raise InvalidArgument(f"Invalid signal: {text}")
        return num
    name = raw.upper()
    name = name[3:] if name.startswith("SIG") else name
    for base, start, sign in (("RTMIN+", signal.SIGRTMIN, 1), ("RTMAX-", signal.SIGRTMAX, -1)):
        if name.startswith(base) and name[len(base) :].isdigit():
            num = start + sign * int(name[len(base) :])
            if signal.SIGRTMIN <= num <= signal.SIGRTMAX:
                return num
            raise InvalidArgument(f"Invalid signal: {text}")
    member = getattr(signal.Signals, "SIG" + name, None) if name.isalnum() else None
    if member is None:
        raise InvalidArgument(f"Invalid signal: {text}")
    return int(member)


def signal_name(num: int) -> str:
    """``SIGTERM`` for 15, ``SIGRTMIN+3`` for a real-time signal; the number if unnamed."""
    import signal

    if signal.SIGRTMIN < num < signal.SIGRTMAX:
        return f"SIGRTMIN+{num - signal.SIGRTMIN}"
    try:
        return signal.Signals(num).name
    except ValueError:
        return str(num)
