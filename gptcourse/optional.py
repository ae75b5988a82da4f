"""Optional dependencies, and the one-line error that says how to install a missing one.

The course package installs what the pages and exercises need. A few things are for checks against
other implementations only (Hugging Face's ``transformers``, OpenAI's ``tiktoken``, the hub client); they
come with an extra, ``pip install "gptcourse[hf]"``. Code that needs one calls :func:`require`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: module -> the extra of the course package that installs it
EXTRAS = {
    "transformers": "hf",
    "tiktoken": "hf",
    "tiktoken_ext": "hf",
    "huggingface_hub": "hf",
    "nbgrader": "grader",
    "nbclient": "grader",
}


class MissingDependency(ImportError):
    """An optional package is not installed; the message is one line with the pip command that fixes it."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [f"{type(self).__name__}: {self}"]


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming the pip command; ``purpose`` says what needs it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.split(".")[0]
        if getattr(err, "name", top) not in (top, module):
            raise  # the package is there but something inside it is broken: show the real error
        extra = EXTRAS.get(top)
        fix = f'pip install "gptcourse[{extra}]"' if extra else f"pip install {top}"
        raise MissingDependency(
            f"{purpose} needs the package {top!r}, which is not installed: run `{fix}` "
            "(in a notebook: %pip install ..., then restart the kernel)."
        ) from None
