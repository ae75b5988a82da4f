"""Grade one submission: match it to the source, run it in the sandbox, score it, explain the score.

This is nbgrader's autograde pipeline, assembled here so that each step can be controlled:

    ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata   (nbgrader)
    SandboxExecute        nbgrader's Execute, with the sandboxed kernel, the guard, the limits
    settle_verdicts       markers checked, stderr moved to stdout, cells that did not finish fail
    LimitOutput, SaveAutoGrades                                                          (nbgrader)

in a private working folder with its own copy of the template gradebook, so that any number
of submissions can be graded at once. The scores come back out of that gradebook.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import replace
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpec
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbformat.corpus.words import generate_corpus_id
from nbgrader.preprocessors import Execute

from . import sandbox
from .assignment import Assignment, quiet
from .guard import GRADER_LINE, Guard
from .interpreter import ensure_tools_on_path
from .kernel_client import SlicedPollKernelManager
from .match import Rejected, reconcile
from .notebooks import nbgrader_meta
from .records import Limits, Result, Task
from .scan import reference_aliases, scan

#: The status of a submission is the first of these (:data:`autograder.records.STATUSES`) that applies.
LANGUAGES = ("en", "ko")  # the course's languages: a submission's metadata picks its feedback's (gptcourse.checks)
PRECEDENCE = ("grader-error", "kernel-died", "timeout", "out-of-memory", "partial", "flagged", "graded")
INSTRUCTOR_CELL_TIMEOUT = 300.0
MEMORY_SIGNS = (
    "MemoryError",
    "can't allocate memory",
    "DefaultCPUAllocator",
    "std::bad_alloc",
    "Cannot allocate memory",
)


# --------------------------------------------------------------------------------------------
# The sandboxed kernel


class SandboxKernelManager(SlicedPollKernelManager):
    """An ipykernel started through :mod:`autograder.sandbox` and reached over Unix sockets
    (by a client that polls in slices: :mod:`autograder.kernel_client`)."""


def make_kernel_manager(work: Path, plan: sandbox.Plan) -> SandboxKernelManager:
    plan_file = work / "plan.json"
    plan.write(plan_file)
    km = SandboxKernelManager(
        kernel_name="gptcourse-sandbox",
        transport="ipc",
        ip=os.path.join(plan.kernel_dir, "ipc"),
        connection_file=os.path.join(plan.kernel_dir, "connection.json"),
        autorestart=False,
    )
    km._kernel_spec = KernelSpec(
        argv=[
            sys.executable,
            "-m",
            "autograder.sandbox",
            str(plan_file),
            "--",
            sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--HistoryManager.enabled=False",
            "--IPKernelApp.parent_handle=0",
        ],
        display_name="Python 3 (grading sandbox)",
        language="python",
        interrupt_mode="signal",
        env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        metadata={},
    )
    return km


class SandboxExecute(Execute):
    """nbgrader's Execute with the sandbox, the guard and the notebook-wide limits.

    Records what happened in :attr:`events`: cells that timed out, the cell during which the
    kernel died, the cells never run, output that was cut.
    """

    def setup(self, *, asg: Assignment, guard: Guard, limits: Limits, plan: sandbox.Plan, work: Path):
        self.asg, self.guard, self.limits, self.plan, self.work = asg, guard, limits, plan, work
        self.timeout = int(max(1, limits.cell_timeout))
        self.startup_timeout = 120
        self.iopub_timeout = 5
        self.interrupt_on_timeout = True
        self.allow_errors = True
        self.record_timing = False
        self.kernel_name = "gptcourse-sandbox"
        self.events = {
            "timed_out": [],
            "died_at": None,
            "not_run": [],
            "truncated": [],
            "deadline_hit": False,
            "killed_by_watchdog": False,
            "exit": None,
            "install_error": None,
        }
        self.timeout_func = self._cell_timeout
        self._deadline = time.monotonic() + limits.notebook_timeout
        self._index = -1
        self._out_bytes: dict[int, int] = {}
        self._kill = threading.Event()

    # -- limits ----------------------------------------------------------------------------
    def _cell_timeout(self, cell) -> int:
        # Instructor cells (imports, data, demos) are trusted, and a machine slow to import torch is
        # not the student's fault: they get at least INSTRUCTOR_CELL_TIMEOUT (the notebook limit holds).
        meta = nbgrader_meta(cell)
        limit = self.limits.cell_timeout
        instructor = meta.get("locked") and not meta.get("grade") and not meta.get("solution")
        if instructor or cell.get("metadata", {}).get("autograder", {}).get("origin") == "release":
            limit = max(limit, INSTRUCTOR_CELL_TIMEOUT)
        remaining = self._deadline - time.monotonic()
        return int(max(1, min(limit, remaining)))

    def _watchdog(self) -> None:
        # The hard stop: the notebook limit plus a grace period, whatever the kernel is doing.
        if not self._kill.wait(self.limits.notebook_timeout + 15):
            self.events["killed_by_watchdog"] = True
            self._kill_kernel()

    def _kill_kernel(self) -> None:
        if self.plan.uid is not None and sandbox.can_isolate_user():
            sandbox.kill_uid(self.plan.uid)
        provisioner = getattr(self.km, "provisioner", None) if self.km is not None else None
        pgid = getattr(provisioner, "pgid", None)
        if pgid:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def create_kernel_manager(self):
        self.km = make_kernel_manager(self.work, self.plan)
        return self.km

    async def _async_handle_timeout(self, timeout, cell=None):
        if self._index not in self.events["timed_out"]:
            self.events["timed_out"].append(self._index)
        return await super()._async_handle_timeout(timeout, cell)

    # -- output cap ------------------------------------------------------------------------
    def output(self, outs, msg, display_id, cell_index):
        cap = self.limits.output_kb * 1024
        content = msg.get("content", {})
        if msg.get("msg_type") == "stream":
            text = content.get("text", "")
            used = self._out_bytes.get(cell_index, 0)
            if used + len(text) > cap:
                kept = "".join(line for line in text.splitlines(True) if GRADER_LINE in line)
                room = max(0, cap - used)
                if cell_index not in self.events["truncated"]:
                    self.events["truncated"].append(cell_index)
                    kept = text[:room] + f"\n... output truncated (more than {self.limits.output_kb} KiB) ...\n" + kept
                if not kept:
                    return None
                msg = copy.deepcopy(msg)
                msg["content"]["text"] = kept
                self._out_bytes[cell_index] = cap
            else:
                self._out_bytes[cell_index] = used + len(text)
        elif msg.get("msg_type") in ("display_data", "execute_result"):
            size = len(json.dumps(content.get("data", {})))
            used = self._out_bytes.get(cell_index, 0)
            if used + size > cap:
                if cell_index not in self.events["truncated"]:
                    self.events["truncated"].append(cell_index)
                return None
            self._out_bytes[cell_index] = used + size
        return super().output(outs, msg, display_id, cell_index)

    # -- running ---------------------------------------------------------------------------
    def _silent(self, code: str) -> dict | None:
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False)
        return self.wait_for_reply(msg_id)

    def preprocess(self, nb, resources=None, km=None):
        from nbclient.client import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        watchdog = threading.Thread(target=self._watchdog, daemon=True)
        watchdog.start()
        try:
            with self.setup_kernel():
                info = self.wait_for_reply(self.kc.kernel_info())
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                reply = self._silent(self.guard.install_code())
                if not reply or reply["content"]["status"] != "ok":
                    content = (reply or {}).get("content", {})
                    self.events["install_error"] = f"{content.get('ename')}: {content.get('evalue')}"
                    raise RuntimeError(
                        "the grader could not install its guard in the kernel: " + str(self.events["install_error"])
                    )
                for index, cell in enumerate(self.nb.cells):
                    if cell.cell_type != "code" or not cell.source.strip():
                        continue
                    if time.monotonic() >= self._deadline:
                        self.events["deadline_hit"] = True
                        self.events["not_run"].append(index)
                        continue
                    self._run(cell, index)
        except CellTimeoutError:
            # the kernel ignored the interrupt: stop here
            if self._index not in self.events["timed_out"]:
                self.events["timed_out"].append(self._index)
        except Exception as exc:  # noqa: BLE001 - DeadKernelError, or whatever a dying kernel causes
            self._record_exit()
            if self._index < 0 and not self.events["killed_by_watchdog"]:
                raise RuntimeError(f"the kernel did not start: {type(exc).__name__}: {exc}") from exc
            if (
                not isinstance(exc, DeadKernelError)
                and self.events["exit"] is None
                and not self.events["killed_by_watchdog"]
            ):
                raise
            self.events["died_at"] = self._index
        finally:
            self._kill.set()
            self._record_exit()
            self._kill_kernel()
        if self.events["killed_by_watchdog"]:
            self.events["deadline_hit"] = True
            self.events["died_at"] = None
        started = self._index
        for index, cell in enumerate(self.nb.cells):
            if (
                index > started
                and cell.cell_type == "code"
                and cell.source.strip()
                and index not in self.events["not_run"]
            ):
                self.events["not_run"].append(index)
        return self.nb, self.resources

    def _record_exit(self) -> None:
        if self.events.get("exit") is not None:
            return
        process = getattr(getattr(self.km, "provisioner", None), "process", None) if self.km is not None else None
        if process is not None:
            try:
                code = process.poll()
            except Exception:  # noqa: BLE001
                code = None
            self.events["exit"] = code

    def _run(self, cell, index: int) -> None:
        try:
            self._run_cell(cell, index)
        except DeadKernelError:
            self._record_exit()  # before nbclient's clean-up forgets the process
            raise

    def _run_cell(self, cell, index: int) -> None:
        self._index = index
        meta = nbgrader_meta(cell)
        if meta.get("grade") and not meta.get("solution"):
            original = cell.source
            test = next((t for t in self.asg.tests if t.grade_id == meta["grade_id"]), None)
            cell.source = self.guard.test_code(meta["grade_id"], original, test.required if test else [])
            try:
                self.execute_cell(cell, index, store_history=False)
            finally:
                cell.source = original
        else:
            self.execute_cell(cell, index, store_history=True)
            if meta.get("locked") and not meta.get("solution"):
                binds = next((c.binds for c in self.asg.cells if c.grade_id == meta.get("grade_id")), [])
                if binds:
                    self._silent(self.guard.snap_code(binds))


# --------------------------------------------------------------------------------------------
# Verdicts


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def settle_verdicts(nb, guard: Guard, events: dict) -> dict[str, dict]:
    """Decide every test cell from outside the kernel; make nbgrader's scoring agree with it.

    A test cell passes only if its completion marker (an HMAC under this run's secret) came back
    and it raised nothing. Output on stderr (warnings) is moved to stdout, so it costs nothing.
    """
    verdicts: dict[str, dict] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        meta = nbgrader_meta(cell)
        is_test = bool(meta.get("grade")) and not meta.get("solution")
        outputs, found = [], False
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                text, hit = guard.take_marker(out.text, meta.get("grade_id", ""))
                found = found or (hit and is_test)
                if is_test:
                    text, changes = guard.take_restored(text)
                    events.setdefault("restored", []).extend(f"{c} (before {meta.get('grade_id')})" for c in changes)
                if not text:
                    continue
                out.text = text
                if is_test and out.name == "stderr":
                    out.name = "stdout"
            outputs.append(out)
        cell.outputs = outputs
        if not is_test:
            continue
        errors = [o for o in outputs if o.output_type == "error"]
        if index in events["not_run"]:
            why = (
                "the notebook's time limit was reached before this cell"
                if events["deadline_hit"]
                else "the kernel had died before this cell"
                if events["died_at"] is not None
                else "the grading stopped before this cell"
            )
            cell.outputs = [_error_output("NotRun", why)]
            verdicts[meta["grade_id"]] = {"state": "not-run", "message": why}
        elif index in events["timed_out"]:
            msg = "this test cell did not finish within the time limit and was interrupted"
            cell.outputs = outputs + ([] if errors else [_error_output("CellTimeoutError", msg)])
            verdicts[meta["grade_id"]] = {"state": "failed", "message": msg}
        elif errors:
            first = next((e for e in errors if e.ename != "CellTimeoutError"), errors[0])
            message = f"{first.ename}: {first.evalue}"
            if first.ename == "NotImplementedError" and not str(first.evalue).strip():
                message = "NotImplementedError: an answer this test needs is still the `raise NotImplementedError()` placeholder"
            verdicts[meta["grade_id"]] = {"state": "failed", "message": message, "ename": first.ename}
        elif not found:
            msg = "the test cell did not run to completion (its completion marker is missing)"
            cell.outputs = outputs + [_error_output("GraderError", msg)]
            verdicts[meta["grade_id"]] = {"state": "failed", "message": msg, "ename": "GraderError"}
        else:
            verdicts[meta["grade_id"]] = {"state": "passed", "message": ""}
    return verdicts


def redact(text: str, hidden_lines: list[str], limit: int = 1500) -> str:
    """A message as a student may see it: no line of a hidden test, no terminal colours, not too long."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text or "")
    for line in hidden_lines:
        if line in text:
            text = text.replace(line, "[hidden test]")
    return text if len(text) <= limit else text[: limit - 20] + " ... (cut)"


# --------------------------------------------------------------------------------------------
# One submission


def _result(task: Task, asg: Assignment, status: str, reason: str, **extra) -> Result:
    return {
        "student": task.student,
        "assignment": asg.name,
        "file": task.path,
        "status": status,
        "reason": reason,
        "points": 0.0,
        "max_points": asg.max_points,
        "tests": [
            {"grade_id": t.grade_id, "points": 0.0, "max_points": t.points, "state": "not-run", "message": reason}
            for t in asg.tests
        ],
        "notes": list(task.notes),
        "warnings": [],
        "answers": {},
        **extra,
    }


def grade(
    task: Task,
    asg: Assignment,
    limits: Limits,
    others: list[Assignment] = (),
    hide: list[str] = (),
    workdir: str | None = None,
) -> Result:
    """Grade one submission; never raises: a failure of the grader itself is status grader-error."""
    started = time.monotonic()
    quiet()
    try:
        result = _grade(task, asg, limits, others, hide, workdir)
    except Exception as exc:  # noqa: BLE001 - every failure must become a row, not a crash
        result = _result(task, asg, "grader-error", f"the grader failed: {type(exc).__name__}: {exc}")
        result["traceback"] = traceback.format_exc()[-4000:]
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def _upgrade_note(raw: dict, name: str) -> str | None:
    """A note for the student if the file is in a notebook format older than 4.5 (it is upgraded and graded)."""
    major, minor = raw.get("nbformat", 4), raw.get("nbformat_minor", 0)
    if (major, minor) >= (4, 5):
        return None
    return f"{name} was saved in the old notebook format {major}.{minor}; it was upgraded to 4.5 and graded"


def _student_errors(nb) -> dict[int, str]:
    """The error each non-test code cell raised (an answer cell or a cell of the student's own), by cell index:
    the error's type and message, and the line of the student's code it points at."""
    found = {}
    for index, cell in enumerate(nb.cells):
        meta = nbgrader_meta(cell)
        if cell.cell_type != "code" or (meta.get("grade") and not meta.get("solution")):
            continue
        error = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
        if error is None:
            continue
        text = re.sub(r" \([^()]*\.py, line \d+\)$", "", f"{error.ename}: {error.evalue}")  # IPython's file name
        where = _error_line(error, cell.source)
        found[index] = text + (f" (line {where[0]}: `{where[1]}`)" if where else "")
    return found


def _error_line(error, source: str) -> tuple[int, str] | None:
    """(line number, code) of the student's cell that ``error`` names: its last ``Cell In[..], line N`` frame,
    or the ``line N`` of a SyntaxError's message."""
    trace = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", "\n".join(error.get("traceback", [])))
    numbers = re.findall(r"Cell In\[\d*\], line (\d+)", trace) or re.findall(r"line (\d+)", str(error.evalue))
    lines = source.splitlines()
    if numbers and 1 <= int(numbers[-1]) <= len(lines):
        return int(numbers[-1]), lines[int(numbers[-1]) - 1].strip()
    return None


def _grade(task, asg, limits, others, hide, workdir) -> Result:
    if task.status_hint:
        return _result(task, asg, task.status_hint, "; ".join(task.notes) or task.status_hint)
    path = Path(task.path)
    if not path.is_file():
        return _result(task, asg, "missing", f"{path.name} does not exist")
    data = path.read_bytes()
    if not data.strip():
        return _result(task, asg, "invalid-notebook", f"{path.name} is empty (0 bytes of notebook)")
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _result(
            task, asg, "invalid-notebook", f"{path.name} is not valid JSON ({exc}); was the file saved from Jupyter?"
        )
    try:
        if not isinstance(raw, dict) or not ("cells" in raw or "worksheets" in raw):
            raise ValueError("no 'cells' list")
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as exc:  # noqa: BLE001
        return _result(task, asg, "invalid-notebook", f"{path.name} is JSON but not a Jupyter notebook ({exc})")
    upgraded = _upgrade_note(raw, path.name)
    if upgraded:
        nb.nbformat_minor = max(nb.nbformat_minor, 5)
        for cell in nb.cells:  # nbformat 4.5 cells carry ids; an older notebook's get them now
            cell.setdefault("id", generate_corpus_id())
        task = replace(task, notes=[*task.notes, upgraded])
    language = (nb.metadata.get("gptcourse") or {}).get("language")
    language = language if language in LANGUAGES else "en"
    try:
        rec = reconcile(nb, asg, others)
    except Rejected as rej:
        return _result(task, asg, rej.status, rej.reason)

    notes = list(task.notes) + rec.notes
    findings = _findings(rec, asg)
    ensure_tools_on_path()
    work = Path(tempfile.mkdtemp(prefix="autograder-", dir=workdir))
    try:
        os.chmod(work, 0o711)
        kernel_dir = work / "kernel"
        kernel_dir.mkdir(mode=0o700)
        for extra in asg.extra_files:
            target = kernel_dir / Path(extra).relative_to(Path(asg.source_path).parent)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(extra, target)
        db = work / "gradebook.db"
        shutil.copy(asg.template_db, db)
        os.chmod(db, 0o600)
        db_url = f"sqlite:///{db}"
        from nbgrader.api import Gradebook

        with Gradebook(db_url, asg.course_id) as gb:
            gb.update_or_create_student(task.student)
            gb.update_or_create_submission(asg.name, task.student)
        resources = {
            "nbgrader": {"notebook": asg.notebook, "assignment": asg.name, "student": task.student, "db_url": db_url},
            "metadata": {"path": str(kernel_dir)},
        }
        nb = rec.nb
        from nbgrader.preprocessors import (
            CheckCellMetadata,
            ClearOutput,
            DeduplicateIds,
            LimitOutput,
            OverwriteCells,
            OverwriteKernelspec,
            SaveAutoGrades,
        )

        for pp in (ClearOutput(), DeduplicateIds(), OverwriteKernelspec(), OverwriteCells(), CheckCellMetadata()):
            nb, resources = pp.preprocess(nb, resources)

        guard = Guard(asg.reference_modules)
        uid = sandbox.sandbox_uid() if limits.isolate_user and sandbox.can_isolate_user() else None
        if uid is not None:
            sandbox.kill_uid(uid)  # leftovers of an earlier run in this process
        plan = sandbox.Plan(
            kernel_dir=str(kernel_dir),
            status_file=str(work / "sandbox.json"),
            uid=uid,
            memory_mb=limits.memory_mb,
            processes=limits.processes,
            file_mb=limits.file_mb,
            cpu_seconds=int(limits.notebook_timeout * 4 + 60),
            network=limits.network,
            hide=[h for h in hide if h],
            expose=sandbox.interpreter_paths(),
            language=language,
        )
        executor = SandboxExecute()
        executor.setup(asg=asg, guard=guard, limits=limits, plan=plan, work=work)
        nb, resources = executor.preprocess(nb, resources)
        events = executor.events
        status_file = work / "sandbox.json"
        sandbox_report = json.loads(status_file.read_text()) if status_file.is_file() else None
        verdicts = settle_verdicts(nb, guard, events)
        nb, resources = LimitOutput().preprocess(nb, resources)
        nb, resources = SaveAutoGrades().preprocess(nb, resources)
        with Gradebook(db_url, asg.course_id) as gb:
            submission = gb.find_submission_notebook(asg.notebook, asg.name, task.student)
            scores = {g.name: float(g.auto_score or 0) for g in submission.grades}
        if task.autograded_path:
            Path(task.autograded_path).parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, task.autograded_path)
        if sandbox_report is None and events["install_error"] is None and events["died_at"] is None:
            raise RuntimeError("the kernel sandbox did not start (no status report)")
        result = _assemble(task, asg, nb, rec, notes, findings, verdicts, scores, events, sandbox_report, limits)
        return {**result, "language": language}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _findings(rec, asg: Assignment) -> dict:
    """Static findings per answer cell and per student-added cell, mapped to the tests they affect."""
    per_test: dict[str, list[str]] = {t.grade_id: [] for t in asg.tests}
    tamper, shadow = [], []
    aliases = reference_aliases(
        [c.source for c in asg.cells if c.role == "locked" and c.cell_type == "code"], asg.reference_modules
    )
    for gid, code in rec.answers.items():
        for f in scan(code, asg.reference_modules, set(asg.protected), aliases):
            if f.kind == "reference":
                for t in asg.tests:
                    if gid in t.solutions:
                        per_test[t.grade_id].append(f"answer cell {gid}: {f}")
            elif f.kind == "tamper":
                tamper.append(f"answer cell {gid}: {f}")
            else:
                shadow.append(f"answer cell {gid}: {f}")
    order = [nbgrader_meta(c).get("grade_id") for c in rec.nb.cells]
    for index, code in rec.student_cells:
        later = {g for g in order[index + 1 :] if g}
        for f in scan(code, asg.reference_modules, set(asg.protected), aliases):
            where = f"your added cell {index + 1}"
            if f.kind == "reference":
                for t in asg.tests:
                    if t.grade_id in later:
                        per_test[t.grade_id].append(f"{where}: {f}")
            elif f.kind == "tamper":
                tamper.append(f"{where}: {f}")
            else:
                shadow.append(f"{where}: {f}")
    return {"reference": per_test, "tamper": tamper, "shadow": shadow}


def _assemble(task, asg, nb, rec, notes, findings, verdicts, scores, events, sandbox_report, limits) -> Result:
    labels = {i: nbgrader_meta(c).get("grade_id") or f"cell {i + 1}" for i, c in enumerate(nb.cells)}
    raised = {labels[i]: error for i, error in _student_errors(nb).items()}  # the student's own errors come first
    costs: dict[str, list[str]] = {}
    tests, withheld = [], []
    answer_cells = {s for t in asg.tests for s in t.solutions}
    for t in asg.tests:
        verdict = verdicts.get(t.grade_id, {"state": "not-run", "message": "not run"})
        points = scores.get(t.grade_id, 0.0)
        state, message = verdict["state"], redact(verdict["message"], asg.hidden_lines)
        if state != "passed" and points > 0:  # nbgrader and our verdict must agree
            points = 0.0
        own = [s for s in t.solutions if s in raised]
        if state == "failed" and own:
            message = (
                "".join(f"your answer cell {s} raised {raised[s]}; " for s in own) + f"then this test failed: {message}"
            )
            for s in own:
                costs.setdefault(s, []).append(t.grade_id)
        reasons = findings["reference"].get(t.grade_id) or []
        if verdict.get("ename") == "ReferenceImplementationUsed":
            reasons = reasons or [message]
        if reasons:
            state, points = "withheld", 0.0
            message = (
                "no points: "
                + "; ".join(r.rstrip(". ") for r in reasons[:3])
                + ". Write the function yourself; importing the course package's reference implementation "
                "earns nothing."
            )
            withheld.append(t.grade_id)
        tests.append(
            {"grade_id": t.grade_id, "points": points, "max_points": t.points, "state": state, "message": message}
        )
    total = sum(t["points"] for t in tests)

    candidates, reasons = [], []
    if events["died_at"] is not None and not events["deadline_hit"]:
        code = events.get("exit")
        how = (
            f"killed by signal {-code}"
            if isinstance(code, int) and code < 0
            else f"exit code {code}"
            if code is not None
            else "it stopped answering"
        )
        candidates.append("kernel-died")
        reasons.append(
            f"the kernel died while running {labels.get(events['died_at'], 'a cell')} ({how}); "
            "tests after it were not run"
        )
    if events["deadline_hit"]:
        candidates.append("timeout")
        reasons.append(
            f"the notebook did not finish within {limits.notebook_timeout:g} s; the remaining cells were not run"
        )
    if events["timed_out"]:
        candidates.append("timeout")
        cells = ", ".join(labels.get(i, "?") for i in events["timed_out"])
        reasons.append(f"{cells} ran longer than {limits.cell_timeout:g} s and was interrupted")
    memory_cells = [
        labels[i]
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.output_type == "error" and any(sign in f"{o.ename}: {o.evalue}" for sign in MEMORY_SIGNS)
    ]
    if memory_cells:
        candidates.append("out-of-memory")
        reasons.append(f"{', '.join(dict.fromkeys(memory_cells))} ran out of memory (limit {limits.memory_mb} MiB)")
    if withheld:
        candidates.append("partial")
        reasons.append(f"points withheld for {', '.join(withheld)}: the answer uses the reference implementation")
    if findings["tamper"]:
        candidates.append("flagged")
        reasons.append("needs review: " + "; ".join(findings["tamper"][:4]))
    if events.get("restored"):
        candidates.append("flagged")
        reasons.append(
            "the notebook changed the test helpers, which were restored before the tests ran: "
            + ", ".join(list(dict.fromkeys(events["restored"]))[:6])
        )
    own_errors = [
        f"{'answer cell' if cell in costs or cell in answer_cells else 'your'} {cell} raised {error}"
        + (f", which cost {', '.join(costs[cell])}" if cell in costs else "")
        for cell, error in raised.items()
        if not (events["died_at"] is not None and labels.get(events["died_at"]) == cell)
    ]
    reasons = own_errors + reasons
    status = next((s for s in PRECEDENCE if s in candidates), "graded")
    if events["truncated"]:
        notes.append(f"output of {', '.join(labels[i] for i in events['truncated'])} was cut at {limits.output_kb} KiB")
    notes.extend(findings["shadow"][:4])
    warnings = list((sandbox_report or {}).get("warnings", []))
    reason = "; ".join(reasons + notes)
    return {
        "student": task.student,
        "assignment": asg.name,
        "file": task.path,
        "status": status,
        "reason": redact(reason, asg.hidden_lines, limit=4000),
        "points": total,
        "max_points": asg.max_points,
        "tests": tests,
        "notes": notes,
        "warnings": warnings,
        "answers": rec.answers,
        "sandbox": (sandbox_report or {}).get("applied", {}),
    }
