"""Crash-safe state on disk: atomic writes, file locks and a small key/value store.

Every subsystem keeps its metadata through :class:`pynerd.state.kv.KVStore`, so
that two pynerd processes running at once never corrupt state, and a process
killed at any instant leaves files the next one reads without error.
"""

from __future__ import annotations
