"""An assignment as the grader needs it: the source notebook, its release, and a template gradebook.

:func:`prepare` runs nbgrader's ``generate_assignment`` once per version of a source notebook
(cached by content hash) and keeps the resulting gradebook as a template: every submission is
graded against its own copy, so parallel grading never shares a SQLite file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .errors import NotebookError, UsageError
from .interpreter import ensure_tools_on_path
from .notebooks import HIDDEN_BEGIN, HIDDEN_END, SOLUTION_BEGIN, SOLUTION_END, check_source, nbgrader_meta
from .release import ROOT, load_config
from .scan import bound_names, defined_functions

#: Bump when a change to the grader can change results (cached results are then re-graded).
GRADER_VERSION = "1"


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gptcourse-autograder"


def quiet() -> None:
    """Silence SQLAlchemy's warnings about how nbgrader uses its database (harmless, and they flood the log)."""
    import warnings

    try:
        from sqlalchemy.exc import SAWarning

        warnings.filterwarnings("ignore", category=SAWarning)
    except ImportError:  # pragma: no cover
        pass


def find_source(name: str, source_dir: Path | None = None) -> Path:
    """The source notebook of assignment ``name``: ``DIR/name/name.ipynb`` (or ``DIR/name.ipynb``)."""
    folder = Path(source_dir) if source_dir else ROOT / "solutions"
    if not (folder / name).is_dir() and (folder / "solutions" / name).is_dir():
        folder = folder / "solutions"  # a course folder
    for candidate in (folder / name / f"{name}.ipynb", folder / f"{name}.ipynb"):
        if candidate.is_file():
            return candidate
    inside = sorted((folder / name).glob("*.ipynb")) if (folder / name).is_dir() else []
    if len(inside) == 1:
        return inside[0]
    known = ", ".join(source_names(folder)) or "none"
    raise UsageError(f"no source notebook for assignment '{name}' in {folder} (assignments there: {known})")


def source_names(folder: Path) -> list[str]:
    folder = Path(folder)
    if not folder.is_dir():
        return []
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
    if not names and (folder / "solutions").is_dir():
        return source_names(folder / "solutions")  # a course folder
    return names


def _hidden_stripped(source: str) -> str:
    out, hidden = [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_BEGIN:
            hidden = True
        elif line.strip() == HIDDEN_END:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out).rstrip()


def _secret_lines(cells) -> list[str]:
    """The lines of hidden tests that the student's notebook does not show anyway (a line such as
    ``with checking(...):`` may stand in both parts of a test cell: it is no secret)."""
    shown = {line.strip() for c in cells for line in c.release_source.splitlines()}
    return sorted({line for c in cells if c.role == "test" for line in _hidden_lines(c.source)} - shown)


def _hidden_lines(source: str) -> list[str]:
    lines, hidden = [], False
    for line in source.splitlines():
        if line.strip() == HIDDEN_BEGIN:
            hidden = True
        elif line.strip() == HIDDEN_END:
            hidden = False
        elif hidden and len(line.strip()) >= 12:
            lines.append(line.strip())
    return lines


@dataclass
class SourceCell:
    grade_id: str
    role: str  # "test" | "solution" | "manual" | "locked" | "task"
    cell_type: str
    source: str  # the instructor's source (hidden tests included)
    release_source: str  # what students got
    release_cell: dict  # the release cell (metadata included)
    cell_id: str | None
    defines: list[str] = field(default_factory=list)  # solution cells: top-level def/class names
    binds: list[str] = field(default_factory=list)  # locked code cells: top-level names they bind
    points: float = 0.0


@dataclass
class Test:
    grade_id: str
    points: float
    visible_source: str  # the test as released (hidden part removed)
    hidden_count: int  # lines of hidden tests
    solutions: list[str]  # grade_ids of the answer cells it checks
    required: list[str]  # the functions those answer cells must define


@dataclass
class Assignment:
    name: str
    notebook: str  # notebook name without .ipynb
    source_path: str
    fingerprint: str
    reference_modules: list[str]
    cells: list[SourceCell]
    tests: list[Test]
    protected: list[str]  # names bound by instructor code cells (test helpers, imports, data)
    hidden_lines: list[str]
    free_sources: list[str]  # the release's ordinary code cells (no nbgrader metadata), e.g. "explore"
    template_db: str
    release_json: str
    extra_files: list[str]
    course_id: str = "seq2seq-to-gpt2"

    @property
    def max_points(self) -> float:
        return sum(t.points for t in self.tests)

    def release_nb(self):
        return nbformat.reads(self.release_json, as_version=4)

    def cell(self, grade_id: str) -> SourceCell:
        return next(c for c in self.cells if c.grade_id == grade_id)

    def info(self) -> dict:
        """What reports need (no hidden test source)."""
        return {
            "assignment": self.name,
            "notebook": self.notebook + ".ipynb",
            "fingerprint": self.fingerprint,
            "max_points": self.max_points,
            "reference_modules": self.reference_modules,
            "tests": [
                {
                    "grade_id": t.grade_id,
                    "points": t.points,
                    "visible_source": t.visible_source,
                    "hidden_count": t.hidden_count,
                    "solutions": t.solutions,
                }
                for t in self.tests
            ],
        }


def _role(meta: dict) -> str:
    if meta.get("grade") and meta.get("solution"):
        return "manual"
    if meta.get("grade"):
        return "test"
    if meta.get("solution"):
        return "solution"
    if meta.get("task"):
        return "task"
    return "locked"


def _generate(source_path: Path, name: str, out: Path) -> None:
    """nbgrader generate_assignment in a scratch course: writes out/gradebook.db and out/release.ipynb."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    ensure_tools_on_path()
    scratch = Path(tempfile.mkdtemp(prefix="autograder-generate-"))
    try:
        (scratch / "source" / name).mkdir(parents=True)
        shutil.copy(source_path, scratch / "source" / name / source_path.name)
        config = load_config()
        config.CourseDirectory.root = str(scratch)
        config.CourseDirectory.source_directory = "source"
        config.CourseDirectory.release_directory = "release"
        config.CourseDirectory.db_url = f"sqlite:///{scratch}/gradebook.db"
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        result = api.generate_assignment(name, force=True)
        if not result["success"]:
            raise NotebookError(
                f"nbgrader could not generate '{name}' from {source_path}:\n{result.get('error') or result.get('log')}"
            )
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(scratch / "gradebook.db", out / "gradebook.db")
        shutil.copy(scratch / "release" / name / source_path.name, out / "release.ipynb")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _approximate_release(source_nb, cells: list[SourceCell]):
    """The release as nbgrader would make it, from the source alone (light mode)."""
    import copy

    nb = copy.deepcopy(source_nb)
    texts = {c.grade_id: c.release_source for c in cells}
    for cell in nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in texts:
            cell.source = texts[gid]
    return nb


def released_answer(source: str) -> str:
    """A solution cell as nbgrader releases it (used where no release was generated)."""
    out, inside = [], False
    for line in source.splitlines():
        if line.strip() == SOLUTION_BEGIN:
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
        elif line.strip() == SOLUTION_END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def prepare(name: str, source_dir: Path | None = None, cache: Path | None = None, light: bool = False) -> Assignment:
    """Load and check the source notebook of ``name``; generate (or reuse) its release and gradebook.

    ``light=True`` skips nbgrader (no release, no gradebook): enough to recognise the assignment's
    cells in a notebook handed in for the wrong one.
    """
    source_path = find_source(name, source_dir).resolve()
    source_nb = check_source(source_path)
    data = source_path.read_bytes()
    fingerprint = hashlib.sha256(data + GRADER_VERSION.encode()).hexdigest()[:20]
    cache = Path(cache) if cache else default_cache()
    entry = cache / f"{name}-{fingerprint}"
    if light:
        release_nb = None
    else:
        if not (entry / "gradebook.db").is_file() or not (entry / "release.ipynb").is_file():
            cache.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache))
            _generate(source_path, name, partial)
            try:
                os.replace(partial, entry)
            except OSError:  # another process won the race: use its copy
                shutil.rmtree(partial, ignore_errors=True)
        release_nb = nbformat.read(entry / "release.ipynb", as_version=4)
    release_cells = (
        {nbgrader_meta(c).get("grade_id"): c for c in release_nb.cells if nbgrader_meta(c)}
        if release_nb is not None
        else {}
    )

    cells: list[SourceCell] = []
    for cell in source_nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("grade_id"):
            continue
        role = _role(meta)
        released = release_cells.get(meta["grade_id"])
        if released is None:
            text = (
                _hidden_stripped(cell.source)
                if role == "test"
                else released_answer(cell.source)
                if role in ("solution", "manual")
                else cell.source
            )
            released = nbformat.from_dict({**cell, "source": text})
        sc = SourceCell(
            grade_id=meta["grade_id"],
            role=role,
            cell_type=cell.cell_type,
            source=cell.source,
            release_source=released.source,
            release_cell=json.loads(json.dumps(released)),
            cell_id=released.get("id"),
            points=float(meta.get("points") or 0),
        )
        if sc.role in ("solution", "manual") and cell.cell_type == "code":
            sc.defines = defined_functions(cell.source)
        if sc.role == "locked" and cell.cell_type == "code":
            sc.binds = sorted(bound_names(cell.source))
        cells.append(sc)

    # A test cell checks the answer cells since the previous test cell. One directly below another test
    # cell is a further part of the same task's tests (a task's points split over several cells) and checks
    # the same answers; one after a task text of its own with no answer cell (e.g. "train with everything
    # you wrote") checks every answer before it.
    tests, pending, seen, previous = [], [], [], None
    for sc in cells:
        if sc.role in ("solution", "manual") and sc.cell_type == "code":
            pending.append(sc)
            seen.append(sc)
            previous = None
        elif sc.role == "test" and sc.cell_type == "code":
            checked = pending or previous or list(seen)
            previous = checked
            tests.append(
                Test(
                    grade_id=sc.grade_id,
                    points=sc.points,
                    visible_source=_hidden_stripped(sc.source),
                    hidden_count=len(_hidden_lines(sc.source)),
                    solutions=[p.grade_id for p in checked],
                    required=[n for p in checked for n in p.defines],
                )
            )
            pending = []
        else:
            previous = None
    if not tests:
        raise NotebookError(f"{source_path}: no autograded test cells")
    refs = list((source_nb.metadata.get("gptcourse") or {}).get("reference_modules") or [])
    folder = source_path.parent
    extra = (
        sorted(
            str(p)
            for p in folder.rglob("*")
            if p.is_file()
            and p.suffix != ".ipynb"
            and ".ipynb_checkpoints" not in p.parts
            and "__pycache__" not in p.parts
        )
        if folder.name == name
        else []
    )
    return Assignment(
        name=name,
        notebook=source_path.stem,
        source_path=str(source_path),
        fingerprint=fingerprint,
        reference_modules=refs,
        cells=cells,
        tests=tests,
        protected=sorted({n for c in cells for n in c.binds}),
        hidden_lines=_secret_lines(cells),
        free_sources=[c.source for c in source_nb.cells if c.cell_type == "code" and not nbgrader_meta(c)],
        template_db="" if light else str(entry / "gradebook.db"),
        release_json=nbformat.writes(release_nb if release_nb is not None else _approximate_release(source_nb, cells)),
        extra_files=extra,
        course_id=str(load_config().CourseDirectory.course_id or "seq2seq-to-gpt2"),
    )
