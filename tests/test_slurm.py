"""A real scheduler, end to end: the shipped Slurm job-array script grades a class on a single-node
Slurm cluster that this test starts (munged, slurmctld and slurmd of its own, in a temporary folder,
on free ports), and ``merge`` of the array's shards, a job that depends on the array as the script's
comments show, gives the same grades as one un-sharded run.

As root the test installs Slurm (Debian's ``slurm-wlm``, which brings munge) when ``sbatch`` is
missing; without root and without Slurm it is skipped. Its munged has its own key and socket, so an
installed munge (key, daemon) is neither used nor touched. Every daemon it started is stopped in the
end, and the test checks that none is left.
"""

from __future__ import annotations

import csv
import ctypes
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_autograder import LIMITS, A, build_class

from conftest import KERNELS, ROOT

SCRIPT = ROOT / "autograder" / "slurm" / "grade-array.sbatch"
SHARDS = 4
#: a few cheap cases of tests/test_autograder.py's class: two kernel-free, six that run a kernel
STUDENTS = (
    "perfect",
    "release",
    "partial",
    "syntax-error",
    "wrong-name",
    "kills-kernel",
    "no-notebook",
    "invalid-json",
)
#: what the test may start (a job's slurmstepd included); another Slurm's processes are left alone
DAEMONS = ("munged", "slurmctld", "slurmd", "slurmstepd")
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
IS_ROOT = os.geteuid() == 0

pytestmark = [pytest.mark.slow, KERNELS]


def tool(name: str) -> str | None:
    return shutil.which(name, path=SBIN)


def ensure_slurm() -> None:
    if all(tool(t) for t in ("sbatch", "sinfo", "squeue", "scancel", "scontrol", "slurmctld", "slurmd", "munged")):
        return
    if not IS_ROOT:
        pytest.skip("Slurm is not installed, and installing it needs root (apt-get install slurm-wlm)")
    proc = subprocess.run(
        "apt-get update -qq && apt-get install -y -qq slurm-wlm",
        shell=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if proc.returncode != 0 or not tool("sbatch"):
        pytest.fail(f"apt-get install slurm-wlm failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def pids(name: str, conf: Path) -> set[int]:
    """The processes called ``name`` of the cluster of ``conf``: each daemon the test starts, and
    each slurmstepd of its jobs (a child of init), has ``SLURM_CONF=conf`` in its environment."""
    proc = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True)
    mine = set()
    for pid in map(int, proc.stdout.split()):
        try:
            if f"SLURM_CONF={conf}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                mine.add(pid)
        except OSError:  # gone, or another user's
            pass
    return mine


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_for(check, what: str, timeout: float, logs) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout:.0f} s\n{logs()}")
        time.sleep(0.5)


def _die_with_parent() -> None:
    """In a daemon the test starts: a SIGTERM when the test's process dies, even if killed."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class SingleNodeSlurm:
    """munged + slurmctld + slurmd for this machine, everything under one temporary folder."""

    def __init__(self) -> None:
        # short paths: munged's and slurmd's Unix sockets live here (at most 107 bytes)
        self.dir = Path(tempfile.mkdtemp(prefix="slurm-test-"))
        self.conf = self.dir / "slurm.conf"
        self.socket = self.dir / "munge.socket"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, *args: str) -> None:
        log = open(self.dir / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen(
            [tool(name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            preexec_fn=_die_with_parent,
        )
        log.close()

    def logs(self) -> str:
        parts = []
        for path in sorted(self.dir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def node_state(self) -> str:
        proc = subprocess.run([tool("sinfo"), "-h", "-N", "-o", "%t"], env=self.env, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    def states(self, job: str) -> dict[str, tuple[str, str]]:
        """{array task id (or job id): (JobState, ExitCode)}, while slurmctld remembers the job (MinJobAge)."""
        out = subprocess.run(
            [tool("scontrol"), "-o", "show", "job", job], env=self.env, capture_output=True, text=True
        ).stdout
        states = {}
        for line in out.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            states[fields.get("ArrayTaskId", fields["JobId"])] = (fields["JobState"], fields["ExitCode"])
        return states

    def start(self) -> None:
        key = self.dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        # --force: the socket's folder is not executable by all (munged refuses that by default)
        self._start(
            "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={self.socket}",
            f"--pid-file={self.dir / 'munged.pid'}",
            f"--seed-file={self.dir / 'munged.seed'}",
            f"--log-file={self.dir / 'munged.file.log'}",
        )
        wait_for(self.socket.exists, "munged did not create its socket", 30, self.logs)

        # the node as slurmd sees it: NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
        node = subprocess.run([tool("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout.split("\n")[0]
        host = dict(field.split("=", 1) for field in node.split())["NodeName"]
        user = pwd.getpwuid(os.geteuid()).pw_name
        ctld_port, node_port = free_ports(2)
        (self.dir / "state").mkdir()
        (self.dir / "spool").mkdir()
        (self.dir / "plugstack.conf").write_text("")  # none of the system's SPANK plugins
        self.conf.write_text(
            f"""\
ClusterName=gradetest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={node_port}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.socket}
StateSaveLocation={self.dir / 'state'}
SlurmdSpoolDir={self.dir / 'spool'}
SlurmctldPidFile={self.dir / 'slurmctld.pid'}
SlurmdPidFile={self.dir / 'slurmd.pid'}
PlugStackConfig={self.dir / 'plugstack.conf'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
{node} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""
        )
        self._start("slurmctld", "-D", "-f", str(self.conf))
        self._start("slurmd", "-D", "-f", str(self.conf))
        wait_for(lambda: self.node_state() == "idle", "the node did not come up idle", 120, self.logs)

    def stop(self) -> None:
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            subprocess.run([tool("scancel"), "--partition=debug"], env=self.env, capture_output=True, timeout=60)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                queue = subprocess.run([tool("squeue"), "-h"], env=self.env, capture_output=True, text=True, timeout=60)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(1)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.get(name)
            if proc is None:
                continue
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
        # a job step's slurmstepd outlives a stopped slurmd by design: end those of this cluster
        for pid in pids("slurmstepd", self.conf):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass

    def leftovers(self) -> dict[str, set[int]]:
        deadline = time.monotonic() + 30
        while True:
            left = {name: pids(name, self.conf) for name in DAEMONS}
            if not any(left.values()) or time.monotonic() > deadline:
                return {name: p for name, p in left.items() if p}
            time.sleep(0.5)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        # no timing column today; should one appear, it may differ between two runs
        return [{k: v for k, v in row.items() if "time" not in k and "second" not in k} for row in csv.DictReader(f)]


def grade_fields(path: Path) -> dict[str, dict]:
    keys = ("status", "points", "max_points", "reason", "notes", "warnings", "tests")
    return {s["student"]: {k: s.get(k) for k in keys} for s in json.loads(path.read_text())["students"]}


def grader(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "autograder", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_slurm_array_and_merge_equal_one_run(tmp_path):
    ensure_slurm()
    source_dir, sub, expected = build_class(tmp_path)
    for folder in sub.iterdir():
        if folder.name not in STUDENTS:
            shutil.rmtree(folder)
    options = ["--source", str(source_dir), "--cache", str(tmp_path / "cache"), *LIMITS]

    whole = grader("grade", A, str(sub), "--out", str(tmp_path / "whole"), "--no-progress", *options)
    assert whole.returncode == 0, whole.stdout + whole.stderr

    shards = [tmp_path / f"shard{k}" for k in range(SHARDS)]
    outputs = tmp_path / "slurm-out"
    outputs.mkdir()
    # the script's defaults (2 CPUs, 8G) may not fit a small machine; memory is not a consumable
    # here (CR_Core), so --mem only has to be at most the node's
    resources = ["--cpus-per-task=1", "--mem=1G", "--time=00:30:00", f"--chdir={ROOT}"]
    cluster = SingleNodeSlurm()
    try:
        cluster.start()
        env = {**cluster.env, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1"}

        def sbatch(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [tool("sbatch"), "--parsable", *resources, *args], env=env, capture_output=True, text=True, timeout=1500
            )

        def failed(proc: subprocess.CompletedProcess) -> str:
            logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(outputs.iterdir()))
            return f"{proc.stdout}\n{proc.stderr}\n{logs}\n{cluster.logs()}"

        # the array, as the script's comments submit it, and the merge as a job that waits for it
        array = sbatch(
            f"--array=0-{SHARDS - 1}",
            f"--output={outputs}/grade-%A_%a.out",
            str(SCRIPT),
            A,
            str(sub),
            str(tmp_path / "shard"),
            *options,
        )
        assert array.returncode == 0, failed(array)
        job = array.stdout.strip().split(";")[0]
        merge = shlex.join(
            [sys.executable, "-m", "autograder", "merge", *map(str, shards), "--out", str(tmp_path / "merged")]
        )
        merged = sbatch(
            "--wait",
            f"--dependency=afterok:{job}",
            "--kill-on-invalid-dep=yes",  # an array task failed: the merge is cancelled, not left pending
            f"--output={outputs}/merge-%j.out",
            "--wrap",
            merge,
        )
        # sbatch --wait exits 0 for a job cancelled before it ran: ask slurmctld how each job ended
        merge_job = merged.stdout.strip().split(";")[0]
        ended = {**cluster.states(job), "merge": cluster.states(merge_job).get(merge_job)}
        assert merged.returncode == 0 and set(ended.values()) == {("COMPLETED", "0:0")}, f"{ended}\n{failed(merged)}"
        assert set(ended) == {*map(str, range(SHARDS)), "merge"}, ended
        # every array task ran under Slurm: its own output file, naming its task id, job and shard
        for k in range(SHARDS):
            log = outputs / f"grade-{job}_{k}.out"
            assert log.is_file(), f"no output of array task {k}:\n{failed(array)}"
            text = log.read_text()
            assert f"array task {k} of job {job} on " in text and f"shard {k}/{SHARDS} -> " in text, text
        assert (outputs / f"merge-{merge_job}.out").is_file()
    finally:
        cluster.stop()
        left = cluster.leftovers()
        logs = cluster.logs()
        shutil.rmtree(cluster.dir, ignore_errors=True)
    assert not left, f"daemons left running: {left}\n{logs}"

    students = [{r["student"] for r in read_csv(d / "grades.csv")} for d in shards]
    assert all(students), f"an empty shard: {students}"
    assert sum(map(len, students)) == len(set().union(*students)) == len(STUDENTS), students

    rows = read_csv(tmp_path / "merged" / "grades.csv")
    assert rows == read_csv(tmp_path / "whole" / "grades.csv")
    assert {r["student"]: (r["status"], float(r["total"])) for r in rows} == {s: expected[s] for s in STUDENTS}
    assert grade_fields(tmp_path / "merged" / "grades.json") == grade_fields(tmp_path / "whole" / "grades.json")

    # the kernels ran in the full sandbox under Slurm too (as root: own user, no network)
    sandboxes = [
        json.loads((d / "results" / f"{s}.json").read_text()).get("sandbox")
        for d, names in zip(shards, students, strict=True)
        for s in names
    ]
    sandboxes = [s for s in sandboxes if s]
    assert len(sandboxes) == len(STUDENTS) - 2, sandboxes  # all but no-notebook and invalid-json
    if IS_ROOT:
        for s in sandboxes:
            assert s["user"] == "an unprivileged user of its own" and "own network namespace" in s["network"], s
