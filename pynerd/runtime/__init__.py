"""The OCI runtime boundary: pynerd drives runc through :class:`pynerd.runtime.runc.Runc`."""

from __future__ import annotations
