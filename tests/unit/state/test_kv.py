from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pynerd.errors import AlreadyExists
from pynerd.state.kv import KVStore, decode_key, encode_key


def test_put_get_delete_and_keys(tmp_path: Path) -> None:
    b = KVStore(tmp_path).bucket("things")
    assert b.get("a") is None
    assert b.keys() == []
    b.put("a", {"n": 1})
    b.put("docker.io/library/busybox:latest", {"n": 2})
    assert b.get("a") == {"n": 1}
    assert b.keys() == ["a", "docker.io/library/busybox:latest"]
    assert dict(b.items())["docker.io/library/busybox:latest"] == {"n": 2}
    assert b.delete("a") is True
    assert b.delete("a") is False
    assert "a" not in b


@pytest.mark.parametrize("key", ["a/b:c@sha256:00", ".hidden", "..", "x y", "ü", "%2F"])
def test_any_key_round_trips_to_a_safe_file_name(key: str) -> None:
    name = encode_key(key)
    assert "/" not in name and not name.startswith(".")
    assert decode_key(name) == key


def test_create_refuses_an_existing_key(tmp_path: Path) -> None:
    b = KVStore(tmp_path).bucket("names")
    b.create("web", {"Id": "1"})
    with pytest.raises(AlreadyExists):
        b.create("web", {"Id": "2"})
    assert b.get("web") == {"Id": "1"}


def test_update_reads_modifies_writes_and_deletes(tmp_path: Path) -> None:
    b = KVStore(tmp_path).bucket("counters")
    b.update("c", lambda v: {"n": (v or {"n": 0})["n"] + 1})
    b.update("c", lambda v: {"n": (v or {"n": 0})["n"] + 1})
    assert b.get("c") == {"n": 2}
    b.update("c", lambda v: None)
    assert b.get("c") is None


def test_stale_temp_files_are_ignored_and_swept(tmp_path: Path) -> None:
    b = KVStore(tmp_path).bucket("x")
    b.put("k", {"v": 1})
    stale = b.path / ".tmp-k.json.123.abcd"
    stale.write_text("{half")
    assert b.keys() == ["k"]
    b.put("j", {"v": 2})  # a writer holding the lock sweeps leftovers
    assert not stale.exists()


def _increment(root: str, rounds: int) -> None:
    b = KVStore(Path(root)).bucket("counters")
    for _ in range(rounds):
        b.update("n", lambda v: {"n": (v or {"n": 0})["n"] + 1})


def _claim(root: str, name: str, who: int, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    b = KVStore(Path(root)).bucket("names")
    try:
        b.create(name, {"Id": str(who)})
        results.put(who)
    except AlreadyExists:
        results.put(-1)


def test_concurrent_read_modify_write_loses_no_update(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_increment, args=(str(tmp_path), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert KVStore(tmp_path).bucket("counters").get("n") == {"n": 100}


def test_concurrent_creates_hand_out_a_name_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    for round_ in range(5):
        procs = [
            ctx.Process(target=_claim, args=(str(tmp_path), f"name{round_}", i, results))
            for i in range(6)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        outcomes = [results.get(timeout=5) for _ in procs]
        winners = [o for o in outcomes if o >= 0]
        assert len(winners) == 1
        stored = KVStore(tmp_path).bucket("names").get(f"name{round_}")
        assert stored == {"Id": str(winners[0])}


WRITER = """
import sys
from pathlib import Path
from pynerd.state.kv import KVStore
b = KVStore(Path(sys.argv[1])).bucket("data")
i = 0
while True:
    i += 1
    b.put(f"k{i % 7}", {"i": i, "pad": "x" * 20000})
"""


def test_sigkill_at_any_moment_leaves_a_readable_store(tmp_path: Path) -> None:
    for delay in (0.05, 0.11, 0.17, 0.23, 0.31):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)])
        time.sleep(delay)
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        b = KVStore(tmp_path).bucket("data")
        for key, value in b.items():  # every visible value is whole, valid JSON
            assert len(value["pad"]) == 20000, key
        for f in b.path.iterdir():
            if not f.name.startswith("."):
                json.loads(f.read_text())
    assert KVStore(tmp_path).bucket("data").keys()  # the writer did get going


def test_a_torn_value_of_a_non_durable_bucket_reads_as_absent(tmp_path: Path) -> None:
    kv = KVStore(tmp_path)
    quick, safe = kv.bucket("quick", durable=False), kv.bucket("safe")
    quick.put("a", {"x": 1})
    safe.put("a", {"x": 1})
    for b in (quick, safe):
        (b.path / "a.json").write_bytes(b"")  # what a power loss may leave of a write
    assert quick.get("a") is None and list(quick.items()) == []
    with pytest.raises(ValueError):
        safe.get("a")
