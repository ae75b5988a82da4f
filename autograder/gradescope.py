"""Gradescope: grade the one submission in ``/autograder/submission`` and write ``results.json``.

Use as the body of Gradescope's ``run_autograder`` script::

    #!/usr/bin/env bash
    cd /autograder/source && python -m autograder gradescope

The assignment is taken from ``--assignment``, else from the notebook's name, else from its cells.
Gradescope's format: https://gradescope-autograders.readthedocs.io/en/latest/specs/ ("results.json").
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .assignment import find_source, prepare, source_names
from .classroom import load_others
from .errors import EXIT_GRADER_FAILED, EXIT_OK, NotebookError, UsageError
from .grade import grade
from .match import Rejected, reconcile
from .notebooks import read_notebook
from .records import Limits, Task
from .release import ROOT
from .report import feedback_words
from .store import write_json


def _pick_assignment(notebook: Path, source_dir: Path | None, cache) -> str:
    folder = Path(source_dir) if source_dir else ROOT / "solutions"
    names = source_names(folder)
    if notebook.stem in names:
        return notebook.stem
    nb = read_notebook(notebook)
    for name in names:
        try:
            reconcile(nb, prepare(name, folder, cache, light=True))
            return name
        except (Rejected, NotebookError, UsageError):
            continue
    raise UsageError(
        f"{notebook.name}: cannot tell which assignment this is (known: {', '.join(names)}); pass --assignment"
    )


def run(
    submission: Path,
    results: Path,
    assignment: str | None = None,
    source_dir: Path | None = None,
    limits: Limits = Limits(),
    cache: Path | None = None,
) -> int:
    notebooks = sorted(p for p in Path(submission).rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        write_json(results, {"score": 0, "output": "No .ipynb file was submitted.", "tests": []})
        return EXIT_OK
    if assignment:
        find_source(assignment, source_dir)
    preferred = [p for p in notebooks if assignment and p.stem == assignment]
    notebook = (preferred or notebooks)[0]
    try:
        assignment = assignment or _pick_assignment(notebook, source_dir, cache)
    except (NotebookError, UsageError) as exc:
        write_json(results, {"score": 0, "output": str(exc), "tests": []})
        return EXIT_OK
    asg = prepare(assignment, source_dir, cache)
    notes = [f"graded {notebook.name} (of {len(notebooks)} notebooks)"] if len(notebooks) > 1 else []
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        result = grade(
            Task("submission", str(notebook), notes=notes),
            asg,
            limits,
            load_others(asg, source_dir, cache),
            hide=[str(Path(submission).resolve()), str(ROOT / "solutions")],
            workdir=tmp,
        )
    status = result["status"]
    _, words = feedback_words(result)  # the notebook's language
    output = f"{words['status']}: {status}: {words['status text'].get(status, '')}." + (
        f"\n{result['reason']}" if result["reason"] else ""
    )
    data = {
        "score": result["points"],
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": t["grade_id"],
                "score": t["points"],
                "max_score": t["max_points"],
                "status": "passed" if t["state"] == "passed" else "failed",
                "output": t["message"] or "passed",
                "visibility": "visible",
            }
            for t in result["tests"]
        ],
    }
    write_json(Path(results), data)
    print(json.dumps({"status": status, "score": result["points"], "max": result["max_points"]}))
    return EXIT_GRADER_FAILED if status == "grader-error" else EXIT_OK
