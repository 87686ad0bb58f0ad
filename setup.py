"""Package list for setuptools (everything else is in pyproject.toml).

The command tree lives in ./commands but installs as the import package
``pynerd_cli``: a top-level ``commands`` package in site-packages would clash
with any other distribution that made the same choice. See docs/architecture.md.
"""

from setuptools import find_packages, setup

cli = ["pynerd_cli"] + [
    "pynerd_cli." + p for p in find_packages(where="commands")
]
setup(
    packages=find_packages(include=["pynerd", "pynerd.*"]) + cli,
    package_dir={"pynerd_cli": "commands"},
)
