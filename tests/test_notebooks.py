"""Every exercise, checked the way it is used: released, worked, handed in, graded by nbgrader.

Parametrised over every assignment folder in solutions/, so a new chapter is covered the
moment its source notebook exists.
"""

from __future__ import annotations

import json
import shutil

import pytest

from autograder.notebooks import (
    HIDDEN_BEGIN,
    SOLUTION_BEGIN,
    answer_drift,
    check_source,
    first_error,
    nbgrader_meta,
    read_notebook,
)
from conftest import (
    ASSIGNMENTS,
    KERNELS,
    ROOT,
    autograde,
    describe,
    perfect_submission,
    release_notebook,
    source_notebook,
)

pytestmark = [pytest.mark.parametrize("assignment", ASSIGNMENTS), KERNELS]


def test_source_markup_is_valid(assignment):
    check_source(source_notebook(assignment))


def _canonical(path):
    return json.dumps(json.loads(path.read_text(encoding="utf-8")), sort_keys=True, indent=1)


def release_differences(release_dir, assignment):
    """Files of notebooks/<assignment> that differ from a fresh release in release_dir (empty: in sync)."""
    fresh = {p.name: p for p in (release_dir / assignment).glob("*.ipynb")}
    shipped = {p.name: p for p in (ROOT / "notebooks" / assignment).glob("*.ipynb")}
    diffs = [f"missing from notebooks/{assignment}: {n}" for n in sorted(fresh.keys() - shipped.keys())]
    diffs += [
        f"not generated from solutions/: notebooks/{assignment}/{n}" for n in sorted(shipped.keys() - fresh.keys())
    ]
    diffs += [
        f"stale: notebooks/{assignment}/{n}"
        for n in sorted(fresh.keys() & shipped.keys())
        if _canonical(fresh[n]) != _canonical(shipped[n])
    ]
    return diffs


@pytest.mark.slow  # nbgrader generates the release (once per session: the fixture generated_course)
def test_release_is_in_sync_with_source(assignment, generated_course):
    diffs = release_differences(generated_course(assignment) / "notebooks", assignment)
    assert not diffs, "\n".join(diffs) + "\nRegenerate the student notebooks with `make release`."


@pytest.mark.slow  # nbgrader generates the release (once per session: the fixture generated_course)
def test_stale_release_is_detected(assignment, generated_course, tmp_path):
    """The sync check can fail: a release made from a changed source differs from notebooks/."""
    shutil.copytree(generated_course(assignment) / "notebooks" / assignment, tmp_path / assignment)
    path = next((tmp_path / assignment).glob("*.ipynb"))
    nb = json.loads(path.read_text())
    nb["cells"][0]["source"] = ["# changed in the source\n"] + nb["cells"][0]["source"]
    path.write_text(json.dumps(nb))
    assert release_differences(tmp_path, assignment) == [f"stale: notebooks/{assignment}/{path.name}"]


def test_release_shows_no_solution(assignment):
    text = release_notebook(assignment).read_text(encoding="utf-8")
    assert SOLUTION_BEGIN not in text and HIDDEN_BEGIN not in text
    source = read_notebook(source_notebook(assignment))
    for cell in source.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            body = cell.source.split(SOLUTION_BEGIN, 1)[1].split("### END SOLUTION", 1)[0]
            longest = max((line.strip() for line in body.splitlines()), key=len)
            assert longest not in text, f"solution line of {meta['grade_id']} is in the release: {longest!r}"


def test_first_cell_says_how_to_install(assignment):
    title, setup = read_notebook(release_notebook(assignment)).cells[:2]
    assert title.cell_type == "markdown" and "Run the setup cell below first" in title.source
    assert setup.cell_type == "code" and '"-m", "pip", "install"' in setup.source and "gptcourse" in setup.source


def test_answers_are_the_package_code(assignment):
    """d2l rule: each def/class an answer cell holds is, line for line, the package's reference code."""
    problems = answer_drift(read_notebook(source_notebook(assignment)))
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_graded_by_nbgrader(assignment, course_copy):
    """Handed in unmodified the release scores 0 on every test cell; with the reference answers, full marks.

    Graded by nbgrader itself (generate_assignment, then autograde, which restores the hidden tests).
    """
    course = course_copy(assignment)
    release = read_notebook(course / "notebooks" / assignment / source_notebook(assignment).name)
    scores = autograde(course, assignment, {"unmodified": release, "perfect": perfect_submission(course, assignment)})
    earned = [s for s in scores["unmodified"] if s.points > 0]
    assert not earned, "test cells that pass without any work:\n" + describe(earned)
    lost = [s for s in scores["perfect"] if s.points < s.max_points]
    graded = read_notebook(
        course / "autograder" / "autograded" / "perfect" / assignment / source_notebook(assignment).name
    )
    assert not lost, (
        "the reference answers lose points:\n"
        + describe(lost)
        + "\nfirst error: "
        + first_error(graded, source_notebook(assignment))
    )


def test_setup_cell_follows_the_configuration(assignment):
    """The setup cell is written from _config.yml's address and the package's version by `make release`."""
    import nbformat

    from autograder.setup_cell import SETUP_ID, with_setup_cell

    nb = read_notebook(source_notebook(assignment))
    assert nbgrader_meta(nb.cells[1]).get("grade_id") == SETUP_ID and nbgrader_meta(nb.cells[1]).get("locked")
    assert nbformat.writes(with_setup_cell(nb, source_notebook(assignment).name)) == nbformat.writes(nb), (
        f"the setup cell of {assignment} does not follow _config.yml: run `make release`"
    )
    assert "git+https://github.com/gptcourse" not in release_notebook(assignment).read_text()
