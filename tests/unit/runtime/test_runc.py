from __future__ import annotations

from collections.abc import Mapping, Sequence

import pytest

from pynerd.errors import Unavailable
from pynerd.procs import Completed
from pynerd.runtime.runc import Runc, parse_version

RUNC_OUT = b"runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\n"


class FakeRunner:
    """Records calls and answers from a table: the seam in front of every subprocess."""

    def __init__(self, answers: dict[str, Completed]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> Completed:
        self.calls.append(tuple(args))
        return self.answers[args[-1]]


def test_parse_version() -> None:
    v = parse_version(RUNC_OUT.decode(), "/usr/sbin/runc")
    assert (v.version, v.commit, v.spec) == ("1.1.5+ds1", "1.1.5+ds1-1+deb12u1", "1.0.2-dev")


def test_version_goes_through_the_runner_seam() -> None:
    fake = FakeRunner({"--version": Completed(("runc",), 0, RUNC_OUT, b"")})
    v = Runc("/fake/runc", runner=fake).version()
    assert v.version == "1.1.5+ds1"
    assert fake.calls == [("/fake/runc", "--version")]


def test_missing_runc_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(Unavailable, match="runc"):
        Runc().version()
