"""The grader's side of the in-kernel guard (:mod:`autograder._kernel_guard`).

:class:`Guard` holds a per-run secret and the random names under which the guard's functions
live in the kernel; it writes the code the grader sends (the silent installer, the call that
replaces a test cell's source at execution time) and checks the completion markers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

GUARD_SOURCE = (Path(__file__).parent / "_kernel_guard.py").read_text()
MARKER = re.compile(r"\u27e6grader-ok (\S+) ([0-9a-f]{32})\u27e7\n?")


class Guard:
    def __init__(self, reference_modules: list[str]):
        self.secret = secrets.token_hex(32)
        tag = secrets.token_hex(6)
        self.run_name, self.snap_name = f"_grader_run_{tag}", f"_grader_snap_{tag}"
        self.reference_modules = list(reference_modules)

    def install_code(self) -> str:
        """Executed silently (no history, no output) before the first cell."""
        body = GUARD_SOURCE + (f"\ninstall({self.secret!r}, {self.run_name!r}, {self.snap_name!r}, "
                               f"{self.reference_modules!r})\n")
        return f"exec({body!r}, {{'__name__': '__grader__'}})"

    def snap_code(self, names: list[str]) -> str:
        return f"{self.snap_name}({sorted(names)!r})"

    def test_code(self, grade_id: str, source: str, required: list[str]) -> str:
        """What the kernel receives instead of a test cell's source."""
        return f"{self.run_name}({grade_id!r}, {source!r}, {sorted(required)!r})"

    def marker(self, grade_id: str) -> str:
        digest = hmac.new(bytes.fromhex(self.secret), grade_id.encode(), hashlib.sha256).hexdigest()[:32]
        return f"\u27e6grader-ok {grade_id} {digest}\u27e7"

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
