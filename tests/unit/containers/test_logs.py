from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from pynerd.containers.logs import (
    fixed_rfc3339nano,
    parse_go_duration,
    parse_rfc3339,
    parse_since,
    read_logs,
)
from pynerd.containers.monitor import JsonLog
from pynerd.errors import InvalidArgument

LINES = [
    '{"log":"one\\n","stream":"stdout","time":"2024-01-01T00:00:00.1Z"}',
    '{"log":"two\\n","stream":"stderr","time":"2024-01-01T00:00:01Z"}',
    '{"log":"thr\\u003cee\\n","stream":"stdout","time":"2024-01-01T00:00:02.000000002Z"}',
    '{"log":"partial","stream":"stdout","time":"2024-01-01T00:00:03Z"}',
    '{"log":"four\\n","stream":"stderr","time":"2024-01-01T00:00:04Z"}',
]
T0 = 1704067200.0  # 2024-01-01T00:00:00Z


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "c-json.log"
    path.write_text("".join(line + "\n" for line in LINES))
    return path


def test_reads_every_entry_with_its_stream(log: Path) -> None:
    assert list(read_logs(log)) == [
        ("stdout", b"one\n"),
        ("stderr", b"two\n"),
        ("stdout", b"thr<ee\n"),
        ("stdout", b"partial"),
        ("stderr", b"four\n"),
    ]


def test_stream_selection(log: Path) -> None:
    assert [d for _, d in read_logs(log, stdout=False)] == [b"two\n", b"four\n"]
    assert [s for s, _ in read_logs(log, stderr=False)] == ["stdout"] * 3


def test_timestamps_are_fixed_width_rfc3339nano(log: Path) -> None:
    out = [d for _, d in read_logs(log, timestamps=True)]
    assert out[0] == b"2024-01-01T00:00:00.100000000Z one\n"
    assert out[2] == b"2024-01-01T00:00:02.000000002Z thr<ee\n"
    assert fixed_rfc3339nano("2024-01-01T02:00:00.5+02:00") == "2024-01-01T00:00:00.500000000Z"


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, []), (1, [b"four\n"]), (2, [b"partial", b"four\n"]), (99, None), (-1, None)],
)
def test_tail(log: Path, n: int, expected: list[bytes] | None) -> None:
    got = [d for _, d in read_logs(log, tail=n)]
    everything = [d for _, d in read_logs(log)]
    assert got == (everything if expected is None else expected)


def test_tail_counts_entries_of_both_streams_before_filtering(log: Path) -> None:
    assert [d for _, d in read_logs(log, tail=2, stderr=False)] == [b"partial"]


def test_tail_of_a_big_log_reads_only_its_end(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    entry = '{{"log":"line {}\\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}}\n'
    with path.open("w") as f:
        for i in range(300_000):
            f.write(entry.format(i))
    start = time.perf_counter()
    got = [d for _, d in read_logs(path, tail=3)]
    elapsed = time.perf_counter() - start
    assert got == [b"line 299997\n", b"line 299998\n", b"line 299999\n"]
    assert elapsed < 0.05, elapsed  # a full read takes ~1 s


def test_tail_when_the_last_line_has_no_newline_yet(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    path.write_text(LINES[0] + "\n" + LINES[1] + "\n" + LINES[2])
    assert [d for _, d in read_logs(path, tail=1)] == [b"thr<ee\n"]
    assert [d for _, d in read_logs(path, tail=2)] == [b"two\n", b"thr<ee\n"]


def test_since_and_until(log: Path) -> None:
    got = [d for _, d in read_logs(log, since=T0 + 1, until=T0 + 3)]
    assert got == [b"two\n", b"thr<ee\n", b"partial"]


def test_missing_log_yields_nothing(tmp_path: Path) -> None:
    assert list(read_logs(tmp_path / "none.log", follow=True, is_running=lambda: True)) == []


def test_follow_sees_growth_until_the_container_stops(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    writer = JsonLog(str(path))
    writer.write("stdout", b"first\n")
    running = threading.Event()
    running.set()

    def produce() -> None:
        time.sleep(0.1)
        writer.write("stderr", b"second\n")
        writer.write("stdout", b"split ")
        time.sleep(0.1)
        writer.write("stdout", b"line\nlast words")
        writer.close()  # flushes the partial line, as the monitor does at exit
        running.clear()

    thread = threading.Thread(target=produce)
    thread.start()
    got = list(read_logs(path, follow=True, is_running=running.is_set, poll_interval=0.01))
    thread.join()
    assert got == [
        ("stdout", b"first\n"),
        ("stderr", b"second\n"),
        ("stdout", b"split line\n"),
        ("stdout", b"last words"),
    ]


def test_rfc3339_parsing() -> None:
    assert parse_rfc3339("2024-01-01T00:00:00Z") == T0
    assert parse_rfc3339("2024-01-01T00:00:00.25Z") == T0 + 0.25
    assert parse_rfc3339("2024-01-01T01:00:00+01:00") == T0
    assert parse_rfc3339("garbage") == 0.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("300ms", 0.3),
        ("-2s", -2.0),
        ("1h2m3s4ms", 3723.004),
        ("0", 0.0),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "1x", "h", "1..2s"])
def test_bad_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_go_duration(text)


def test_parse_since_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    now = T0 + 3600
    assert parse_since("10m", now) == now - 600
    assert parse_since("2024-01-01T00:00:00Z", now) == T0
    assert parse_since("2024-01-01T00:00:00.5Z", now) == T0 + 0.5
    assert parse_since("2024-01-01T02:00:00+02:00", now) == T0
    assert parse_since("1704067200", now) == T0
    assert parse_since("1704067200.25", now) == T0 + 0.25
    assert parse_since("0", now) == 0.0
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert parse_since("2024-01-01", now) == T0
        assert parse_since("2024-01-01T00:30", now) == T0 + 1800
        assert parse_since("2024-01-01T01", now) == T0 + 3600
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "12abc", "1.2.3"])
def test_parse_since_rejects_garbage(text: str) -> None:
    with pytest.raises(InvalidArgument, match="failed to parse value as time or duration"):
        parse_since(text)
