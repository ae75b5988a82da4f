"""A catalogue of student mistakes, and the harness that grades each one like the grader would.

Each chapter has a module here (``ch03_transformer.py``...) with a list ``MISTAKES``: plausible slips
written as a student would make them, each an edit of one answer cell of the reference solution. At
least one slip for every rule the task text states, plus the classic ones. ``tests/test_mistakes.py``
runs the source notebook with the slip in place and checks that

(a) the visible tests of the task's own test cell fail,
(b) the failure message names the fix (the words in ``says``),
(c) the hidden tests take no more points than the visible ones already did (every test cell whose
    visible tests pass also passes its hidden tests), and
(d) one slip costs one thing: no other test cell fails.

The notebook runs in-process, cell by cell, in a fresh namespace (no kernel, so the whole catalogue
takes seconds per chapter): the visible part of a test cell first, then, if it passed, its hidden
part, which is exactly what running the whole test cell does. Cells without an nbgrader id (the
ungraded explorations at the end) are skipped.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.assignment import released_answer
from autograder.notebooks import HIDDEN_BEGIN, HIDDEN_END

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Mistake:
    """One slip: ``edits`` are (old, new) text replacements in the solution of answer cell ``cell``."""

    name: str
    cell: str
    edits: tuple[tuple[str, str], ...]
    fails: str  # the test cell whose visible tests must catch it
    says: tuple[str, ...]  # words the failure message must contain (case-insensitive): the fix
    rule: str = ""  # the rule of the task text it breaks ("" for a classic mistake)
    also_fails: tuple[str, ...] = field(default=())  # other test cells allowed to fail, with a reason in `rule`


@dataclass
class Outcome:
    """What one cell did: the error of its visible part, and of its hidden part (None: passed / not run)."""

    visible: str | None = None
    hidden: str | None = None

    @property
    def failed(self) -> bool:
        return self.visible is not None or self.hidden is not None


def source_notebook(assignment: str) -> Path:
    (path,) = sorted((ROOT / "solutions" / assignment).glob("*.ipynb"))
    return path


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _split_test(source: str) -> tuple[str, str]:
    if HIDDEN_BEGIN not in source:
        return source, ""
    visible, rest = source.split(HIDDEN_BEGIN, 1)
    hidden, _, after = rest.partition(HIDDEN_END)
    return visible, hidden + "\n" + after


def _python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _error() -> str:
    return "".join(traceback.format_exc(limit=-3))


def apply(source: str, edits: tuple[tuple[str, str], ...], where: str) -> str:
    for old, new in edits:
        if old not in source:
            raise AssertionError(f"{where}: the text to replace is not in the cell (did the solution change?):\n{old}")
        source = source.replace(old, new)
    return source


def run(assignment: str, answers: dict[str, str] | None = None, release: bool = False) -> dict[str, Outcome]:
    """Execute the source notebook with some answer cells replaced; grade_id -> Outcome for every graded cell."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    answers = answers or {}
    namespace: dict = {"__name__": "__main__"}
    outcomes: dict[str, Outcome] = {}
    for index, cell in enumerate(nb.cells):
        meta = _meta(cell)
        grade_id = meta.get("grade_id")
        if cell.cell_type != "code" or not grade_id:
            continue
        source = answers.get(grade_id, cell.source)
        if release and meta.get("solution"):
            source = released_answer(source)
        outcome = outcomes[grade_id] = Outcome()
        visible, hidden = _split_test(source) if meta.get("grade") else (source, "")
        filename = f"<cell {index} {grade_id}>"
        try:
            exec(compile(_python(visible), filename, "exec"), namespace)
        except BaseException:  # noqa: BLE001 - a test failing is what we record
            outcome.visible = _error()
            continue
        if hidden.strip():
            try:
                exec(compile(_python(hidden), filename + " (hidden)", "exec"), namespace)
            except BaseException:  # noqa: BLE001
                outcome.hidden = _error()
    return outcomes


def with_mistake(assignment: str, mistake: Mistake) -> dict[str, Outcome]:
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    cells = {_meta(c).get("grade_id"): c for c in nb.cells}
    if mistake.cell not in cells or not _meta(cells[mistake.cell]).get("solution"):
        raise AssertionError(f"{mistake.name}: {mistake.cell!r} is not an answer cell of {assignment}")
    for graded in (mistake.fails, *mistake.also_fails):
        if graded not in cells or not _meta(cells[graded]).get("grade"):
            raise AssertionError(f"{mistake.name}: {graded!r} is not a test cell of {assignment}")
    source = apply(cells[mistake.cell].source, mistake.edits, f"{assignment}: {mistake.name}")
    return run(assignment, {mistake.cell: source})
