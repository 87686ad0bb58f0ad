"""pynerd: a daemonless, Docker-compatible container runtime library.

Importing this package must stay cheap: it imports nothing but the version.
Subsystems live in sub-packages and are imported by whoever needs them.
"""

from __future__ import annotations

__version__ = "0.1.0"
