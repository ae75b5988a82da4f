"""Benchmark of the autograder, figures as ratios measured in one run.

    python bench/grading.py [--assignment ch00-warmup] [--n 40] [--repeat 3]

1. overhead: the mean time to grade one submission (match, scan, sandboxed kernel, guard,
   nbgrader's pipeline, gradebook) over the mean time to execute the same notebook directly with
   nbclient (a plain kernel, nothing else), both sequential;
2. throughput: N submissions (a mix of correct, partly correct and untouched ones) graded with
   ``--jobs 2`` versus ``--jobs 1``.

Absolute times depend on the machine (and on whatever else runs on it); the ratios are what to
compare. Writes bench/grading_results.json next to this file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.assignment import prepare  # noqa: E402
from autograder.classroom import grade_class  # noqa: E402
from autograder.grade import Task, grade  # noqa: E402
from autograder.notebooks import fill_solutions, nbgrader_meta, read_notebook  # noqa: E402
from autograder.sandbox import Limits  # noqa: E402


def direct(nb, folder: Path) -> float:
    from nbclient import NotebookClient

    started = time.perf_counter()
    NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=True, resources={"metadata": {"path": str(folder)}}
    ).execute()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="ch00-warmup")
    parser.add_argument("--n", type=int, default=40, help="submissions for the throughput run (default 40)")
    parser.add_argument("--repeat", type=int, default=3, help="runs for the overhead means (default 3)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    cache = tmp / "cache"
    asg = prepare(args.assignment, None, cache)
    release = asg.release_nb()
    perfect = fill_solutions(release, read_notebook(asg.source_path))
    partial = fill_solutions(release, read_notebook(asg.source_path))
    first_answer = next(c for c in partial.cells if nbgrader_meta(c).get("solution"))
    first_answer.source = first_answer.source.split("\n")[0] + "\n    raise NotImplementedError()"
    limits = Limits()

    # 1. overhead per submission
    nbformat.write(perfect, tmp / "perfect.ipynb")
    direct_times = [direct(perfect, tmp) for _ in range(args.repeat)]
    grade_times = []
    for i in range(args.repeat):
        started = time.perf_counter()
        result = grade(Task(f"s{i}", str(tmp / "perfect.ipynb")), asg, limits)
        grade_times.append(time.perf_counter() - started)
        assert result["points"] == asg.max_points, result
    # 2. throughput
    sub = tmp / "submitted"
    kinds = [perfect, partial, release]
    for i in range(args.n):
        folder = sub / f"student{i:03d}" / asg.name
        folder.mkdir(parents=True)
        nbformat.write(kinds[i % 3], folder / f"{asg.notebook}.ipynb")
    walls = {}
    for jobs in (1, 2):
        started = time.perf_counter()
        code = grade_class(
            asg.name, sub, tmp / f"out-jobs{jobs}", jobs=jobs, limits=limits, cache=cache, progress=False, force=True
        )
        walls[jobs] = time.perf_counter() - started
        assert code == 0
    same = (tmp / "out-jobs1" / "grades.csv").read_text() == (tmp / "out-jobs2" / "grades.csv").read_text()
    results = {
        "assignment": asg.name,
        "direct_nbclient_s": round(statistics.mean(direct_times), 2),
        "graded_s": round(statistics.mean(grade_times), 2),
        "overhead_ratio": round(statistics.mean(grade_times) / statistics.mean(direct_times), 2),
        "n": args.n,
        "jobs1_s": round(walls[1], 1),
        "jobs2_s": round(walls[2], 1),
        "speedup_jobs2_over_jobs1": round(walls[1] / walls[2], 2),
        "jobs1_and_jobs2_grades_identical": same,
    }
    print(json.dumps(results, indent=1))
    (Path(__file__).parent / "grading_results.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
