"""System-wide views: ``version`` and ``info``."""

from __future__ import annotations
