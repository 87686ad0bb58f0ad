"""Column alignment exactly as Docker's CLI does it.

Docker renders tables through Go's text/tabwriter with minwidth 10, tabwidth 1,
padding 3 and a space pad character. A cell is text terminated by a tab; the
text after a line's last tab is not a cell and is never padded. Columns are
aligned within blocks of consecutive lines that have that column, which is
what makes a table line up while a line with fewer cells does not disturb it.
"""

from __future__ import annotations

MIN_WIDTH = 10
PADDING = 3


def tabwrite(text: str, min_width: int = MIN_WIDTH, padding: int = PADDING) -> str:
    """Align tab-separated ``text`` (lines ending in newlines) like Go's tabwriter."""
    if "\t" not in text:
        return text
    lines = text.split("\n")
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    cells = [line.split("\t") for line in lines]
    widths: list[list[int]] = [[0] * (len(c) - 1) for c in cells]
    _format_block(cells, widths, 0, len(cells), 0, min_width, padding)
    out = []
    for row, row_widths in zip(cells, widths, strict=True):
        parts = [cell.ljust(w) for cell, w in zip(row, row_widths, strict=False)]
        parts.append(row[-1])
        out.append("".join(parts))
    result = "\n".join(out)
    return result + "\n" if trailing else result


def _format_block(
    cells: list[list[str]],
    widths: list[list[int]],
    start: int,
    end: int,
    column: int,
    min_width: int,
    padding: int,
) -> None:
    """Width of ``column`` for each run of lines in [start, end) that has it; recurse right."""
    line = start
    while line < end:
        if len(cells[line]) - 1 <= column:
            line += 1
            continue
        block_end = line
        width = min_width
        while block_end < end and len(cells[block_end]) - 1 > column:
            width = max(width, len(cells[block_end][column]) + padding)
            block_end += 1
        for i in range(line, block_end):
            widths[i][column] = width
        _format_block(cells, widths, line, block_end, column + 1, min_width, padding)
        line = block_end
