"""Put a submission back into the shape of its source notebook, or say why that is impossible.

The graded notebook is rebuilt in the source's order: every instructor cell (locked cells and
test cells) comes from the release (nbgrader's OverwriteCells then restores the full source,
hidden tests included, from the gradebook); every answer cell comes from the submission; cells
the student added stay where the student put them, between the instructor cells around them.

Submission cells are matched to the source's cells by, in order: nbgrader ``grade_id``, the
cell ``id`` (kept when cells are copied between notebooks in JupyterLab), content (a locked or
test cell's text; the functions an answer cell defines), and position (the one unmatched code
cell between two matched neighbours). A notebook none of whose cells matches is another
assignment's (``wrong-assignment``) or not this exercise at all (``invalid-notebook``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat

from .assignment import Assignment
from .notebooks import nbgrader_meta
from .scan import defined_functions


class Rejected(Exception):
    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass
class Reconciled:
    nb: nbformat.NotebookNode
    notes: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # solution grade_id -> the student's code
    student_cells: list[tuple[int, str]] = field(default_factory=list)  # (index in nb, source) of added code


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in (text or "").strip().splitlines())


def _match(cells: list, asg: Assignment) -> dict[str, int]:
    """grade_id of a source cell -> index of the submission cell that is it."""
    assigned: dict[str, int] = {}
    used: set[int] = set()
    ids = {c.grade_id for c in asg.cells}

    def take(gid: str, index: int) -> None:
        assigned[gid] = index
        used.add(index)

    for i, cell in enumerate(cells):  # 1. grade_id
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in ids and gid not in assigned:
            take(gid, i)
    for sc in asg.cells:  # 2. cell id
        if sc.grade_id in assigned or not sc.cell_id:
            continue
        for i, cell in enumerate(cells):
            if i not in used and cell.get("id") == sc.cell_id and cell.get("cell_type") == sc.cell_type:
                take(sc.grade_id, i)
                break
    for sc in asg.cells:  # 3. content
        if sc.grade_id in assigned:
            continue
        for i, cell in enumerate(cells):
            if i in used or cell.get("cell_type") != sc.cell_type:
                continue
            text = _norm(cell.get("source", ""))
            if sc.role in ("solution", "manual") and sc.cell_type == "code":
                hit = bool(sc.defines) and set(sc.defines) <= set(defined_functions(cell.get("source", "")))
                hit = hit or text == _norm(sc.release_source)
            else:
                hit = text in (_norm(sc.release_source), _norm(sc.source)) and bool(text)
            if hit:
                take(sc.grade_id, i)
                break
    order = [sc.grade_id for sc in asg.cells]
    for k, sc in enumerate(asg.cells):  # 4. position: the one free code cell between matched neighbours
        if sc.grade_id in assigned or sc.role not in ("solution", "manual"):
            continue
        before = [assigned[g] for g in order[:k] if g in assigned]
        after = [assigned[g] for g in order[k + 1 :] if g in assigned]
        lo, hi = (max(before) if before else -1), (min(after) if after else len(cells))
        free = [i for i in range(lo + 1, hi) if i not in used and cells[i].get("cell_type") == "code"]
        if len(free) == 1 and (before or after):
            take(sc.grade_id, free[0])
    return assigned


def _score(cells: list, asg: Assignment) -> int:
    """How many of the assignment's answer and instructor code cells this notebook holds."""
    assigned = _match(cells, asg)
    return sum(1 for gid in assigned if asg.cell(gid).cell_type == "code" or asg.cell(gid).role != "locked")


def reconcile(nb, asg: Assignment, others: list[Assignment] = ()) -> Reconciled:
    """Rebuild ``nb`` in the shape of ``asg``'s source; raise :class:`Rejected` if it is not that exercise."""
    cells = list(nb.get("cells", []))
    assigned = _match(cells, asg)
    own = sum(
        1
        for gid in assigned
        if asg.cell(gid).role in ("solution", "manual", "test") or asg.cell(gid).cell_type == "code"
    )
    foreign_ids = {nbgrader_meta(c).get("grade_id") for c in cells} - {None} - {c.grade_id for c in asg.cells}
    best, best_score = None, 0
    for other in others:
        if other.name == asg.name:
            continue
        score = _score(cells, other)
        if score > best_score:
            best, best_score = other, score
    if best is not None and best_score > own:
        raise Rejected(
            "wrong-assignment",
            f"this is the notebook of assignment '{best.name}', not '{asg.name}' "
            f"({best_score} of its cells match '{best.name}', {own} match '{asg.name}')",
        )
    answers = [sc for sc in asg.cells if sc.role in ("solution", "manual")]
    if not any(sc.grade_id in assigned for sc in answers) and own == 0:
        if foreign_ids:
            raise Rejected(
                "wrong-assignment",
                f"none of its cells belongs to '{asg.name}' (it has cells "
                f"{', '.join(sorted(foreign_ids)[:4])} of another notebook)",
            )
        wanted = ", ".join(f"`{n}`" for sc in answers for n in sc.defines) or "the answers"
        raise Rejected(
            "invalid-notebook",
            f"none of its {len(cells)} cells matches '{asg.name}': the nbgrader "
            f"metadata is missing and no cell defines {wanted}",
        )

    notes: list[str] = []
    stripped = sum(1 for gid, i in assigned.items() if nbgrader_meta(cells[i]).get("grade_id") != gid)
    if stripped:
        notes.append(
            f"{stripped} cell(s) had lost their nbgrader metadata and were matched to the exercise "
            "by id, content or position"
        )
    owner = {i: gid for gid, i in assigned.items()}
    placed: dict[str | None, list] = {}
    last = None
    dropped_ids = []
    for i, cell in enumerate(cells):
        if i in owner:
            last = owner[i]
            continue
        cell = copy.deepcopy(cell)
        meta = cell.get("metadata", {})
        if "nbgrader" in meta:
            if meta["nbgrader"].get("grade_id"):
                dropped_ids.append(meta["nbgrader"]["grade_id"])
            del meta["nbgrader"]
        for key in ("deletable", "editable"):
            meta.pop(key, None)
        placed.setdefault(last, []).append(cell)
    if dropped_ids:
        notes.append(
            "cell(s) " + ", ".join(dropped_ids[:5]) + " are not (or no longer) cells of this exercise "
            "(duplicated or foreign grade_id) and were run as your own cells"
        )

    out = nbformat.v4.new_notebook()
    out.metadata = copy.deepcopy(asg.release_nb().metadata)
    out.cells = list(placed.get(None, []))
    result = Reconciled(nb=out, notes=notes)
    readded, restored, unanswered = [], [], []
    for sc in asg.cells:
        cell = nbformat.from_dict(copy.deepcopy(sc.release_cell))
        if sc.grade_id in assigned:
            mine = cells[assigned[sc.grade_id]]
            if sc.role in ("solution", "manual"):
                cell.source = mine.get("source", "")
                if isinstance(cell.source, list):
                    cell.source = "".join(cell.source)
                result.answers[sc.grade_id] = cell.source
            elif (
                _norm(mine.get("source", "")) not in (_norm(sc.release_source), _norm(sc.source))
                or mine.get("cell_type") != sc.cell_type
            ):
                if sc.cell_type == "code":
                    restored.append(sc.grade_id)
        else:
            if sc.role in ("solution", "manual"):
                unanswered.append(sc)
                result.answers[sc.grade_id] = ""
            elif sc.role == "test":
                readded.append(sc.grade_id)
        if cell.cell_type != "code":
            cell.pop("outputs", None)
        else:
            cell.outputs, cell.execution_count = [], None
        out.cells.append(cell)
        out.cells.extend(placed.get(sc.grade_id, []))
    if restored:
        notes.append("edited instructor cell(s) " + ", ".join(restored) + " were restored from the source")
    if readded:
        notes.append("deleted test cell(s) " + ", ".join(readded) + " were re-added from the source")
    for sc in unanswered:
        what = ", ".join(f"`{n}`" for n in sc.defines) or sc.grade_id
        notes.append(f"no answer cell for {what} was found; it was graded as unanswered")
    given = {_norm(text) for text in asg.free_sources}
    for i, cell in enumerate(out.cells):
        if cell.cell_type == "code" and not nbgrader_meta(cell):
            text = cell.source if isinstance(cell.source, str) else "".join(cell.source)
            if _norm(text) in given:
                # an ordinary cell of the release, unchanged: the instructor's code, not the student's
                cell.metadata["autograder"] = {"origin": "release"}
            else:
                result.student_cells.append((i, text))
    for cell in out.cells:  # nbformat 4.5 ids must be unique and valid
        cell.pop("id", None)
    out.nbformat, out.nbformat_minor = 4, 4
    return result
