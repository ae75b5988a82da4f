"""Shared helpers for the test suite: where things are, and nbgrader run for real."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.notebooks import fill_solutions, read_notebook, score
from autograder.release import assignments

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = assignments(ROOT)
SCREENSHOTS = ROOT / "_build" / "screenshots"  # the browser tests' screenshots (look at them)

#: Every test that starts Jupyter kernels (the book build, nbgrader, the autograder, JupyterLab) runs on one
#: pytest-xdist worker, one after the other. A kernel's ports are picked by the process that starts it, so
#: two processes starting kernels at the same moment can pick the same port ("Address already in use", or a
#: client that waits on the other kernel's socket until its timeout); one process at a time cannot.
KERNELS = pytest.mark.xdist_group("kernels")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session", autouse=True)
def _fresh_training_cache(tmp_path_factory):
    """Models trained during the tests (the book build included) are kept in a fresh folder, not ~/.cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GPTCOURSE_CACHE", str(tmp_path_factory.mktemp("training-cache")))
    yield
    mp.undo()


def source_notebook(assignment: str) -> Path:
    (path,) = sorted((ROOT / "solutions" / assignment).glob("*.ipynb"))
    return path


def release_notebook(assignment: str) -> Path:
    return ROOT / "notebooks" / assignment / source_notebook(assignment).name


def nbgrader(course: Path, *args: str) -> None:
    """Run an nbgrader command in a course folder; fail the test with nbgrader's own log if it fails."""
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"nbgrader {' '.join(args)} failed in {course}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def make_course(tmp_path: Path, assignment: str, source_nb=None) -> Path:
    """A throw-away copy of the course layout (config + one source notebook), with its release generated."""
    course = tmp_path / "course"
    (course / "solutions" / assignment).mkdir(parents=True)
    (course / "autograder").mkdir()  # the gradebook lives here
    shutil.copy(ROOT / "nbgrader_config.py", course)
    target = course / "solutions" / assignment / source_notebook(assignment).name
    if source_nb is None:
        shutil.copy(source_notebook(assignment), target)
    else:
        import nbformat

        nbformat.write(source_nb, target)
    nbgrader(course, "generate_assignment", assignment, "--force")
    return course


@pytest.fixture(scope="session")
def generated_course(tmp_path_factory):
    """``generated_course(assignment)``: the course of :func:`make_course` for that assignment, its release
    generated once per test session (nbgrader is slow: seconds per assignment) and shared by every test.

    Read it, never change it: a test that edits the release or grades in the course works on its own copy
    (the :func:`course_copy` fixture). The tests using it carry the :data:`KERNELS` mark, so under
    ``--dist loadgroup`` they all run on one worker and each assignment is generated once per run.
    """
    courses = {}

    def generated(assignment: str) -> Path:
        if assignment not in courses:
            courses[assignment] = make_course(tmp_path_factory.mktemp(f"generated-{assignment}"), assignment)
        return courses[assignment]

    return generated


@pytest.fixture
def course_copy(generated_course, tmp_path):
    """``course_copy(assignment)``: this test's own copy of :func:`generated_course` (release and gradebook)."""

    def copy(assignment: str) -> Path:
        return Path(shutil.copytree(generated_course(assignment), tmp_path / "course"))

    return copy


def autograde(course: Path, assignment: str, submissions: dict) -> dict:
    """Submit notebooks (student id -> notebook node), run nbgrader autograde, return student -> [CellScore]."""
    import nbformat

    name = source_notebook(assignment).name
    for student, nb in submissions.items():
        folder = course / "autograder" / "submitted" / student / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)
    nbgrader(course, "autograde", assignment, "--force")
    return {
        student: score(read_notebook(course / "autograder" / "autograded" / student / assignment / name))
        for student in submissions
    }


def perfect_submission(course: Path, assignment: str):
    """What a student who typed the reference answers into the release would hand in."""
    name = source_notebook(assignment).name
    release = read_notebook(course / "notebooks" / assignment / name)
    return fill_solutions(release, read_notebook(course / "solutions" / assignment / name))


def toc_files() -> list[str]:
    """Every page of _toc.yml, in order (paths without suffix)."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    return files


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The book built once per test session, both editions, warnings as errors; the folder of its HTML.

    The English site is built as ``make book`` builds it, then the Korean edition from its executed pages
    into ``ko/`` (its build log is kept in ``ko-build.log`` beside the HTML folder). Tests using it carry the
    :data:`KERNELS` mark, so one worker builds it.
    """
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run(
        [str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, (
        "the book does not build cleanly:\n"
        + "\n".join(line for line in log.splitlines() if "WARNING" in line or "ERROR" in line or "Error" in line)[
            -5000:
        ]
    )
    html = out / "_build" / "html"
    from autograder.edition import build_korean_site

    log = build_korean_site(out / "ko", out / "_build" / "jupyter_execute", html, ROOT)
    (out / "_build" / "ko-build.log").write_text(log)
    return html


def describe(scores) -> str:
    return "\n".join(f"  {s.grade_id}: {s.points}/{s.max_points} {s.error}" for s in scores)


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (which downloads no browser of its own)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: `apt-get install chromium` (Debian) or run `bash .ci/run`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
