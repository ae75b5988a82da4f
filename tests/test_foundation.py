"""The checks themselves can fail: broken answers lose points, malformed sources are named precisely."""

from __future__ import annotations

import nbformat
import pytest

from autograder.__main__ import main as autograder_main
from autograder.notebooks import NotebookError, answer_drift, check_source, execute, nbgrader_meta, read_notebook
from conftest import KERNELS, autograde, describe, perfect_submission, source_notebook

pytestmark = KERNELS  # it runs nbgrader

WARMUP = "ch00-warmup"


def _cell(nb, grade_id):
    return next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)


@pytest.mark.slow
def test_a_broken_answer_loses_exactly_its_points(course_copy):
    """softmax without the max-shift passes the easy checks, fails the overflow check and the hidden ones."""
    course = course_copy(WARMUP)
    naive = perfect_submission(course, WARMUP)
    _cell(
        naive, "softmax"
    ).source = (
        "def softmax(logits, dim=-1):\n    exp = torch.exp(logits)\n    return exp / exp.sum(dim=dim, keepdim=True)\n"
    )
    wrong_window = perfect_submission(course, WARMUP)
    # Right on the visible examples, wrong for k = 0 (only a hidden test asks): it treats k = 0 like k = 1.
    _cell(
        wrong_window, "context_window"
    ).source = "def context_window(tokens, i, k):\n    return tuple(tokens[max(0, i - max(k, 1)):i])\n"
    scores = autograde(course, WARMUP, {"naive": naive, "window": wrong_window})
    by_id = {s.grade_id: s for s in scores["naive"]}
    assert by_id["test_softmax"].points == 0 and "softmax" in by_id["test_softmax"].error, describe(scores["naive"])
    assert by_id["test_log_likelihood"].points == by_id["test_log_likelihood"].max_points
    window = {s.grade_id: s for s in scores["window"]}
    assert window["test_context_window"].points == 0, describe(scores["window"])
    assert "k=0" in window["test_context_window"].error


def _broken_source(tmp_path, mutate):
    nb = read_notebook(source_notebook(WARMUP))
    mutate(nb)
    path = tmp_path / "solutions" / WARMUP / "ch00-warmup.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda nb: _cell(nb, "test_softmax").metadata.nbgrader.pop("points"),
            'cell 6 (grade_id "test_softmax"): a graded cell needs points > 0',
        ),
        (
            lambda nb: setattr(
                _cell(nb, "softmax"), "source", _cell(nb, "softmax").source.replace("### END SOLUTION", "")
            ),
            'cell 5 (grade_id "softmax"): a solution cell needs',
        ),
        (
            lambda nb: _cell(nb, "test_context_window").metadata.nbgrader.update(grade_id="test_softmax"),
            "grade_id 'test_softmax' is also used by cell 6",
        ),
        (
            lambda nb: _cell(nb, "test_softmax").metadata.pop("nbgrader"),
            "cell 6: has '### BEGIN ...' markers but no nbgrader metadata",
        ),
    ],
)
def test_malformed_source_names_notebook_and_cell(tmp_path, mutate, message):
    path = _broken_source(tmp_path, mutate)
    with pytest.raises(NotebookError) as err:
        check_source(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_release_command_refuses_a_malformed_source(tmp_path, capsys):
    _broken_source(tmp_path, lambda nb: _cell(nb, "test_softmax").metadata.nbgrader.update(points=0))
    assert autograder_main(["check", "--course", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "ch00-warmup.ipynb" in err and 'grade_id "test_softmax"' in err and "points=0" in err


def test_unreadable_notebook_is_named(tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_text("{ not json")
    with pytest.raises(NotebookError, match="broken.ipynb: not a readable Jupyter notebook"):
        read_notebook(path)


@pytest.mark.slow
def test_missing_dependency_names_the_cell(tmp_path):
    nb = read_notebook(source_notebook(WARMUP))
    _cell(nb, "imports").source = "import gptcourse_not_installed\n" + _cell(nb, "imports").source
    with pytest.raises(NotebookError) as err:
        execute(nb, tmp_path / "ch00-warmup.ipynb")
    text = str(err.value)
    assert 'cell 3 (grade_id "imports")' in text and "ModuleNotFoundError" in text and "requirements.txt" in text


def test_drift_between_answer_and_package_is_reported():
    nb = read_notebook(source_notebook(WARMUP))
    assert answer_drift(nb) == []
    cell = _cell(nb, "log_likelihood")
    cell.source = cell.source.replace("math.log(", "math.log2(")
    _cell(nb, "softmax").source += "\n\ndef helper():\n    return 1\n"
    problems = answer_drift(nb)
    assert any(
        'grade_id "log_likelihood"' in p and "differs from gptcourse.ch00_lm.log_likelihood" in p for p in problems
    )
    assert any("helper is in none of ['gptcourse.ch00_lm']" in p for p in problems)
