"""login/logout share Docker's config file and make authenticated pulls work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli import Cli
from tests.rig.auth import RIG_PASSWORD, RIG_USER

pytestmark = pytest.mark.integration


def test_login_verifies_before_saving_then_logout(
    cli: Cli, htpasswd_registry, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    host = htpasswd_registry.host
    bad = cli.proc("login", host, "-u", RIG_USER, "--password-stdin", input="wrong\n", env=env)
    assert bad.code == 1 and "401" in bad.err and bad.err.count("\n") == 1
    assert not (tmp_path / "docker" / "config.json").exists()
    r = cli.proc(
        "login", host, "-u", RIG_USER, "--password-stdin", input=RIG_PASSWORD + "\n", env=env
    )
    assert (r.code, r.out) == (0, "Login Succeeded\n"), r.err
    auths = json.loads((tmp_path / "docker" / "config.json").read_text())["auths"]
    assert host in auths
    r = cli.proc("logout", host, env=env)
    assert r.out == f"Removing login credentials for {host}\n"
    assert host not in json.loads((tmp_path / "docker" / "config.json").read_text())["auths"]
    assert cli.proc("logout", host, env=env).out == f"Not logged in to {host}\n"


def test_token_auth_pull_needs_login(
    cli: Cli, token_registry, busybox_image, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    env = {"DOCKER_CONFIG": str(tmp_path / "docker")}
    ref = f"{token_registry.host}/busybox:latest"
    r = cli.proc("pull", "-q", ref, env=env)
    assert r.code == 1 and "login" in r.err and r.err.count("\n") == 1
    r = cli.proc("login", token_registry.host, "-u", RIG_USER, "-p", RIG_PASSWORD, env=env)
    assert r.code == 0 and "WARNING! Using --password via the CLI is insecure" in r.err
    r = cli.proc("pull", "-q", ref, env=env)
    assert (r.code, r.out) == (0, ref + "\n"), r.err
    assert cli("images", "-q").out == busybox_image.config_digest[7:19] + "\n"
