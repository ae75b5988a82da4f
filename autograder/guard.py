"""The grader's side of the in-kernel guard (:mod:`autograder._kernel_guard`).

:class:`Guard` holds a per-run secret and the random names under which the guard's functions
live in the kernel; it writes the code the grader sends (the silent installer, the call that
replaces a test cell's source at execution time) and checks the completion markers.

The completion marker's format is defined here only (:data:`MARKER_FORMAT`): the kernel's side
receives it as an argument of ``install``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

GUARD_SOURCE = (Path(__file__).parent / "_kernel_guard.py").read_text()
#: A completion marker: the test's id and the first 32 hex digits of the HMAC-SHA256 of that id
#: under the run's secret, on a line of its own. Every line with the prefix is the grader's.
MARKER_PREFIX, MARKER_END = "\u27e6grader-ok", "\u27e7"
MARKER_FORMAT = MARKER_PREFIX + " {grade_id} {digest}" + MARKER_END
MARKER = re.compile(re.escape(MARKER_PREFIX) + r" (\S+) ([0-9a-f]{32})" + re.escape(MARKER_END) + r"\n?")
#: What the guard found changed (and restored) before a test: a test helper's code, defaults, attributes or
#: closure. Unsigned: a student who prints one only flags their own submission.
RESTORED_PREFIX = "\u27e6grader-restored"
RESTORED_FORMAT = RESTORED_PREFIX + " {what}" + MARKER_END
RESTORED = re.compile(re.escape(RESTORED_PREFIX) + r" (.*?)" + re.escape(MARKER_END) + r"\n?")
#: Every line the grader's side of the kernel writes starts so (kept when a cell's output is cut).
GRADER_LINE = "\u27e6grader-"


class Guard:
    def __init__(self, reference_modules: list[str]):
        self.secret = secrets.token_hex(32)
        tag = secrets.token_hex(6)
        self.run_name, self.snap_name = f"_grader_run_{tag}", f"_grader_snap_{tag}"
        self.reference_modules = list(reference_modules)

    def install_code(self) -> str:
        """Executed silently (no history, no output) before the first cell."""
        body = GUARD_SOURCE + (
            f"\ninstall({self.secret!r}, {self.run_name!r}, {self.snap_name!r}, "
            f"{self.reference_modules!r}, {MARKER_FORMAT!r}, {RESTORED_FORMAT!r})\n"
        )
        return f"exec({body!r}, {{'__name__': '__grader__'}})"

    def snap_code(self, names: list[str]) -> str:
        return f"{self.snap_name}({sorted(names)!r})"

    def test_code(self, grade_id: str, source: str, required: list[str]) -> str:
        """What the kernel receives instead of a test cell's source."""
        return f"{self.run_name}({grade_id!r}, {source!r}, {sorted(required)!r})"

    def marker(self, grade_id: str) -> str:
        digest = hmac.new(bytes.fromhex(self.secret), grade_id.encode(), hashlib.sha256).hexdigest()[:32]
        return MARKER_FORMAT.format(grade_id=grade_id, digest=digest)

    def take_marker(self, text: str, grade_id: str) -> tuple[str, bool]:
        """Remove every marker-looking line from ``text``; True if the right one was among them."""
        found = False
        expected = self.marker(grade_id)

        def _drop(match: re.Match) -> str:
            nonlocal found
            if match.group(0).rstrip("\n") == expected:
                found = True
            return ""

        return MARKER.sub(_drop, text), found

    @staticmethod
    def take_restored(text: str) -> tuple[str, list[str]]:
        """Remove the guard's "restored" lines from ``text``; return what each says was changed."""
        return RESTORED.sub("", text), RESTORED.findall(text)
