from __future__ import annotations

from pynerd.format.table import tabwrite


def test_docker_ps_header_layout() -> None:
    header = "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES\n"
    assert tabwrite(header) == (
        "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"
    )


def test_columns_widen_to_the_longest_cell_plus_three() -> None:
    text = "A\tB\tC\nlonger-than-ten\tx\ty\n"
    assert tabwrite(text) == ("A" + " " * 17 + "B         C\nlonger-than-ten   x         y\n")


def test_last_field_is_never_padded_and_text_without_tabs_is_untouched() -> None:
    assert tabwrite("a\tb\n") == "a         b\n"
    assert tabwrite("plain\n") == "plain\n"


def test_alignment_is_per_block_of_consecutive_lines_with_the_column() -> None:
    # Go's tabwriter: a line without the column ends the block above it.
    text = "aaaaaaaaaaaaaaa\tb\nno tabs here\nc\td\n"
    assert tabwrite(text) == ("aaaaaaaaaaaaaaa   b\nno tabs here\nc         d\n")
