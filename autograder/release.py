"""Regenerate the student release (``notebooks/``) from the source notebooks (``solutions/``).

This is nbgrader's ``generate_assignment`` run for every chapter folder, after our own check
of each source notebook's markup (so a malformed cell is reported by notebook and cell, not
as a traceback from deep inside nbgrader).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from .errors import NotebookError
from .notebooks import answer_drift, check_source
from .setup_cell import with_setup_cell

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = ROOT / "nbgrader_config.py"


def load_config(root: Path = ROOT) -> Config:
    """The course's nbgrader configuration (``nbgrader_config.py`` at the repository root)."""
    return PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()


def assignments(root: Path = ROOT) -> list[str]:
    """Every assignment: the folders of ``solutions/`` that hold a notebook, sorted."""
    return sorted(p.name for p in (root / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def check_sources(names: list[str], root: Path = ROOT, drift: bool = False) -> None:
    """Validate every source notebook of the given assignments; raise one error listing all problems.

    With ``drift=True`` also require the answers to be the package's code (see :func:`answer_drift`).
    """
    problems = []
    for name in names:
        folder = root / "solutions" / name
        if not folder.is_dir():
            problems.append(f"{folder}: no such assignment (known: {', '.join(assignments(root))})")
            continue
        for path in sorted(folder.glob("*.ipynb")):
            try:
                nb = check_source(_shown(path))
            except NotebookError as exc:
                problems.append(str(exc))
                continue
            if drift:
                problems += [f"{_shown(path)}, {problem}" for problem in answer_drift(nb)]
    if problems:
        raise NotebookError("\n".join(problems))


def _shown(path: Path) -> Path:
    """A path as messages show it: relative to the working folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd())
    except ValueError:
        return path


def sync_setup_cells(names: list[str], root: Path = ROOT) -> list[Path]:
    """Write each source notebook's setup cell from the course's configuration; return the notebooks changed."""
    import nbformat

    changed = []
    for name in names:
        for path in sorted((root / "solutions" / name).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            new = with_setup_cell(nb, path.name, root)
            if nbformat.writes(new) != nbformat.writes(nb):
                nbformat.write(new, path)
                changed.append(path)
    return changed


def generate(names: list[str] | None = None, release_dir: Path | None = None, root: Path = ROOT) -> list[Path]:
    """Write the student version of each assignment to ``release_dir/<assignment>/``.

    ``release_dir`` defaults to ``notebooks/``, and then the source notebooks' setup cells are first written
    from the configuration (:func:`sync_setup_cells`); any other folder (used by the staleness test) gets a
    throw-away gradebook so the course's own is not touched. Returns the notebooks written.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    names = names or assignments(root)
    check_sources(names, root)
    if release_dir is None:  # the course's own release: the setup cells follow _config.yml and the version
        sync_setup_cells(names, root)
    config = load_config(root)
    config.CourseDirectory.root = str(root)
    scratch = None
    if release_dir is not None:
        scratch = tempfile.mkdtemp(prefix="gradebook-")
        config.CourseDirectory.release_directory = str(Path(release_dir).resolve())
        config.CourseDirectory.db_url = f"sqlite:///{scratch}/gradebook.db"
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    out_root = Path(config.CourseDirectory.release_directory)
    out_root = out_root if out_root.is_absolute() else root / out_root
    written = []
    try:
        for name in names:
            result = api.generate_assignment(name, force=True)
            if not result["success"]:
                raise NotebookError(
                    f"nbgrader could not generate '{name}':\n{result.get('error') or result.get('log')}"
                )
            written += sorted((out_root / name).glob("*.ipynb"))
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return written + korean_release(names, out_root, root)


KOREAN = "ko"  # the Korean release: <release folder>/ko/<assignment>/<notebook>.ipynb


def korean_release(names: list[str], release_dir: Path, root: Path = ROOT) -> list[Path]:
    """Write the Korean version of each released notebook that has a translation (book/ko/notebooks/).

    It is the English release with its markdown cells in Korean: the same code, tests and grade_ids (see
    :func:`autograder.translation.korean_notebook`), so the grader grades both alike. Returns the notebooks written.
    """
    import nbformat

    from .translation import korean_notebook, notebook_translation

    written = []
    for name in names:
        if notebook_translation(name, root) is None:
            continue
        for path in sorted((release_dir / name).glob("*.ipynb")):
            target = release_dir / KOREAN / name / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(korean_notebook(nbformat.read(path, as_version=4), name, root), target)
            written.append(target)
    return written
