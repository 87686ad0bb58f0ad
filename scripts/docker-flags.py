#!/usr/bin/env python3
"""Record Docker's commands and flags, as its own ``--help`` prints them, in a JSON file.

The command reference (``scripts/gen-reference.py``) lists, per command, the flags Docker
has and pynerd lacks; this file is where it learns Docker's. It is data, not code: it
was made once from a real Docker CLI and is committed. To refresh it against another
Docker (any daemon works; a private one needs no network)::

    python scripts/docker-flags.py --docker "docker -H unix:///tmp/d.sock" \\
        > scripts/docker-flags.json

Only what ``--help`` shows is recorded: hidden and experimental flags are left out,
as Docker leaves them out of its documentation.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
from typing import Any

SECTION = re.compile(r"^([A-Z][A-Za-z ]*Commands|Commands):$")
FLAG = re.compile(
    r"^  (?:(-[A-Za-z0-9]), )?(?:    )?(--[a-z0-9][a-z0-9-]*)(?: ([a-zA-Z0-9]+))?(?:\s{2,}|$)"
)


def docker_help(docker: list[str], path: list[str]) -> str:
    p = subprocess.run([*docker, *path, "--help"], capture_output=True, text=True, check=True)
    return p.stdout


def parse(text: str) -> dict[str, Any]:
    """Subcommands, flags and aliases from one ``--help`` page."""
    subcommands: list[str] = []
    flags: list[dict[str, Any]] = []
    aliases: list[str] = []
    section = None
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        if not line.startswith(" "):
            m = SECTION.match(line)
            section = "commands" if m else line.rstrip(":").lower()
            continue
        if section == "commands":
            subcommands.append(line.split()[0])
        elif section in ("options", "global options"):
            m = FLAG.match(line)
            if m:
                short, long, value = m.groups()
                flags.append({"long": long, "short": short, "value": value})
        elif section == "aliases" and i > 0:
            aliases += [a.strip() for a in line.split(",")]
    usage = next((ln.split(None, 1)[1] for ln in lines if ln.startswith("Usage:")), "")
    return {"usage": usage, "aliases": aliases, "flags": flags, "subcommands": subcommands}


def collect(docker: list[str]) -> dict[str, Any]:
    version = subprocess.run(
        [*docker, "version", "--format", "{{.Client.Version}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    root = parse(docker_help(docker, []))
    commands: dict[str, Any] = {}
    todo = [[name] for name in root["subcommands"]]
    while todo:
        path = todo.pop(0)
        page = parse(docker_help(docker, path))
        commands[" ".join(path)] = {
            "usage": page["usage"],
            "aliases": page["aliases"],
            "flags": page["flags"],
            "subcommands": page["subcommands"],
        }
        todo += [[*path, sub] for sub in page["subcommands"]]
    return {"docker_version": version, "global_flags": root["flags"], "commands": commands}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--docker", default="docker", help="how to call docker (default: docker)")
    args = ap.parse_args(argv)
    data = collect(shlex.split(args.docker))
    json.dump(data, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
