"""The errors the command line reports, and its exit codes.

Both error types end a command with :data:`EXIT_USAGE` and the message (``error: ...``) on stderr:
:class:`UsageError` for what the instructor asked for (bad arguments, unknown assignment, a path
that is not there), :class:`NotebookError` for a notebook that is not usable.
"""

from __future__ import annotations

#: Exit codes of ``grade``, ``merge`` and ``gradescope`` (see :mod:`autograder.__main__`).
EXIT_OK, EXIT_USAGE, EXIT_GRADER_FAILED, EXIT_INTERRUPTED = 0, 2, 3, 130


class UsageError(Exception):
    """The command cannot do what it was asked (bad argument, unknown assignment, no such file, ...)."""


class NotebookError(ValueError):
    """A notebook (or one of its cells) is not usable; the message says which and why."""
