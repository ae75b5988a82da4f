"""Reading, checking, executing and scoring nbgrader notebooks.

Everything here names the notebook and the cell it complains about, so an instructor who
breaks a source notebook (or a student who breaks a submission) learns where and what.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.utils import determine_grade

from .errors import NotebookError

SOLUTION_BEGIN, SOLUTION_END = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """Read a notebook, or fail with a message that names the file."""
    path = Path(path)
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such notebook") from None
    except Exception as exc:  # nbformat raises several kinds for bad JSON / bad schema
        raise NotebookError(f"{path}: not a readable Jupyter notebook ({type(exc).__name__}: {exc})") from None


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def cell_label(index: int, cell) -> str:
    """'cell 7 (grade_id "test_softmax")': how messages point at a cell (1-based, as Jupyter counts)."""
    grade_id = nbgrader_meta(cell).get("grade_id")
    return f"cell {index + 1}" + (f' (grade_id "{grade_id}")' if grade_id else "")


def source_problems(nb, path: str | Path) -> list[str]:
    """Everything wrong with the nbgrader markup of a *source* notebook (empty list: fine)."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    graded = 0
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        where = f"{path}, {cell_label(index, cell)}"
        text = cell.get("source", "")
        lines = [line.strip() for line in text.splitlines()]
        has_solution_markers = SOLUTION_BEGIN in lines or SOLUTION_END in lines
        has_hidden_markers = HIDDEN_BEGIN in lines or HIDDEN_END in lines
        if not meta:
            if has_solution_markers or has_hidden_markers:
                problems.append(
                    f"{where}: has '### BEGIN ...' markers but no nbgrader metadata; "
                    "mark it as a solution or test cell in the nbgrader toolbar"
                )
            continue
        grade_id = meta.get("grade_id")
        if not grade_id or not GRADE_ID.match(str(grade_id)):
            problems.append(f"{where}: grade_id {grade_id!r} must be non-empty letters, digits, '_' or '-'")
        elif grade_id in seen:
            problems.append(
                f"{where}: grade_id {grade_id!r} is also used by cell {seen[grade_id] + 1}; ids must be unique"
            )
        else:
            seen[grade_id] = index
        if meta.get("grade"):
            graded += 1
            points = meta.get("points")
            if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
                problems.append(f"{where}: a graded cell needs points > 0, found points={points!r}")
        if meta.get("solution"):
            if cell.cell_type == "code" and not _in_order(lines, SOLUTION_BEGIN, SOLUTION_END):
                problems.append(
                    f"{where}: a solution cell needs '{SOLUTION_BEGIN}' and then '{SOLUTION_END}' "
                    "(each on its own line) around the answer"
                )
        elif has_solution_markers:
            problems.append(f"{where}: has solution markers but is not a solution cell")
        if has_hidden_markers:
            if not meta.get("grade") or meta.get("solution"):
                problems.append(f"{where}: hidden tests belong in a locked, graded test cell")
            if not _in_order(lines, HIDDEN_BEGIN, HIDDEN_END):
                problems.append(f"{where}: '{HIDDEN_BEGIN}' must be followed by '{HIDDEN_END}'")
        if meta.get("grade") and cell.cell_type == "code" and not meta.get("solution") and not meta.get("locked"):
            problems.append(f"{where}: a test cell must be locked (read-only) so students cannot edit it")
    if graded == 0:
        problems.append(f"{path}: no graded test cells; an exercise needs at least one 'Autograder tests' cell")
    return problems


def _in_order(lines: list[str], begin: str, end: str) -> bool:
    if lines.count(begin) != lines.count(end) or begin not in lines:
        return False
    depth = 0
    for line in lines:
        depth += (line == begin) - (line == end)
        if depth not in (0, 1):
            return False
    return depth == 0


def check_source(path: str | Path) -> nbformat.NotebookNode:
    """Read a source notebook and raise :class:`NotebookError` listing every markup problem."""
    nb = read_notebook(path)
    problems = source_problems(nb, path)
    if problems:
        raise NotebookError("malformed nbgrader notebook:\n  " + "\n  ".join(problems))
    return nb


def reference_modules(nb) -> list[str]:
    """The package modules whose code the answers re-implement (notebook metadata ``gptcourse.reference_modules``)."""
    return list(nb.metadata.get("gptcourse", {}).get("reference_modules", []))


def answer_drift(nb) -> list[str]:
    """How the answers of a source notebook differ from the course package (empty list: identical).

    Each def/class in an answer cell must exist, under the same name, in one of the notebook's
    reference modules, with the same code (docstrings and type annotations aside): the package
    is what the book imports, so the graded solution and the book cannot drift apart.
    """
    names = reference_modules(nb)
    if not names:
        return ["metadata gptcourse.reference_modules is missing: name the module(s) the answers re-implement"]
    modules = [importlib.import_module(name) for name in names]
    problems = []
    for index, cell in enumerate(nb.cells):
        if not (nbgrader_meta(cell).get("solution") and cell.cell_type == "code"):
            continue
        for node in ast.parse(strip_markers(cell.source)).body:
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            where = f"{cell_label(index, cell)}: {node.name}"
            module = next((m for m in modules if hasattr(m, node.name)), None)
            if module is None:
                problems.append(f"{where} is in none of {names}; add it to the package and import it from there")
                continue
            package = ast.parse(textwrap.dedent(inspect.getsource(getattr(module, node.name)))).body[0]
            if _logic(node) != _logic(package):
                problems.append(f"{where} differs from {module.__name__}.{node.name}; make them identical")
    return problems


def _logic(node) -> str:
    """The code of a def/class with docstrings and type annotations removed (they are not logic)."""
    node = ast.parse(ast.unparse(node)).body[0]
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            sub.annotation = None
        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            sub.returns = None
        body = getattr(sub, "body", None)
        if (
            isinstance(body, list)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            sub.body = body[1:] or [ast.Pass()]
    return ast.dump(node)


def strip_markers(source: str) -> str:
    """The solution code as a student would type it: the BEGIN/END SOLUTION lines removed."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in (SOLUTION_BEGIN, SOLUTION_END))


def fill_solutions(release_nb, source_nb):
    """A 'perfect student': the release notebook with every answer cell filled from the source.

    Cells are matched by grade_id, the way nbgrader matches them; the result is what a student
    who wrote the reference answers would submit.
    """
    answers = {nbgrader_meta(c).get("grade_id"): c for c in source_nb.cells if nbgrader_meta(c).get("solution")}
    filled = copy.deepcopy(release_nb)
    for cell in filled.cells:
        grade_id = nbgrader_meta(cell).get("grade_id")
        if nbgrader_meta(cell).get("solution") and grade_id in answers:
            cell.source = strip_markers(answers[grade_id].source)
    return filled


@dataclass
class CellScore:
    grade_id: str
    points: float
    max_points: float
    error: str  # "" when the cell passed


def score(nb) -> list[CellScore]:
    """nbgrader's own verdict on every autograded test cell of an *executed* notebook."""
    scores = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("grade") or meta.get("solution") or cell.cell_type != "code":
            continue
        points, max_points = determine_grade(cell)
        errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in cell.get("outputs", []) if o.output_type == "error"]
        errors += [
            "wrote to stderr: " + o.get("text", "")[:200]
            for o in cell.get("outputs", [])
            if o.output_type == "stream" and o.get("name") == "stderr"
        ]
        scores.append(CellScore(meta["grade_id"], float(points or 0), max_points, "\n".join(errors)))
    return scores


def execute(nb, path: str | Path, *, timeout: int = 600, allow_errors: bool = False):
    """Run every cell with nbclient in the notebook's folder and return the executed copy.

    With ``allow_errors=False`` the first failing cell raises :class:`NotebookError` naming the
    notebook, the cell, the error and, for a missing module, what to install.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from autograder.kernel_client import SlicedPollKernelManager

    path = Path(path)
    nb = copy.deepcopy(nb)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        kernel_manager_class=SlicedPollKernelManager,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except CellExecutionError:
        raise NotebookError(first_error(nb, path)) from None
    return nb


def first_error(nb, path: str | Path) -> str:
    """'<path>, cell 2 (grade_id "imports") failed: ModuleNotFoundError: ...' for the first cell that
    raised in an executed notebook, with what to do about a missing module ("" if no cell failed)."""
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                hint = ""
                if output.ename in ("ModuleNotFoundError", "ImportError"):
                    hint = (
                        "\n  A dependency is missing: install the course environment with "
                        "`pip install -r requirements.txt`."
                    )
                return f"{path}, {cell_label(index, cell)} failed: {output.ename}: {output.evalue}{hint}"
    return ""
