"""The pynerd command tree (installed as ``pynerd_cli``).

Each module holds one command or one management group. A command parses its
arguments, builds an options object, makes one library call and renders the
result; everything else lives in the ``pynerd`` library.
"""
