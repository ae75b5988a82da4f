"""Find every student's notebook in what an instructor collected.

Two layouts are understood (a ``.zip`` of either is unpacked first):

nbgrader     ``SUBMISSIONS/<student>/<assignment>/<assignment>.ipynb`` (the ``submitted/`` folder, or the
             course folder that holds it). A student folder without the notebook is ``missing``; a
             notebook under another name is graded, with a note (nbgrader itself would skip it).
LMS export   a folder (any depth) of notebooks, one or more per student; the student id comes from
             the file's path by a regular expression with a named group ``student`` (``--id-pattern``).
             Presets: ``default`` (the file name up to the first ``_`` or ``.``: ``alice.ipynb``,
             ``alice_ch00-warmup.ipynb``), ``canvas`` (``doejane_12345_678_name.ipynb``, optionally
             with ``_LATE_``: the numeric user id), ``moodle`` (``Jane Doe_12345_assignsubmission_file_...``:
             the participant id). A file the pattern does not match is reported as ``unidentified``.
             When a student has several notebooks the newest (modification time, then name) is graded.

A ``--roster`` file (one id per line, or a CSV with a ``student``/``id`` column) adds a ``missing``
row for everyone on it who submitted nothing.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

from .errors import UsageError
from .records import Task

ID_PRESETS = {
    "default": r"^(?:.*/)?(?P<student>[^/_.]+)[^/]*\.ipynb$",
    "canvas": r"^(?:.*/)?[^/_]+_(?:LATE_)?(?P<student>\d+)_\d+_[^/]*\.ipynb$",
    "moodle": r"(?:^|/)[^/]*?_(?P<student>\d+)_assignsubmission_file_",
}
SKIP_PARTS = {".ipynb_checkpoints", "__MACOSX", "__pycache__"}
MAX_UNZIPPED = 2 * 1024**3


def id_regex(pattern: str) -> re.Pattern:
    regex = re.compile(ID_PRESETS.get(pattern, pattern))
    if "student" not in regex.groupindex:
        raise UsageError(f"--id-pattern {pattern!r} needs a named group (?P<student>...)")
    return regex


def unpack(zip_path: Path, into: Path) -> Path:
    """Extract a zip safely (no absolute paths, no '..', bounded size) and return the folder."""
    with zipfile.ZipFile(zip_path) as zf:
        total = 0
        for info in zf.infolist():
            name = info.filename
            if name.startswith("/") or ".." in Path(name).parts:
                continue
            total += info.file_size
            if total > MAX_UNZIPPED:
                raise UsageError(f"{zip_path}: more than {MAX_UNZIPPED >> 30} GiB unpacked; refusing")
            target = into / name
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            mtime = __import__("datetime").datetime(*info.date_time).timestamp()
            os.utime(target, (mtime, mtime))
    return into


def _notebooks(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*.ipynb")
        if p.is_file()
        and not SKIP_PARTS & set(p.relative_to(folder).parts)
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _newest(paths: list[Path]) -> Path:
    return max(paths, key=lambda p: (p.stat().st_mtime, p.name))


def _nbgrader_root(folder: Path, assignment: str) -> Path | None:
    for root in (folder / "submitted", folder / "autograder" / "submitted", folder):
        if root.is_dir() and any((d / assignment).is_dir() for d in root.iterdir() if d.is_dir()):
            return root
    return None


def collect(
    submissions: Path,
    assignment: str,
    notebook: str,
    id_pattern: str = "default",
    roster: Path | None = None,
    scratch: Path | None = None,
) -> tuple[list[Task], str]:
    """All submissions as tasks (sorted by student id) and a word on the layout found."""
    submissions = Path(submissions)
    if not submissions.exists():
        raise UsageError(f"{submissions}: no such folder or zip file")
    if submissions.is_file():
        if not zipfile.is_zipfile(submissions):
            raise UsageError(f"{submissions}: give a folder of submissions or a .zip of one")
        scratch = Path(scratch or tempfile.mkdtemp(prefix="autograder-unzip-"))
        submissions = unpack(submissions, scratch)
    tasks: dict[str, Task] = {}
    root = _nbgrader_root(submissions, assignment)
    if root is not None:
        layout = f"nbgrader layout in {root}"
        for student_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
            student = student_dir.name
            folder = student_dir / assignment
            exact = folder / f"{notebook}.ipynb"
            found = _notebooks(folder) if folder.is_dir() else []
            if exact.is_file():
                tasks[student] = Task(student, str(exact))
            elif found:
                chosen = _newest(found)
                note = f"the notebook was named {chosen.relative_to(folder)} instead of {notebook}.ipynb; graded anyway"
                if len(found) > 1:
                    note += f" (the newest of {len(found)} notebooks)"
                tasks[student] = Task(student, str(chosen), notes=[note])
            else:
                why = f"no {assignment}/ folder" if not folder.is_dir() else f"no notebook in {assignment}/"
                tasks[student] = Task(student, None, status_hint="missing", notes=[f"nothing submitted ({why})"])
    else:
        regex = id_regex(id_pattern)
        layout = f"LMS export in {submissions} (id pattern {id_pattern!r})"
        per_student: dict[str, list[Path]] = {}
        for path in _notebooks(submissions):
            rel = path.relative_to(submissions).as_posix()
            match = regex.search(rel)
            if not match or not match.group("student"):
                name = f"?{path.stem}"
                tasks[name] = Task(
                    name,
                    str(path),
                    status_hint="unidentified",
                    notes=[
                        f"{rel}: the file name does not match the id pattern {id_pattern!r}, so the student is unknown"
                    ],
                )
                continue
            per_student.setdefault(match.group("student"), []).append(path)
        for student, paths in per_student.items():
            chosen = _newest(paths)
            notes = [f"graded the newest of {len(paths)} notebooks: {chosen.name}"] if len(paths) > 1 else []
            tasks[student] = Task(student, str(chosen), notes=notes)
    for student in read_roster(roster) if roster else []:
        if student not in tasks:
            tasks[student] = Task(student, None, status_hint="missing", notes=["nothing submitted (on the roster)"])
    return [tasks[k] for k in sorted(tasks)], layout


def read_roster(path: Path) -> list[str]:
    text = Path(path).read_text(encoding="utf-8-sig")
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and ("," in lines[0] or "\t" in lines[0]):
        reader = csv.DictReader(lines, dialect="excel-tab" if "\t" in lines[0] else "excel")
        column = next(
            (c for c in reader.fieldnames or [] if c.strip().lower() in ("student", "student_id", "id")), None
        )
        if column is None:
            raise UsageError(f"{path}: a CSV roster needs a 'student' or 'id' column")
        return [row[column].strip() for row in reader if row.get(column, "").strip()]
    return [line.strip() for line in lines if not line.startswith("#")]
