"""The results in an output folder: one ``OUT/results/<safe_name(student)>.json`` per student.

Written by the class runner (:mod:`autograder.classroom`), ``merge`` and ``gradescope``; read back
by the class runner and rebuilt into reports (:mod:`autograder.report`), whose per-student files
(``feedback/<name>.html``, ``autograded/<name>/``) carry the same name.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from .records import Result


def safe_name(student: str) -> str:
    """A file name for a student id (ids with odd characters get a short hash to stay unique)."""
    clean = re.sub(r"[^A-Za-z0-9._@-]", "_", student).strip(".") or "student"
    if clean != student:
        clean += "-" + hashlib.sha1(student.encode()).hexdigest()[:6]
    return clean


def write_json(path: Path, data) -> None:
    """Write ``data`` as JSON atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
    os.replace(tmp, path)


def load_results(results_dir: Path, only: set[str] | None = None) -> list[Result]:
    """Every result in ``results_dir`` (or those whose file name is in ``only``), sorted by student."""
    results = []
    for path in sorted(Path(results_dir).glob("*.json")):
        if path.name.startswith("_") or (only is not None and path.stem not in only):
            continue
        results.append(json.loads(path.read_text()))
    return sorted(results, key=lambda r: r["student"])
