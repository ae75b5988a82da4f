"""From Seq2Seq to GPT-2: the course package.

One module per chapter, read top to bottom; each implementation is written once and
later chapters import it.

- :mod:`gptcourse.ch00_lm`   softmax, the count-based language model and L1
- :mod:`gptcourse.style`     the one plotting style every figure uses
- :mod:`gptcourse.checks`    the assertions the exercise tests use (they explain what went wrong)
"""

import random

__version__ = "0.1.0"


def set_seed(seed: int = 0) -> None:
    """Seed Python, NumPy and (if installed) PyTorch so a run can be repeated exactly."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a requirement
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # pragma: no cover - torch is a requirement
        pass


def default_device() -> str:
    """The best device PyTorch sees: ``"cuda"``, then ``"mps"``, else ``"cpu"``.

    The course never needs an accelerator; this only lets the same code use one.
    """
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
