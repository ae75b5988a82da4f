"""The kernel sandbox: limits, isolation and clean-up for the student's Jupyter kernel.

The grader starts every student kernel through this module's launcher
(``python -m autograder.sandbox PLAN.json -- python -m ipykernel_launcher ...``). The launcher
runs as the grader's user (root on a grading machine) and, before it turns into the kernel:

1. unshares a network namespace (no network, not even loopback) and a mount namespace;
2. in the mount namespace, hides the instructor's folders (source notebooks, submissions,
   results, caches) under empty read-only tmpfs mounts, gives the kernel fresh, size-limited
   ``/tmp``, ``/var/tmp`` and ``/dev/shm``, and, where a folder on the interpreter's path is not
   readable by others (``/root/.pyenv``), re-exposes just the interpreter under a tmpfs;
3. sets resource limits: address space (memory), number of processes/threads, file size,
   open files, CPU seconds, no core dumps;
4. drops to an unprivileged user id of its own (one per grading process, so the process limit
   and the final clean-up concern that kernel only) with ``no_new_privs``;
5. ``exec``s the kernel.

Each step that cannot be done (not root, no namespaces in this container, ...) is skipped and
recorded as a warning in the plan's status file, which the grader copies into the result. The
kernel talks to the grader over Unix sockets (ZeroMQ ``ipc`` transport) in a folder owned by
the sandbox user, so it needs no network at all.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .interpreter import bin_first
from .records import Limits  # noqa: F401 - defined with the other records; bench/grading.py imports it from here

CLONE_NEWNS, CLONE_NEWNET = 0x00020000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG = 38, 1

#: First uid of the range the sandbox users are taken from (uid = base + grading process id).
UID_BASE = 200_000


@dataclass
class Plan:
    """Everything the launcher needs; written as JSON next to the kernel's folder."""

    kernel_dir: str  # the kernel's cwd and HOME, owned by the sandbox user; holds the ipc sockets
    status_file: str  # where the launcher reports what it applied
    uid: int | None  # None: stay the current user
    memory_mb: int
    processes: int
    file_mb: int
    cpu_seconds: int
    network: bool
    hide: list[str] = field(default_factory=list)  # folders the kernel must not see
    expose: list[str] = field(default_factory=list)  # folders the kernel must be able to read
    language: str = "en"  # the submission's language (its metadata): the checks' messages follow it

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))


# --------------------------------------------------------------------------------------------
# Parent side: preparing a plan, finding and ending the sandbox's processes


def can_isolate_user() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def sandbox_uid() -> int:
    """A uid no other live grading process uses: the base plus this process's pid."""
    return UID_BASE + os.getpid()


def interpreter_paths() -> list[str]:
    """Folders the kernel must read: the interpreter, the environment, and the course package."""
    import gptcourse

    paths = {os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    paths.add(os.path.dirname(os.path.dirname(os.path.realpath(gptcourse.__file__))))
    paths.add(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
    return sorted(p for p in paths if os.path.exists(p))


def processes_of(uid: int) -> list[int]:
    """Process ids whose real uid is ``uid`` (Linux /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            pids.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return pids


def kill_uid(uid: int, rounds: int = 20) -> int:
    """SIGKILL every process of the sandbox user (it owns nothing else). Returns how many."""
    if uid is None or uid < UID_BASE:
        return 0
    killed = 0
    for _ in range(rounds):
        pids = processes_of(uid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    return killed


# --------------------------------------------------------------------------------------------
# Launcher side (runs in the child, before exec)

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None) -> None:
    enc = lambda s: s.encode() if isinstance(s, str) else s  # noqa: E731
    _check(_lib().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _overmount(folder: str, keep: list[str], options: str) -> None:
    """Mount a fresh tmpfs on ``folder`` and bind the ``keep`` paths (inside it) back in place."""
    fds = []
    for path in keep:
        fds.append((path, os.open(path, os.O_PATH | os.O_DIRECTORY)))
    _mount("tmpfs", folder, "tmpfs", MS_NOSUID | MS_NODEV, options)
    for path, fd in fds:
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)


def _blocked_ancestor(path: str) -> tuple[str, str] | None:
    """The first folder on ``path`` that others may not enter, and its child on the way."""
    parts = Path(path).parts
    current = parts[0]
    for part in parts[1:]:
        parent, current = current, os.path.join(current, part)
        try:
            if not os.stat(parent).st_mode & 0o001:
                return parent, current
        except OSError:
            return None
    return None


def _probe(uid: int, paths: list[str], python: str) -> str | None:
    """Fork, become ``uid``, and check that the interpreter and the environment are readable."""
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            ok = os.access(python, os.X_OK) and all(os.access(p, os.R_OK | os.X_OK) for p in paths)
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return None
    return "the sandbox user cannot read the Python environment"


def launch(plan: Plan, argv: list[str]) -> None:
    """Apply the plan and exec ``argv`` (the kernel). Never returns."""
    warnings: list[str] = []
    applied: dict[str, object] = {}
    kernel_dir = plan.kernel_dir
    # opened now: once /tmp is replaced by a private tmpfs the path would lead elsewhere
    status_fd = os.open(plan.status_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    want_user = plan.uid is not None and can_isolate_user()
    if plan.uid is not None and not want_user:
        warnings.append("student code runs as the grader's own user (the grader is not root)")

    # 1. namespaces
    flags = CLONE_NEWNS | (0 if plan.network else CLONE_NEWNET)
    mount_ns = False
    try:
        _check(_lib().unshare(flags), "unshare")
        mount_ns = True
        applied["network"] = "allowed" if plan.network else "none (own network namespace)"
    except OSError as exc:
        if not plan.network:
            try:
                _check(_lib().unshare(CLONE_NEWNET), "unshare(net)")
                applied["network"] = "none (own network namespace)"
            except OSError as exc2:
                warnings.append(f"network not isolated: {exc2}")
                applied["network"] = "NOT isolated"
        warnings.append(f"no mount namespace, folders not hidden: {exc}")

    # 2. file system view
    if mount_ns:
        try:
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            hidden = []
            for folder in plan.hide:
                if os.path.isdir(folder) and not any(_inside(k, folder) for k in [kernel_dir, *plan.expose]):
                    _mount("tmpfs", folder, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=0555")
                    hidden.append(folder)
            applied["hidden"] = hidden
            if want_user:
                blocked: dict[str, set[str]] = {}
                for path in plan.expose:
                    found = _blocked_ancestor(path)
                    if found:
                        blocked.setdefault(found[0], set()).add(found[1])
                for folder, keep in blocked.items():
                    _overmount(folder, sorted(keep), "mode=0755,size=1m")
                applied["exposed"] = {k: sorted(v) for k, v in blocked.items()}
            for tmp in ("/tmp", "/var/tmp", "/dev/shm"):
                if os.path.isdir(tmp):
                    # the kernel's folder and, for a course checked out under /tmp, its environment stay visible
                    keep = [path for path in [kernel_dir, *plan.expose] if _inside(path, tmp)]
                    _overmount(tmp, keep, f"mode=1777,size={plan.file_mb}m")
            applied["tmp"] = f"private tmpfs of {plan.file_mb} MiB"
        except OSError as exc:
            warnings.append(f"file system isolation incomplete: {exc}")

    # 3. resource limits
    mib = 1024 * 1024
    limits = {
        "RLIMIT_AS": plan.memory_mb * mib,
        "RLIMIT_FSIZE": plan.file_mb * mib,
        "RLIMIT_CORE": 0,
        "RLIMIT_NOFILE": 1024,
        "RLIMIT_CPU": plan.cpu_seconds,
    }
    if want_user:
        limits["RLIMIT_NPROC"] = plan.processes  # counted per user: ours is the kernel's own
    else:
        warnings.append("process limit not applied (it needs a user of the kernel's own)")
    for name, value in limits.items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
            applied[name] = value
        except (ValueError, OSError) as exc:
            warnings.append(f"{name} not set: {exc}")

    # 4. the user
    user = "grader's own user"
    if want_user:
        problem = _probe(plan.uid, plan.expose, sys.executable)
        if problem:
            warnings.append(f"student code runs as the grader's own user: {problem}")
            want_user = False
    if want_user:
        os.chown(kernel_dir, plan.uid, plan.uid)
        for entry in os.listdir(kernel_dir):
            os.chown(os.path.join(kernel_dir, entry), plan.uid, plan.uid)
        user = "an unprivileged user of its own"
    applied["user"] = user
    os.write(status_fd, json.dumps({"applied": applied, "warnings": warnings}, indent=1).encode())
    os.close(status_fd)
    if want_user:
        os.setgroups([])
        os.setgid(plan.uid)
        os.setuid(plan.uid)
    try:
        _check(_lib().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl")
    except OSError:
        pass

    env = {
        "PATH": bin_first("/usr/bin:/bin"),
        "HOME": kernel_dir,
        "TMPDIR": "/tmp",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": kernel_dir,
        "IPYTHONDIR": os.path.join(kernel_dir, ".ipython"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "NBGRADER_EXECUTION": "autograde",
        "GPTCOURSE_LANGUAGE": plan.language,
    }
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if name in os.environ:
            env[name] = os.environ[name]
    os.chdir(kernel_dir)
    # the kernel's own stdout/stderr (not the notebook's outputs, which travel over ZeroMQ) must
    # not reach the grader's terminal: a student could flood it
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.execve(argv[0], argv, env)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m autograder.sandbox PLAN.json -- KERNEL_ARGV...", file=sys.stderr)
        sys.exit(2)
    plan = Plan(**json.loads(Path(argv[0]).read_text()))
    launch(plan, argv[2:])


if __name__ == "__main__":
    main()
