"""The running interpreter's bin/ first on PATH: nbgrader runs helper programs (``alembic``) by name,
and the ones installed beside this Python must be found even when its environment is not activated."""

from __future__ import annotations

import os
import sys


def bin_first(path: str) -> str:
    """``path`` (a PATH value) with the folder of the running interpreter as its first entry."""
    bindir = os.path.dirname(sys.executable)
    if path.split(os.pathsep)[0] == bindir:
        return path
    return bindir + os.pathsep + path if path else bindir


def ensure_tools_on_path() -> None:
    """Put the running interpreter's bin/ first on this process's PATH (inherited by what it starts)."""
    os.environ["PATH"] = bin_first(os.environ.get("PATH", ""))
