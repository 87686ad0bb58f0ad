"""Output formatting shared by every listing and inspect command.

``listing`` renders rows as Docker's tables, ``--format`` templates, ``json``
and ``-q``; ``inspect`` renders objects as Docker's indented JSON array or a
template per object; ``gotemplate`` is the Go text/template engine behind both.
Nothing here writes to a terminal: functions return text for the CLI to print.
"""

from __future__ import annotations
