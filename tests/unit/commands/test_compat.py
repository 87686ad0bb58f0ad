from __future__ import annotations

from tests.cli import Cli


def test_bool_flags_accept_docker_style_values(cli: Cli) -> None:
    assert cli("ps", "-a=true", "-q").code == 0
    assert cli("ps", "--all=false", "--no-trunc=true", "-q").code == 0
    assert cli("ps", "--all=maybe").code == 125  # not a boolean: click reports it


def test_rewrite_rules() -> None:
    from types import SimpleNamespace

    from pynerd_cli.compat import rewrite_bool_flags

    on_by_default = SimpleNamespace(
        is_flag=True,
        count=False,
        opts=["-H", "--human"],
        secondary_opts=["--no-human"],
        default=True,
    )
    off = SimpleNamespace(
        is_flag=True, count=False, opts=["-a", "--all"], secondary_opts=[], default=False
    )
    params = [on_by_default, off]
    assert rewrite_bool_flags(params, ["-H=false", "--all=true", "x"]) == [
        "--no-human",
        "--all",
        "x",
    ]
    assert rewrite_bool_flags(params, ["--all=false", "--human=1"]) == ["--human"]
    assert rewrite_bool_flags(params, ["--", "--all=false"]) == ["--", "--all=false"]
    assert rewrite_bool_flags(params, ["--name=false"]) == ["--name=false"]
