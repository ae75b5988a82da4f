"""The grading reports, all rebuilt from ``OUT/results/*.json`` (:mod:`autograder.store`).

``grades.csv``       one row per student: points per test cell, total, max, status, reason
``grades.json``      the same, with every test's message and the notes
``feedback/<student>.html``   what the student may see: test names, points, messages, the visible
                     tests and their own answers; never the source of a hidden test
``summary.html``     status counts and a histogram of the points of every test and of the total
``gradebook.db``     an nbgrader gradebook with every student's autograded scores (for formgrader)
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import shutil
import statistics
from collections import Counter
from pathlib import Path

from .store import safe_name

STATUS_TEXT = {
    "graded": "graded normally: every test ran and decided its points",
    "partial": "graded, but points were withheld where an answer uses the course's reference implementation",
    "flagged": "graded; the code reaches into the interpreter or the grader, so an instructor will review it",
    "out-of-memory": "a cell ran out of memory; the tests that ran still count",
    "timeout": "a cell or the whole notebook ran out of time; the tests that finished still count",
    "kernel-died": "the Python kernel died; the tests that ran before still count",
    "missing": "nothing was submitted",
    "invalid-notebook": "the file is not a usable notebook of this exercise",
    "wrong-assignment": "the notebook belongs to another assignment",
    "unidentified": "the file name did not say whose work it is",
    "grader-error": "the grader itself failed on this submission (not the student's fault)",
}


#: The feedback page's words in Korean, for a submission whose notebook is Korean (its ``language``); the
#: grader's own reasons and notes stay English, and the page says so.
STATUS_TEXT_KO = {
    "graded": "정상 채점: 모든 테스트가 실행되어 점수를 정했습니다",
    "partial": "채점했지만, 과정 패키지의 참조 구현을 쓴 답에는 점수를 주지 않았습니다",
    "flagged": "채점했지만, 코드가 인터프리터나 채점기를 건드려 강사가 검토합니다",
    "out-of-memory": "셀 하나가 메모리를 다 썼습니다. 실행된 테스트의 점수는 그대로 인정됩니다",
    "timeout": "셀 하나 또는 노트북 전체가 시간 제한을 넘었습니다. 끝난 테스트의 점수는 그대로 인정됩니다",
    "kernel-died": "파이썬 커널이 멈췄습니다. 그 전에 실행된 테스트의 점수는 그대로 인정됩니다",
    "missing": "제출된 것이 없습니다",
    "invalid-notebook": "이 과제에 쓸 수 있는 노트북 파일이 아닙니다",
    "wrong-assignment": "다른 과제의 노트북입니다",
    "unidentified": "파일 이름으로는 누구의 제출물인지 알 수 없습니다",
    "grader-error": "채점기 자체가 이 제출물에서 실패했습니다(학생의 잘못이 아닙니다)",
}
FEEDBACK_WORDS = {
    "en": {
        "feedback for": "{assignment}: feedback for {student}",
        "score": "Score",
        "status": "Status",
        "columns": ("test", "points", "result", "message"),
        "states": {},
        "notes": "Notes",
        "tests and answers": "The tests and your answers",
        "your answer": "Your answer ({cell})",
        "no answer": "(no answer)",
        "visible tests": "The visible tests",
        "hidden": "... and {n} line(s) of hidden tests, not shown.",
        "grader language": "",
        "status text": STATUS_TEXT,
    },
    "ko": {
        "feedback for": "{assignment}: {student}의 채점 피드백",
        "score": "점수",
        "status": "상태",
        "columns": ("테스트", "점수", "결과", "메시지"),
        "states": {"passed": "통과", "failed": "실패", "withheld": "점수 없음", "not-run": "실행 안 됨"},
        "notes": "참고",
        "tests and answers": "테스트와 나의 답",
        "your answer": "나의 답 ({cell})",
        "no answer": "(답 없음)",
        "visible tests": "공개된 테스트",
        "hidden": "... 그리고 숨은 테스트 {n}줄은 보여 주지 않습니다.",
        "grader language": "채점기가 덧붙인 설명(사유와 참고)은 영어로 적혀 있습니다.",
        "status text": STATUS_TEXT_KO,
    },
}


def feedback_words(result: dict) -> tuple[str, dict]:
    """The language of a result's feedback (its submission's, English if it has none we know) and its words."""
    language = result.get("language") if result.get("language") in FEEDBACK_WORDS else "en"
    return language, FEEDBACK_WORDS[language]


def status_counts(results: list[dict]) -> dict[str, int]:
    counts = Counter(r["status"] for r in results)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _fmt(x: float) -> str:
    return f"{x:g}"


def write_csv(path: Path, results: list[dict], info: dict) -> None:
    ids = [t["grade_id"] for t in info["tests"]]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student", *ids, "total", "max", "status", "reason"])
        for r in results:
            per = {t["grade_id"]: t for t in r.get("tests", [])}
            graded = r["status"] not in (
                "missing",
                "invalid-notebook",
                "wrong-assignment",
                "unidentified",
                "grader-error",
            )
            cells = [_fmt(per[g]["points"]) if graded and g in per else "" for g in ids]
            writer.writerow(
                [
                    r["student"],
                    *cells,
                    _fmt(r.get("points", 0.0)),
                    _fmt(info["max_points"]),
                    r["status"],
                    r.get("reason", ""),
                ]
            )


def public(result: dict) -> dict:
    """A result without the grader's internals (traceback, cache key, timing)."""
    return {k: v for k, v in result.items() if k not in ("key", "seconds", "traceback", "answers")}


def write_json(path: Path, results: list[dict], info: dict) -> None:
    data = {
        "assignment": info["assignment"],
        "max_points": info["max_points"],
        "tests": [{"grade_id": t["grade_id"], "points": t["points"]} for t in info["tests"]],
        "status_counts": status_counts(results),
        "students": [public(r) for r in results],
    }
    path.write_text(json.dumps(data, indent=1, sort_keys=False))


CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left;
vertical-align:top}pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap}
.passed{color:#0a7a3a}.failed,.not-run{color:#b00020}.withheld{color:#9a5b00}.status{font-weight:600}
.note{color:#555}"""


def feedback_html(result: dict, info: dict) -> str:
    """The page a student may see, in their notebook's language (``result["language"]``: English or Korean)."""
    e = html.escape
    language, words = feedback_words(result)
    tests = {t["grade_id"]: t for t in info["tests"]}
    rows, sections = [], []
    for t in result.get("tests", []):
        state = f"<td class='{e(t['state'])}'>{e(words['states'].get(t['state'], t['state']))}</td>"
        message = f"<pre>{e(t['message'])}</pre>" if t.get("message") else ""
        rows.append(
            f"<tr><td>{e(t['grade_id'])}</td><td>{_fmt(t['points'])} / {_fmt(t['max_points'])}</td>"
            f"{state}<td>{message}</td></tr>"
        )
        spec = tests.get(t["grade_id"], {})
        answers = result.get("answers", {})
        mine = "".join(
            f"<h4>{e(words['your answer'].format(cell=s))}</h4><pre>{e(answers.get(s, '') or words['no answer'])}</pre>"
            for s in spec.get("solutions", [])
            if s in answers
        )
        hidden = (
            f"<p class='note'>{e(words['hidden'].format(n=spec['hidden_count']))}</p>"
            if spec.get("hidden_count")
            else ""
        )
        sections.append(
            f"<h3>{e(t['grade_id'])}</h3>{mine}<h4>{e(words['visible tests'])}</h4>"
            f"<pre>{e(spec.get('visible_source', ''))}</pre>{hidden}"
        )
    notes = "".join(f"<li>{e(n)}</li>" for n in result.get("notes", []))
    status = result["status"]
    said = result.get("reason") or notes
    title = e(words["feedback for"].format(assignment=info["assignment"], student=result["student"]))
    header = "".join(f"<th>{e(c)}</th>" for c in words["columns"])
    return f"""<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">
<title>{title}</title><style>{CSS}</style></head><body>
<h1>{title}</h1>
<p><b>{e(words['score'])}: {_fmt(result.get('points', 0))} / {_fmt(info['max_points'])}</b></p>
<p class="status">{e(words['status'])}: {e(status)}: {e(words['status text'].get(status, ''))}.</p>
{f"<p>{e(result['reason'])}</p>" if result.get('reason') else ""}
{f"<p class='note'>{e(words['grader language'])}</p>" if said and words['grader language'] else ""}
<table><tr>{header}</tr>{''.join(rows)}</table>
{f"<h2>{e(words['notes'])}</h2><ul>{notes}</ul>" if notes else ""}
<h2>{e(words['tests and answers'])}</h2>{''.join(sections)}
</body></html>
"""


def _histograms(results: list[dict], info: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from gptcourse import style

    graded = [
        r
        for r in results
        if r["status"] not in ("missing", "invalid-notebook", "wrong-assignment", "unidentified", "grader-error")
    ]
    panels = [
        (
            t["grade_id"],
            t["points"],
            [next((x["points"] for x in r["tests"] if x["grade_id"] == t["grade_id"]), 0.0) for r in graded],
        )
        for t in info["tests"]
    ]
    panels.append(("total", info["max_points"], [r["points"] for r in results]))
    style.use()
    cols = min(3, len(panels))
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
    for ax, (name, top, values) in zip(axes.flat, panels, strict=False):  # the grid may have spare panels
        bins = [x - 0.5 for x in range(int(top) + 2)] if float(top).is_integer() and top <= 40 else 20
        ax.hist(values, bins=bins, color=style.PALETTE[0] if name != "total" else style.PALETTE[4])
        ax.set_title(f"{name} (max {_fmt(top)})")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("points")
        ax.set_ylabel("students")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def summary_html(results: list[dict], info: dict, png: bytes) -> str:
    e = html.escape
    totals = [r["points"] for r in results]
    counts = status_counts(results)
    stats = (
        f"mean {statistics.mean(totals):.2f}, median {statistics.median(totals):g} of {_fmt(info['max_points'])}"
        if totals
        else "no students"
    )
    rows = "".join(
        f"<tr><td>{e(s)}</td><td>{n}</td><td>{e(STATUS_TEXT.get(s, ''))}</td></tr>" for s, n in counts.items()
    )
    attention = "".join(
        f"<tr><td><a href='feedback/{e(r['file_stem'])}.html'>{e(r['student'])}</a></td>"
        f"<td>{e(r['status'])}</td><td>{e(r.get('reason', ''))}</td></tr>"
        for r in results
        if r["status"] != "graded"
    )
    img = base64.b64encode(png).decode()
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{e(info['assignment'])}: grading summary</title><style>{CSS}</style></head><body>
<h1>{e(info['assignment'])}: grading summary</h1>
<p>{len(results)} students; total points: {stats}.</p>
<table><tr><th>status</th><th>students</th><th>meaning</th></tr>{rows}</table>
<h2>Points per test</h2><img alt="histograms of the points of each test and of the total"
 src="data:image/png;base64,{img}" style="max-width:100%">
{f"<h2>Needs attention</h2><table><tr><th>student</th><th>status</th><th>reason</th></tr>{attention}</table>" if attention else ""}
</body></html>
"""


def write_gradebook(path: Path, template_db: Path, results: list[dict], info: dict) -> None:
    """An nbgrader gradebook (copied from the assignment's template) holding everyone's scores."""
    from nbgrader.api import Gradebook

    from .assignment import quiet

    quiet()
    shutil.copy(template_db, path)
    with Gradebook(f"sqlite:///{path}") as gb:
        notebook = info["notebook"][: -len(".ipynb")]
        for r in results:
            if r["status"] in ("unidentified",):
                continue
            gb.update_or_create_student(r["student"])
            gb.update_or_create_submission(info["assignment"], r["student"])
            submission = gb.find_submission_notebook(notebook, info["assignment"], r["student"])
            points = {t["grade_id"]: t["points"] for t in r.get("tests", [])}
            for grade in submission.grades:
                grade.auto_score = points.get(grade.name, 0.0)
                grade.needs_manual_grade = r["status"] in ("flagged", "grader-error")
        gb.db.commit()


def write_all(out: Path, results: list[dict], info: dict, template_db: Path | None = None) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        r["file_stem"] = safe_name(r["student"])
    write_csv(out / "grades.csv", results, info)
    write_json(out / "grades.json", results, info)
    feedback = out / "feedback"
    if feedback.exists():
        shutil.rmtree(feedback)
    feedback.mkdir()
    for r in results:
        (feedback / f"{r['file_stem']}.html").write_text(feedback_html(r, info), encoding="utf-8")
    png = _histograms(results, info)
    (out / "summary.png").write_bytes(png)
    (out / "summary.html").write_text(summary_html(results, info, png), encoding="utf-8")
    if template_db is not None and Path(template_db).is_file():
        write_gradebook(out / "gradebook.db", Path(template_db), results, info)
