"""The records the autograder's modules hand to one another.

``Task``      one student's work, as collecting finds it (:mod:`autograder.collect`) and the class
              runner hands it to a worker (:mod:`autograder.classroom` -> :func:`autograder.grade.grade`)
``Limits``    what a student's kernel may use (the command line's limit options; part of a result's key)
``Result``    what grading one submission gives (:func:`autograder.grade.grade`); kept as
              ``OUT/results/<student>.json`` (:mod:`autograder.store`) and read back by the reports
              (:mod:`autograder.report`), ``merge`` and ``gradescope``. A plain JSON dict; these types
              name its keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TypedDict

#: Every status a row of grades.csv can have; README.md explains each one.
STATUSES = (
    "graded",
    "partial",
    "flagged",
    "out-of-memory",
    "timeout",
    "kernel-died",
    "missing",
    "invalid-notebook",
    "wrong-assignment",
    "unidentified",
    "grader-error",
)


@dataclass
class Task:
    """One student's work, as the class runner hands it to a worker."""

    student: str
    path: str | None  # the notebook file (None: nothing was submitted)
    status_hint: str | None = None  # "missing" / "unidentified": decided while collecting
    notes: list[str] = field(default_factory=list)  # from collecting (renamed file, ...)
    autograded_path: str | None = None  # where to keep the executed notebook (instructor only)


@dataclass(frozen=True)
class Limits:
    """What a student's kernel may use. Times in seconds, sizes in MiB."""

    cell_timeout: float = 120.0  # one cell; the cell is interrupted, the next ones still run
    notebook_timeout: float = 600.0  # the whole notebook, kernel start included; then it is killed
    memory_mb: int = 4096  # address space of the kernel (RLIMIT_AS)
    processes: int = 512  # processes + threads of the sandbox user (RLIMIT_NPROC)
    file_mb: int = 256  # largest file the kernel may write (RLIMIT_FSIZE), also the tmpfs size
    output_kb: int = 256  # output kept per cell; the rest is dropped with a note
    network: bool = False  # True: do not unshare the network namespace
    isolate_user: bool = True  # False: run the kernel as the grader's user

    def fingerprint(self) -> dict:
        return asdict(self)


class ScoredTest(TypedDict):
    """One test cell of a :class:`Result`."""

    grade_id: str
    points: float
    max_points: float
    state: str  # "passed" | "failed" | "withheld" | "not-run"
    message: str


class _ResultBase(TypedDict):
    student: str
    assignment: str
    file: str | None
    status: str  # one of STATUSES
    reason: str
    points: float
    max_points: float
    tests: list[ScoredTest]
    notes: list[str]
    warnings: list[str]
    answers: dict[str, str]  # solution grade_id -> the student's code


class Result(_ResultBase, total=False):
    """One graded submission (a JSON dict)."""

    sandbox: dict  # what the sandbox applied
    language: str  # the submission's language ("en" or "ko", its metadata): its feedback page is in it
    traceback: str  # status grader-error: where the grader failed
    seconds: float  # how long grading took
    key: str  # the inputs' hash: an unchanged submission is not graded again
    file_stem: str  # its file name in the output folder (added by the reports)
