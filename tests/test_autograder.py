"""The autograder, end to end: one class of submissions (good ones and every bad kind), graded once.

The class is built from the warm-up exercise's source notebook, so it changes with it. One
grading run (``--jobs 2``) covers every kernel-running case; the cheaper checks (collecting,
shards, merging, resuming, exit codes, the static scan) run without a kernel or reuse the run.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import __main__ as cli
from autograder.assignment import prepare, source_names
from autograder.collect import collect, id_regex
from autograder.match import Rejected, reconcile
from autograder.notebooks import fill_solutions, nbgrader_meta, read_notebook
from autograder.release import ROOT
from conftest import KERNELS

A = "ch00-warmup"
LIMITS = ["--cell-timeout", "5", "--timeout", "90", "--memory", "3072"]
IS_ROOT = os.geteuid() == 0

# slow (it runs kernels); one xdist worker for the whole module, so the class is graded once
pytestmark = [pytest.mark.slow, KERNELS]


# ---------------------------------------------------------------------------------------------
# Building submissions


def set_answer(nb, grade_id: str, code: str):
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") == grade_id:
            cell.source = code
            return nb
    raise KeyError(grade_id)


def answer(nb, grade_id: str) -> str:
    return next(c.source for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id)


def other_assignment_source() -> nbformat.NotebookNode:
    """A tiny second assignment, to hand in by mistake."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "gptcourse": {"reference_modules": []},
    }

    def cell(kind, source, **meta):
        c = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        base = {"grade": False, "locked": True, "schema_version": 3, "solution": False, "task": False}
        base.update(meta)
        c.metadata["nbgrader"] = base
        return c

    nb.cells = [
        cell("markdown", "# Other", grade_id="other_title"),
        cell(
            "code",
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
            grade_id="double",
            locked=False,
            solution=True,
        ),
        cell(
            "code",
            "assert double(2) == 4\n### BEGIN HIDDEN TESTS\nassert double(-3) == -6\n### END HIDDEN TESTS",
            grade_id="test_double",
            grade=True,
            points=1,
        ),
    ]
    return nb


def build_class(tmp: Path) -> tuple[Path, Path, dict]:
    """solutions copy (with a second assignment), submitted/ folder, and the expected results."""
    source_dir = tmp / "private-solutions"
    (source_dir / A).mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / A / f"{A}.ipynb", source_dir / A / f"{A}.ipynb")
    (source_dir / "ch99-other").mkdir()
    nbformat.write(other_assignment_source(), source_dir / "ch99-other" / "ch99-other.ipynb")
    asg = prepare(A, source_dir, tmp / "cache")
    release = asg.release_nb()
    perfect = fill_solutions(release, read_notebook(asg.source_path))
    softmax_ok = answer(perfect, "softmax")
    sub = tmp / "submitted"
    expected: dict[str, tuple[str, float]] = {}

    def put(student, nb_or_bytes, status, points, name=f"{A}.ipynb"):
        folder = sub / student / A
        folder.mkdir(parents=True, exist_ok=True)
        if isinstance(nb_or_bytes, bytes):
            (folder / name).write_bytes(nb_or_bytes)
        else:
            nbformat.write(nb_or_bytes, folder / name)
        expected[student] = (status, points)

    put("perfect", perfect, "graded", 5)
    put("release", release, "graded", 0)
    put(
        "partial",
        set_answer(
            perfect,
            "log_likelihood",
            answer(perfect, "log_likelihood").replace("range(len(tokens))", "range(1, len(tokens))"),
        ),
        "graded",
        3,
    )
    put("invalid-json", b'{"cells": [', "invalid-notebook", 0)
    put("empty-file", b"", "invalid-notebook", 0)
    put("wrong-name", perfect, "graded", 5, name="my homework (1).ipynb")
    put("other-assignment", other_assignment_source(), "wrong-assignment", 0)
    (sub / "no-notebook" / A).mkdir(parents=True)
    expected["no-notebook"] = ("missing", 0)
    put("syntax-error", set_answer(perfect, "softmax", softmax_ok + "\n    return (("), "graded", 3)
    put("sleeps-forever", set_answer(perfect, "softmax", softmax_ok + "\nimport time\ntime.sleep(10**6)"), "timeout", 5)
    put(
        "ignores-interrupt",
        set_answer(
            perfect,
            "context_window",
            answer(perfect, "context_window") + "\nimport signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "while True:\n    pass",
        ),
        "timeout",
        2,
    )
    put("kills-kernel", set_answer(perfect, "log_likelihood", "import os\nos._exit(1)"), "kernel-died", 3)
    put(
        "memory-hog", set_answer(perfect, "softmax", softmax_ok + "\nhog = bytearray(16 * 1024**3)"), "out-of-memory", 5
    )
    put(
        "output-flood",
        set_answer(perfect, "softmax", softmax_ok + "\nfor _ in range(60000):\n    print('spam' * 25)"),
        "graded",
        5,
    )
    edited = set_answer(
        set_answer(perfect, "softmax", "def softmax(logits, dim=-1):\n    return logits"),
        "test_softmax",
        "pass  # nothing to see",
    )
    put("edited-test", edited, "graded", 3)
    deleted = copy.deepcopy(perfect)
    deleted.cells = [c for c in deleted.cells if nbgrader_meta(c).get("grade_id") != "test_context_window"]
    put("deleted-test", deleted, "graded", 5)
    stripped = nbformat.v4.new_notebook()  # cells copied into a new notebook: metadata and ids lost
    stripped.cells = [
        nbformat.v4.new_code_cell(c.source) if c.cell_type == "code" else nbformat.v4.new_markdown_cell(c.source)
        for c in perfect.cells
    ]
    put("stripped-metadata", stripped, "graded", 5)
    garbage = nbformat.v4.new_notebook()
    garbage.cells = [nbformat.v4.new_code_cell("print('hello')"), nbformat.v4.new_markdown_cell("my notes")]
    put("unrelated-notebook", garbage, "invalid-notebook", 0)
    put(
        "warns",
        set_answer(
            perfect,
            "softmax",
            softmax_ok.replace(
                '    shifted =', '    import warnings\n    warnings.warn("just a harmless warning")\n    shifted ='
            ),
        ),
        "graded",
        5,
    )
    wrong_softmax = "def softmax(logits, dim=-1):\n    return torch.ones_like(logits) * 0.3\n"
    put(
        "redefines-helper",
        set_answer(
            perfect,
            "softmax",
            wrong_softmax + "check_close = lambda *a, **k: None\ndef isinstance(*args):\n    return True",
        ),
        "graded",
        3,
    )
    put(
        "redefines-builtin",
        set_answer(perfect, "softmax", wrong_softmax + "import builtins\nbuiltins.abs = lambda x: 0.0"),
        "flagged",
        3,
    )
    put("imports-reference", set_answer(perfect, "softmax", "from gptcourse.ch00_lm import softmax"), "partial", 3)
    # the test helpers' function objects bent in place: each is restored before the tests and flagged
    noop = "(lambda *a, **k: None).__code__"
    tampers = {
        "bends-helper-code": f'for f in (check_close, check_equal, check_true):\n    setattr(f, "__co" + "de__", {noop})',
        "bends-helper-defaults": 'name = "__kwdefa" + "ults__"\nsetattr(check_close, name, {"atol": 1e9, "rtol": 1e9})',
        "bends-helper-attributes": "import functools\nfunctools.update_wrapper(check_close, print)",
        "bends-instructor-method": 'setattr(CountLM.prob, "__co" + "de__", (lambda self, *a, **k: 0.5).__code__)',
    }
    for student, code in tampers.items():
        put(student, set_answer(perfect, "softmax", wrong_softmax + code), "flagged", 3)
    old_format = json.loads(nbformat.writes(perfect))  # saved by an old Jupyter: nbformat 4.4, no cell ids
    old_format["nbformat_minor"] = 4
    for cell in old_format["cells"]:
        cell.pop("id", None)
    put("nbformat-4.4", json.dumps(old_format).encode(), "graded", 5)
    put("nbformat-3", nbformat.writes(nbformat.convert(copy.deepcopy(perfect), 3), version=3).encode(), "graded", 5)
    put(
        "tries-network",
        set_answer(
            perfect,
            "softmax",
            softmax_ok
            + """
import socket
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3)
    print("NET-OPEN")
except OSError as exc:
    print("NET-BLOCKED", exc)""",
        ),
        "graded",
        5,
    )
    snoop = f"""
import glob, os, threading
for path in [{str(source_dir / A / (A + '.ipynb'))!r}, {str(ROOT / 'solutions' / A / (A + '.ipynb'))!r}]:
    try:
        open(path).read()
        print("READ-OPEN", path)
    except OSError as exc:
        print("READ-BLOCKED", type(exc).__name__)
found = glob.glob("/tmp/**/gradebook.db", recursive=True) + glob.glob("../gradebook.db")
for path in found + ["../gradebook.db"]:
    try:
        open(path, "a").write("x")
        print("WRITE-OPEN", path)
    except OSError as exc:
        print("WRITE-BLOCKED", type(exc).__name__)
print("UID", os.getuid())
started, threads, release = 0, [], threading.Event()
threading.stack_size(64 * 1024)  # so that memory is not what stops it
try:
    for _ in range(3000):  # every thread stays alive until the end: this counts threads alive at once
        threads.append(threading.Thread(target=release.wait, args=(60,), daemon=True))
        threads[-1].start()
        started += 1
except RuntimeError:
    pass
release.set()
for t in threads[:started]:
    t.join()
print("THREADS", started)
"""
    put("snoops", set_answer(perfect, "softmax", softmax_ok + snoop), "graded", 5)
    return source_dir, sub, expected


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("class")
    source_dir, sub, expected = build_class(tmp)
    out = tmp / "out"
    args = [
        "grade",
        A,
        str(sub),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--source",
        str(source_dir),
        "--cache",
        str(tmp / "cache"),
        "--no-progress",
        *LIMITS,
    ]
    code = cli.main(args)
    rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
    return {
        "tmp": tmp,
        "source_dir": source_dir,
        "sub": sub,
        "out": out,
        "expected": expected,
        "code": code,
        "rows": rows,
        "args": args,
        "asg": prepare(A, source_dir, tmp / "cache"),
    }


def autograded(out: Path, student: str) -> str:
    nb = read_notebook(out / "autograded" / student / f"{A}.ipynb")
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))


# ---------------------------------------------------------------------------------------------
# The class


def test_exit_code_and_every_student_has_a_row(graded_class):
    assert graded_class["code"] == 0
    assert set(graded_class["rows"]) == set(graded_class["expected"])


@pytest.mark.parametrize(
    "student",
    [
        "perfect",
        "release",
        "partial",
        "invalid-json",
        "empty-file",
        "wrong-name",
        "other-assignment",
        "no-notebook",
        "syntax-error",
        "sleeps-forever",
        "ignores-interrupt",
        "kills-kernel",
        "memory-hog",
        "output-flood",
        "edited-test",
        "deleted-test",
        "stripped-metadata",
        "unrelated-notebook",
        "warns",
        "redefines-helper",
        "redefines-builtin",
        "imports-reference",
        "tries-network",
        "snoops",
        "bends-helper-code",
        "bends-helper-defaults",
        "bends-helper-attributes",
        "bends-instructor-method",
        "nbformat-4.4",
        "nbformat-3",
    ],
)
def test_status_and_points(graded_class, student):
    row = graded_class["rows"][student]
    status, points = graded_class["expected"][student]
    assert (row["status"], float(row["total"])) == (status, points), row
    assert row["max"] == "5"
    if status != "graded" or student in ("wrong-name", "edited-test", "deleted-test", "stripped-metadata"):
        assert row["reason"], f"{student}: status {status} without a reason"


def test_reasons_say_what_happened(graded_class):
    rows = graded_class["rows"]
    assert "not valid JSON" in rows["invalid-json"]["reason"]
    assert "empty" in rows["empty-file"]["reason"]
    assert "ch99-other" in rows["other-assignment"]["reason"]
    assert "my homework (1).ipynb" in rows["wrong-name"]["reason"]
    assert "interrupted" in rows["sleeps-forever"]["reason"]
    assert "died" in rows["kills-kernel"]["reason"] and "log_likelihood" in rows["kills-kernel"]["reason"]
    assert "memory" in rows["memory-hog"]["reason"]
    assert "cut" in rows["output-flood"]["reason"]
    assert "restored" in rows["edited-test"]["reason"]
    assert "re-added" in rows["deleted-test"]["reason"]
    assert "metadata" in rows["stripped-metadata"]["reason"]
    assert "reference" in rows["imports-reference"]["reason"]
    assert "builtins" in rows["redefines-builtin"]["reason"]
    assert "check_close" in rows["redefines-helper"]["reason"]
    assert "none of its" in rows["unrelated-notebook"]["reason"]
    for student in ("nbformat-3", "nbformat-4.4"):
        assert "upgraded" in rows[student]["reason"] and "old notebook format" in rows[student]["reason"]
    syntax = rows["syntax-error"]["reason"]
    assert syntax.startswith("answer cell softmax raised SyntaxError") and "`return ((`" in syntax, syntax
    assert "test_softmax" in syntax
    code = rows["bends-helper-code"]["reason"]
    assert "restored" in code and "check_close.__code__" in code and "check_true.__code__" in code, code
    assert "computed at run time" in code, "the scan flags the computed dunder name too"
    assert "check_close.__kwdefaults__" in rows["bends-helper-defaults"]["reason"]
    assert "check_close.__dict__" in rows["bends-helper-attributes"]["reason"]
    assert "CountLM.prob.__code__" in rows["bends-instructor-method"]["reason"]


def test_per_test_points_and_messages(graded_class):
    data = json.loads((graded_class["out"] / "grades.json").read_text())
    students = {s["student"]: s for s in data["students"]}
    ref = {t["grade_id"]: t for t in students["imports-reference"]["tests"]}
    assert ref["test_softmax"]["state"] == "withheld" and ref["test_softmax"]["points"] == 0
    assert (
        "reference implementation" in ref["test_softmax"]["message"]
        and ".. Write" not in ref["test_softmax"]["message"]
    )
    assert ref["test_log_likelihood"]["points"] == 2
    died = {t["grade_id"]: t["state"] for t in students["kills-kernel"]["tests"]}
    assert died == {"test_softmax": "passed", "test_context_window": "passed", "test_log_likelihood": "not-run"}
    partial = {t["grade_id"]: t for t in students["partial"]["tests"]}
    assert "log_likelihood" in partial["test_log_likelihood"]["message"]
    assert data["status_counts"]["graded"] >= 10


def test_network_files_user_and_process_cap(graded_class):
    out = graded_class["out"]
    assert "NET-BLOCKED" in autograded(out, "tries-network") and "NET-OPEN" not in autograded(out, "tries-network")
    text = autograded(out, "snoops")
    assert "READ-BLOCKED" in text and "READ-OPEN" not in text, text
    assert "WRITE-OPEN" not in text, text
    if IS_ROOT:
        uid = int(text.split("UID ")[1].split()[0])
        assert uid != 0
        threads = int(text.split("THREADS ")[1].split()[0])
        assert threads < 600, "the process cap did not hold"


def test_warnings_do_not_cost_points(graded_class):
    assert "just a harmless warning" in autograded(graded_class["out"], "warns")


def test_feedback_never_shows_hidden_tests(graded_class):
    out, asg = graded_class["out"], graded_class["asg"]
    pages = sorted((out / "feedback").glob("*.html"))
    assert len(pages) == len(graded_class["expected"])
    assert asg.hidden_lines, "the warm-up exercise has hidden tests"
    import html

    for page in pages:
        text = html.unescape(page.read_text())
        for line in asg.hidden_lines:
            assert line not in text, f"{page.name} shows a hidden test line: {line}"
    partial = html.unescape((out / "feedback" / "partial.html").read_text())
    assert "3 / 5" in partial and "test_log_likelihood" in partial and "hidden tests, not shown" in partial
    grades = json.loads((out / "grades.json").read_text())
    for line in asg.hidden_lines:
        assert line not in json.dumps(grades)


def test_summary_gradebook_and_autograded(graded_class):
    out = graded_class["out"]
    summary = (out / "summary.html").read_text()
    assert "data:image/png;base64," in summary and "kernel-died" in summary
    assert (out / "summary.png").stat().st_size > 5000
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_submission(A, "perfect").score == 5
        assert gb.find_submission(A, "release").score == 0


def test_rerun_is_idempotent_and_resumes(graded_class, capsys):
    out = graded_class["out"]
    before = (out / "grades.csv").read_bytes(), (out / "grades.json").read_bytes()
    (out / "results" / "partial.json").unlink()  # as if the run had been interrupted before it
    capsys.readouterr()
    assert cli.main(graded_class["args"]) == 0
    log = capsys.readouterr().out
    assert "1 to grade" in log, log
    assert ((out / "grades.csv").read_bytes(), (out / "grades.json").read_bytes()) == before


def test_shards_merge_to_the_same_grades(graded_class):
    # the shards reuse nothing: use only the students that need no kernel, so this stays fast
    tmp = graded_class["tmp"]
    cheap = ["invalid-json", "empty-file", "other-assignment", "no-notebook", "unrelated-notebook"]
    sub = tmp / "cheap"
    for s in cheap:
        shutil.copytree(graded_class["sub"] / s, sub / s)
    base = ["--source", str(graded_class["source_dir"]), "--cache", str(tmp / "cache"), "--no-progress", *LIMITS]
    assert cli.main(["grade", A, str(sub), "--out", str(tmp / "whole"), *base]) == 0
    for k in range(2):
        assert cli.main(["grade", A, str(sub), "--out", str(tmp / f"shard{k}"), "--shard", f"{k}/2", *base]) == 0
    assert len(list(csv.DictReader(open(tmp / "shard0" / "grades.csv")))) == 3
    assert cli.main(["merge", str(tmp / "shard0"), str(tmp / "shard1"), "--out", str(tmp / "merged")]) == 0
    assert (tmp / "merged" / "grades.csv").read_text() == (tmp / "whole" / "grades.csv").read_text()


# ---------------------------------------------------------------------------------------------
# Inputs, exit codes, Gradescope


def test_lms_zip_and_id_patterns(graded_class, tmp_path):
    perfect = graded_class["sub"] / "perfect" / A / f"{A}.ipynb"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(perfect, f"doejane_LATE_12345_678_{A}.ipynb")
        zf.write(perfect, f"roesmith_23456_789_{A}.ipynb")
        zf.writestr(f"roesmith_23456_790_{A}-1.ipynb", "")
        zf.writestr("notes_from_me.ipynb", "")
        zf.writestr("__MACOSX/._junk.ipynb", "")
    tasks, layout = collect(archive, A, A, "canvas", scratch=tmp_path / "unzipped")
    assert "LMS" in layout
    students = {t.student: t for t in tasks}
    assert set(students) == {"12345", "23456", "?notes_from_me"}
    assert students["?notes_from_me"].status_hint == "unidentified"
    assert "newest of 2" in students["23456"].notes[0]
    assert id_regex("default").search(f"folder/alice_{A}.ipynb").group("student") == "alice"
    assert id_regex("moodle").search(f"Jane Doe_555_assignsubmission_file_/{A}.ipynb").group("student") == "555"
    assert id_regex(r"(?P<student>s\d+)").search("hw-s042.ipynb").group("student") == "s042"
    roster = tmp_path / "roster.csv"
    roster.write_text("student,name\n12345,Jane\n99999,Nobody\n")
    tasks, _ = collect(archive, A, A, "canvas", roster=roster, scratch=tmp_path / "unzipped2")
    assert next(t for t in tasks if t.student == "99999").status_hint == "missing"


def test_cli_usage_errors_and_grader_failure(graded_class, tmp_path, monkeypatch, capsys):
    cache = ["--cache", str(graded_class["tmp"] / "cache"), "--no-progress"]
    assert (
        cli.main(["grade", "no-such-assignment", str(graded_class["sub"]), "--out", str(tmp_path / "o"), *cache]) == 2
    )
    assert "no source notebook" in capsys.readouterr().err
    assert cli.main(["grade", A, str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), *cache]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["grade", A, str(empty), "--out", str(tmp_path / "o"), *cache]) == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["grade", "--help"])
    assert exc.value.code == 0
    # the grader itself failing is exit code 3, and a row that says so
    sub = tmp_path / "one"
    shutil.copytree(graded_class["sub"] / "perfect", sub / "perfect")
    import autograder.grade as grade_module

    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure of the grader")

    monkeypatch.setattr(grade_module, "_grade", broken)
    assert cli.main(["grade", A, str(sub), "--out", str(tmp_path / "o2"), *cache]) == 3
    row = next(csv.DictReader(open(tmp_path / "o2" / "grades.csv")))
    assert row["status"] == "grader-error" and "simulated failure" in row["reason"]


@pytest.mark.parametrize("language, status_word", [("en", "Status: "), ("ko", "상태: ")])
def test_gradescope_results(graded_class, tmp_path, language, status_word):
    """Gradescope's results.json: the same points in either language, the output in the notebook's language."""
    submission = tmp_path / "submission"
    submission.mkdir()
    nb = read_notebook(graded_class["sub"] / "partial" / A / f"{A}.ipynb")
    nb.metadata.setdefault("gptcourse", {})["language"] = language
    nbformat.write(nb, submission / "whatever.ipynb")
    results = tmp_path / "results" / "results.json"
    code = cli.main(
        [
            "gradescope",
            "--submission",
            str(submission),
            "--results",
            str(results),
            "--source",
            str(graded_class["source_dir"]),
            "--cache",
            str(graded_class["tmp"] / "cache"),
            *LIMITS,
        ]
    )
    assert code == 0
    data = json.loads(results.read_text())
    assert data["score"] == 3
    assert data["output"].startswith(status_word), data["output"]
    assert {t["name"]: (t["score"], t["max_score"], t["status"]) for t in data["tests"]} == {
        "test_softmax": (2, 2, "passed"),
        "test_context_window": (1, 1, "passed"),
        "test_log_likelihood": (0, 2, "failed"),
    }


# ---------------------------------------------------------------------------------------------
# Units without a kernel


def test_reconcile_matches_by_content_and_position(graded_class):
    asg = graded_class["asg"]
    perfect = read_notebook(graded_class["sub"] / "perfect" / A / f"{A}.ipynb")
    stripped = nbformat.v4.new_notebook()
    stripped.cells = [nbformat.v4.new_code_cell(c.source) for c in perfect.cells if c.cell_type == "code"]
    # rename the answer's function: then only its position between matched cells identifies it
    stripped.cells[2].source = stripped.cells[2].source.replace(
        "def softmax", "def my_softmax"
    )  # setup, imports, softmax
    rec = reconcile(stripped, asg)
    assert "def my_softmax" in rec.answers["softmax"]
    assert any("metadata" in n for n in rec.notes)
    with pytest.raises(Rejected) as exc:
        reconcile(nbformat.v4.new_notebook(), asg)
    assert exc.value.status == "invalid-notebook"


def perfect_from_source(source_nb):
    """What a student who wrote the reference answers hands in, built from the source alone."""
    from autograder.assignment import _hidden_stripped
    from autograder.notebooks import strip_markers

    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            cell.source = strip_markers(cell.source)
        elif meta.get("grade"):
            cell.source = _hidden_stripped(cell.source)
    return nb


@pytest.mark.parametrize("name", source_names(ROOT / "solutions"))
def test_every_assignment_is_gradable(name):
    """Every chapter: its cells are recognised and its reference answers trip no rule of the scan
    (else an honest, perfect submission would lose points or be flagged)."""
    from autograder.scan import scan

    asg = prepare(name, None, None, light=True)
    rec = reconcile(perfect_from_source(read_notebook(asg.source_path)), asg)
    assert not rec.notes, rec.notes
    assert not rec.student_cells, "the release's own ordinary cells must count as the instructor's"
    for gid, code in rec.answers.items():
        bad = [str(f) for f in scan(code, asg.reference_modules, set(asg.protected)) if f.kind != "shadow"]
        assert not bad, f"{name}, answer cell {gid}: {bad}"
    assert all(t.solutions for t in asg.tests), "a test cell with no answer cell before it"


@pytest.mark.skipif(
    not os.environ.get("AUTOGRADER_ALL_CHAPTERS"),
    reason="set AUTOGRADER_ALL_CHAPTERS=1 to grade every chapter's solution and release (minutes)",
)
def test_every_assignment_perfect_and_release(tmp_path):
    """Every chapter through the whole grader: the solution scores full marks, the release 0."""
    for name in source_names(ROOT / "solutions"):
        asg = prepare(name, None, tmp_path / "cache")
        release = asg.release_nb()
        for who, nb in (("perfect", fill_solutions(release, read_notebook(asg.source_path))), ("release", release)):
            (tmp_path / name / who / name).mkdir(parents=True)
            nbformat.write(nb, tmp_path / name / who / name / f"{asg.notebook}.ipynb")
        out = tmp_path / f"out-{name}"
        assert (
            cli.main(
                [
                    "grade",
                    name,
                    str(tmp_path / name),
                    "--out",
                    str(out),
                    "--jobs",
                    "2",
                    "--no-progress",
                    "--cache",
                    str(tmp_path / "cache"),
                    "--cell-timeout",
                    "120",
                    "--timeout",
                    "300",
                ]
            )
            == 0
        )
        rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv"))}
        assert (rows["perfect"]["status"], rows["perfect"]["total"]) == ("graded", rows["perfect"]["max"]), rows
        assert float(rows["release"]["total"]) == 0, rows
