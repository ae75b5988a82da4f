"""Grade a whole class: in parallel, resumably, optionally one shard of it.

Each submission is graded by :func:`autograder.grade.grade` in a worker process of its own
(``--jobs N`` of them at once), in its own working folder with its own gradebook. A worker's
result is written at once to ``OUT/results/<student>.json`` together with a key (a hash of the
notebook's bytes, the source notebook, the limits and the grader version): a second run skips
every student whose key has not changed, so an interrupted run resumes where it stopped, and
re-running on the same inputs changes nothing. The reports (:mod:`autograder.report`) are then
rebuilt from all results in ``OUT/results``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from . import report
from .assignment import GRADER_VERSION, Assignment, default_cache, prepare, source_names
from .collect import collect
from .errors import EXIT_GRADER_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, NotebookError, UsageError
from .grade import grade
from .records import Limits, Result, Task
from .release import ROOT
from .store import load_results, safe_name, write_json


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d+)/(\d+)", text)
    if not match or not 0 <= int(match.group(1)) < int(match.group(2)):
        raise UsageError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/4")
    return int(match.group(1)), int(match.group(2))


def task_key(task: Task, asg: Assignment, limits: Limits) -> str:
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            [GRADER_VERSION, asg.fingerprint, limits.fingerprint(), task.student, task.status_hint, task.notes],
            sort_keys=True,
        ).encode()
    )
    if task.path and Path(task.path).is_file():
        digest.update(Path(task.path).read_bytes())
    return digest.hexdigest()[:24]


@dataclass
class Job:
    task: Task
    key: str
    result_path: str


_worker_state: dict = {}


def _init_worker(asg: Assignment, others: list[Assignment], limits: Limits, hide: list[str], workdir: str | None):
    _worker_state.update(asg=asg, others=others, limits=limits, hide=hide, workdir=workdir)
    try:  # the parent handles Ctrl-C; workers just stop
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):
        pass


def _run_job(job: Job) -> Result:
    s = _worker_state
    result = grade(job.task, s["asg"], s["limits"], s["others"], s["hide"], s["workdir"])
    result["key"] = job.key
    write_json(Path(job.result_path), result)
    return result


def load_others(asg: Assignment, source_dir: Path | None, cache: Path | None) -> list[Assignment]:
    """The other assignments (to recognise a notebook handed in for the wrong one)."""
    folders = [Path(source_dir)] if source_dir else []
    folders.append(ROOT / "solutions")
    others, seen = [], {asg.name}
    for folder in folders:
        for name in source_names(folder):
            if name in seen:
                continue
            seen.add(name)
            try:
                others.append(prepare(name, folder, cache, light=True))  # find_source knows course folders
            except (NotebookError, UsageError):
                continue  # a broken other assignment is not this run's problem
    return others


def grade_class(
    assignment: str,
    submissions: Path,
    out: Path,
    *,
    jobs: int = 1,
    source_dir: Path | None = None,
    limits: Limits = Limits(),
    id_pattern: str = "default",
    roster: Path | None = None,
    shard: tuple[int, int] | None = None,
    force: bool = False,
    cache: Path | None = None,
    progress: bool = True,
    workdir: str | None = None,
    log=print,
) -> int:
    """Grade every submission; write the reports; return the exit code."""
    out = Path(out).resolve()
    asg = prepare(assignment, source_dir, cache)
    others = load_others(asg, source_dir, cache)
    scratch = out / ".unzipped"
    tasks, layout = collect(
        submissions,
        assignment,
        asg.notebook,
        id_pattern,
        roster,
        scratch=scratch if Path(submissions).is_file() else None,
    )
    if not tasks:
        log(f"error: no submissions found in {submissions} ({layout})", file=sys.stderr)
        return EXIT_USAGE
    if shard:
        tasks = [t for i, t in enumerate(tasks) if i % shard[1] == shard[0]]
    results_dir = out / "results"
    jobs_todo, reused = [], 0
    for task in tasks:
        name = safe_name(task.student)
        task.autograded_path = str(out / "autograded" / name / f"{asg.notebook}.ipynb")
        key = task_key(task, asg, limits)
        result_path = results_dir / f"{name}.json"
        if not force and result_path.is_file():
            try:
                if json.loads(result_path.read_text()).get("key") == key:
                    reused += 1
                    continue
            except (OSError, json.JSONDecodeError):
                pass
        jobs_todo.append(Job(task, key, str(result_path)))
    write_json(results_dir / "_assignment.json", asg.info())
    hide = sorted(
        {
            str(p)
            for p in (
                ROOT / "solutions",
                Path(source_dir).resolve() if source_dir else None,
                Path(submissions).resolve(),
                out,
                Path(cache or default_cache()).resolve(),
            )
            if p
        }
    )
    log(
        f"{asg.name}: {len(tasks)} submission(s) ({layout}); {len(jobs_todo)} to grade, {reused} unchanged"
        + (f"; shard {shard[0]}/{shard[1]}" if shard else "")
    )
    failed = 0
    try:
        bar = _progress(len(jobs_todo), progress)
        if jobs <= 1 or len(jobs_todo) <= 1:
            _init_worker(asg, others, limits, hide, workdir)
            for job in jobs_todo:
                result = _run_job(job)
                failed += result["status"] == "grader-error"
                _tick(bar, result)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(
                max_workers=jobs,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(asg, others, limits, hide, workdir),
            ) as pool:
                futures = {pool.submit(_run_job, job): job for job in jobs_todo}
                for future in as_completed(futures):
                    try:
                        result = future.result()
                    except Exception as exc:  # noqa: BLE001 - a worker process crashed
                        job = futures[future]
                        result = {
                            "student": job.task.student,
                            "status": "grader-error",
                            "reason": f"the grading process failed: {type(exc).__name__}: {exc}",
                        }
                    failed += result["status"] == "grader-error"
                    _tick(bar, result)
        if bar is not None:
            bar.close()
    except KeyboardInterrupt:
        log("interrupted: the results so far are kept; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    wanted = {safe_name(t.student) for t in tasks}
    results = load_results(results_dir, only=wanted)
    report.write_all(out, results, json.loads((results_dir / "_assignment.json").read_text()), asg.template_db)
    failed_total = sum(r["status"] == "grader-error" for r in results)
    for warning in sorted({w for r in results for w in r.get("warnings", [])}):
        log(f"warning: sandbox: {warning}", file=sys.stderr)
    counts = report.status_counts(results)
    log(f"wrote {out}/grades.csv ({len(results)} students: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")")
    return EXIT_GRADER_FAILED if failed_total else EXIT_OK


def _progress(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="grading", unit="nb", dynamic_ncols=True)


def _tick(bar, result: dict) -> None:
    if bar is not None:
        bar.set_postfix_str(f"{result.get('student', '?')}: {result.get('status')}", refresh=False)
        bar.update(1)
