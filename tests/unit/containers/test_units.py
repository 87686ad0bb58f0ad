"""Flag value parsers: sizes, CPUs, Go durations, ulimits, devices, signals."""

from __future__ import annotations

import signal

import pytest

from pynerd.containers.units import (
    DeviceMapping,
    Ulimit,
    parse_cpus,
    parse_device,
    parse_go_duration,
    parse_memory_swap,
    parse_signal,
    parse_size,
    parse_ulimit,
    signal_name,
)
from pynerd.errors import InvalidArgument


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512m", 512 << 20),
        ("1g", 1 << 30),
        ("64M", 64 << 20),
        ("100k", 100 << 10),
        ("100", 100),
        ("100b", 100),
        ("1.5g", int(1.5 * (1 << 30))),
        ("2GiB", 2 << 30),
        ("2gb", 2 << 30),
        ("10 m", 10 << 20),
        ("1t", 1 << 40),
        (4096, 4096),
    ],
)
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "abc", "-1", "1x", "m", "1.2.3m", " 1m", "1m "])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid size"):
        parse_size(text)


def test_memory_swap_allows_minus_one() -> None:
    assert parse_memory_swap("-1") == -1
    assert parse_memory_swap("1g") == 1 << 30


@pytest.mark.parametrize(
    ("text", "nano"),
    [
        ("1.5", 1_500_000_000),
        ("0.01", 10_000_000),
        ("2", 2_000_000_000),
        ("3/2", 1_500_000_000),
        ("1e-1", 100_000_000),
        ("0", 0),
        ("-1", -1_000_000_000),
    ],
)
def test_parse_cpus(text: str, nano: int) -> None:
    assert parse_cpus(text) == nano


def test_parse_cpus_errors() -> None:
    with pytest.raises(InvalidArgument, match="failed to parse abc as a rational number"):
        parse_cpus("abc")
    with pytest.raises(InvalidArgument, match="value is too precise"):
        parse_cpus("0.0000000001")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5h", 5400.0),
        ("0", 0.0),
        ("-2s", -2.0),
        ("100us", 1e-4),
        ("2h45m0.5s", 9900.5),
    ],
)
def test_parse_go_duration(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30", 'time: missing unit in duration "30"'),
        ("1x", 'time: unknown unit "x" in duration "1x"'),
        ("", 'time: invalid duration ""'),
        ("s", 'time: invalid duration "s"'),
    ],
)
def test_parse_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_go_duration(text)
    assert err.value.message == message


def test_parse_ulimit() -> None:
    assert parse_ulimit("nofile=1024:2048") == Ulimit("nofile", 1024, 2048)
    assert parse_ulimit("nproc=10") == Ulimit("nproc", 10, 10)
    assert parse_ulimit("core=-1") == Ulimit("core", -1, -1)
    assert parse_ulimit("nofile=100:200").rlimit() == {
        "type": "RLIMIT_NOFILE",
        "soft": 100,
        "hard": 200,
    }
    assert parse_ulimit("core=-1").rlimit()["hard"] == 2**64 - 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nofile", "invalid ulimit argument: nofile"),
        ("bogus=1", "invalid ulimit type: bogus"),
        ("nofile=1:2:3", "too many limit value arguments - 1:2:3, can only have up to two"),
        ("nofile=20:10", "ulimit soft limit must be less than or equal to hard limit: 20 > 10"),
        ("nofile=x", 'strconv.ParseInt: parsing "x": invalid syntax'),
    ],
)
def test_parse_ulimit_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_ulimit(text)
    assert err.value.message.startswith(message)


@pytest.mark.parametrize(
    ("text", "mapping"),
    [
        ("/dev/sda", DeviceMapping("/dev/sda", "/dev/sda", "rwm")),
        ("/dev/sda:/dev/xvda", DeviceMapping("/dev/sda", "/dev/xvda", "rwm")),
        ("/dev/sda:r", DeviceMapping("/dev/sda", "/dev/sda", "r")),
        ("/dev/sda:/dev/xvda:rw", DeviceMapping("/dev/sda", "/dev/xvda", "rw")),
        ("/dev/sda:/dev//x/../xvda", DeviceMapping("/dev/sda", "/dev/xvda", "rwm")),
    ],
)
def test_parse_device(text: str, mapping: DeviceMapping) -> None:
    assert parse_device(text) == mapping


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "bad format for path: "),
        (":/dev/x", "bad format for path: :/dev/x"),
        ("/a:/b:rw:x", "bad format for path: /a:/b:rw:x"),
        ("/dev/sda:/dev/xvda:rwx", "bad mode specified: rwx"),
        ("/dev/sda:relative", "relative is not an absolute path"),
        ("/dev/sda:rr", "rr is not an absolute path"),
    ],
)
def test_parse_device_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_device(text)
    assert err.value.message == message


@pytest.mark.parametrize(
    ("text", "num"),
    [
        ("TERM", signal.SIGTERM),
        ("SIGTERM", signal.SIGTERM),
        ("sigkill", signal.SIGKILL),
        ("15", 15),
        ("SIGRTMIN+3", signal.SIGRTMIN + 3),
        ("RTMAX-1", signal.SIGRTMAX - 1),
        ("USR1", signal.SIGUSR1),
    ],
)
def test_parse_signal(text: str, num: int) -> None:
    assert parse_signal(text) == num


@pytest.mark.parametrize("text", ["0", "FOO", "SIG", "-1", "RTMIN+99", "999"])
def test_parse_signal_rejects(text: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse_signal(text)
    assert err.value.message == f"Invalid signal: {text}"


def test_signal_name() -> None:
    assert signal_name(15) == "SIGTERM"
    assert signal_name(signal.SIGRTMIN + 2) == "SIGRTMIN+2"
