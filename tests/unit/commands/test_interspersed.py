"""Flags may follow arguments, as with Docker (cobra), except where the rest is a process's."""

from __future__ import annotations

import pytest

from tests.cli import Cli


@pytest.mark.parametrize(
    "args",
    [
        ("logs", "nosuch", "--tail", "1", "-f"),
        ("stats", "nosuch", "--no-stream"),
        ("port", "nosuch", "80/tcp"),
        ("attach", "nosuch", "--no-stdin"),
        ("container", "logs", "nosuch", "-t"),
    ],
)
def test_flags_after_the_container_are_flags(cli: Cli, args: tuple[str, ...]) -> None:
    """Regression: top-level logs/stats/port/attach took flags after the container as
    extra arguments (``Got unexpected extra argument(s) (--tail 1)``)."""
    r = cli.proc(*args)
    assert (r.code, r.err) == (1, "Error: No such container: nosuch\n")


def test_unknown_flags_after_the_container_are_errors(cli: Cli) -> None:
    r = cli("port", "nosuch", "--bogus")
    assert r.code == 125 and "unknown flag: --bogus" in r.err


@pytest.mark.parametrize(
    "args",
    [
        ("exec", "nosuch", "ls", "-l", "--bogus"),
        ("container", "exec", "nosuch", "ls", "--bogus"),
        ("top", "nosuch", "-ef"),
        ("container", "top", "nosuch", "aux", "--bogus"),
    ],
)
def test_exec_and_top_pass_what_follows_the_container_on(cli: Cli, args: tuple[str, ...]) -> None:
    r = cli.proc(*args)
    assert (r.code, r.err) == (1, "Error: No such container: nosuch\n")
