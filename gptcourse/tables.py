"""The one way the book's pages make a table: a Markdown table from a header and rows of cells."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A GitHub-flavoured Markdown table: ``header`` (column titles) and ``rows`` (one sequence of cells
    per row, each cell turned into text with ``str``; ``|`` inside a cell is escaped).

    ``align``: one letter per column, ``l``, ``r`` or ``c`` (default: every column left-aligned but
    those whose every cell is a number, right-aligned).
    """
    rows = [list(row) for row in rows]
    width = len(header)
    for i, row in enumerate(rows):
        if len(row) != width:
            raise ValueError(f"row {i} has {len(row)} cells, the header {width}: {row!r}")
    if align is None:
        numeric = [bool(rows) and all(isinstance(r[j], (int, float)) for r in rows) for j in range(width)]
        align = "".join("r" if n else "l" for n in numeric)
    if len(align) != width or set(align) - set("lrc"):
        raise ValueError(f"align needs one of l, r, c per column ({width}), got {align!r}")
    rule = {"l": "---", "r": "---:", "c": ":---:"}

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "|".join(rule[a] for a in align) + "|", *map(line, rows)]) + "\n"
