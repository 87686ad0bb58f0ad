"""Volumes: named and anonymous volumes of the "local" driver, and mounts for containers.

:mod:`pynerd.volumes.store` keeps the volumes of a namespace (data under
``<namespace_root>/volumes/<name>/_data``, Docker's layout, metadata in the
``volumes`` bucket) and answers ``volume create/ls/inspect/rm/prune``.
:mod:`pynerd.volumes.mounts` is the bridge to containers: it parses ``-v``,
``--mount`` and ``--tmpfs`` with Docker's grammar and error texts, and turns the
requests into mounts ready for the OCI spec (creating volumes on demand and
filling empty ones from the image, as Docker does).
"""

from __future__ import annotations
