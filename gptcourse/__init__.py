"""From Seq2Seq to GPT-2: the course package.

One module per chapter, read top to bottom; each implementation is written once and
later chapters import it.

- :mod:`gptcourse.ch00_lm`            softmax, the count-based language model and L1
- :mod:`gptcourse.ch01_seq2seq`       the GRU encoder-decoder, teacher forcing, greedy decoding
- :mod:`gptcourse.ch01_evaluation`    exact match and token accuracy by source length (chapters 1-3)
- :mod:`gptcourse.ch02_attention`     additive and dot-product attention, the attention decoder
- :mod:`gptcourse.ch03_transformer`   scaled dot-product and multi-head attention, positional encoding, the Transformer
- :mod:`gptcourse.ch04_gpt1`          GPT-1: the decoder-only model, its objectives L1, L2, L3, the classifier head
- :mod:`gptcourse.ch04_bpe`           byte-pair encoding on words, GPT-1 style
- :mod:`gptcourse.ch04_pretraining`   pre-training with L1, GPT-1's schedule, the shipped toy GPT-1
- :mod:`gptcourse.ch04_finetune`      input transformations, fine-tuning with L3, the few-label experiments
- :mod:`gptcourse.ch05_gpt2`          GPT-2: pre-LN blocks, parameter counts, the KV cache
- :mod:`gptcourse.ch05_tied_loss`     the tied head's cross-entropy in cache-sized slices
- :mod:`gptcourse.ch05_generation`    one cached decoding step, top-k, nucleus sampling, generate
- :mod:`gptcourse.ch05_checkpoints`   Hugging Face GPT-2 checkpoints in both directions, offline
- :mod:`gptcourse.ch05_bpe`           GPT-2's byte-level BPE tokenizer, offline
- :mod:`gptcourse.ch05_experiments`   the small GPT-2 with the real tokenizer; pre-LN against post-LN
- :mod:`gptcourse.ch06_zeroshot`      zero-shot and few-shot scoring by language-model likelihood
- :mod:`gptcourse.ch06_evaluation`    the Table-3-shaped comparison on mini-WebText, few-shot, TL;DR
- :mod:`gptcourse.ch06_models`        the four GPT-2s of chapter 6, how they were trained
- :mod:`gptcourse.data`               the generated data sets of every chapter
- :mod:`gptcourse.training`           shared plumbing: padding, random windows, the training loop, the training cache
- :mod:`gptcourse.saving`             the one checkpoint format (safetensors + JSON)
- :mod:`gptcourse.testing`            tiny language models with known answers, for the tests
- :mod:`gptcourse.style`              the one plotting style every figure uses
- :mod:`gptcourse.tables`             the one way a page makes a table (Markdown)
- :mod:`gptcourse.checks`             the assertions the exercise tests use (they explain what went wrong)

``python -m gptcourse pretrain ch04|ch05|ch06`` remakes the shipped checkpoints.
"""

from __future__ import annotations

import io
import os
import random
import sys
from importlib import metadata
from typing import Any, Iterable

#: The course package's version: the one place it is written (pyproject.toml reads it from here).
__version__ = "0.2.0"
#: The Python and PyTorch versions the course supports (refused at import when older).
PYTHON_MIN = (3, 10)
TORCH_MIN = (2, 4)


def _check_versions(python: tuple = tuple(sys.version_info[:2]), torch_version: str | None = None) -> None:
    """Refuse, with the supported range, a Python or PyTorch the course does not support."""
    if python < PYTHON_MIN:
        raise ImportError(
            f"gptcourse {__version__} needs Python {PYTHON_MIN[0]}.{PYTHON_MIN[1]} or newer; "
            f"this is Python {python[0]}.{python[1]}."
        )
    if torch_version is None:
        try:
            torch_version = metadata.version("torch")
        except metadata.PackageNotFoundError:
            raise ImportError(
                f"gptcourse needs PyTorch {TORCH_MIN[0]}.{TORCH_MIN[1]} or newer, and it is not "
                "installed: install torch for your machine (pip install torch), then "
                "gptcourse."
            ) from None
    parts = [int(p) for p in torch_version.split("+")[0].split(".")[:2] if p.isdigit()]
    if len(parts) == 2 and tuple(parts) < TORCH_MIN:
        raise ImportError(
            f"gptcourse {__version__} needs torch {TORCH_MIN[0]}.{TORCH_MIN[1]} or newer; this "
            f"environment has torch {torch_version}. Upgrade it (pip install --upgrade torch) "
            "and restart the kernel."
        )


_check_versions()

from tqdm.std import tqdm as _TextBar  # noqa: E402 - after the version check, which needs nothing


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


class _FinalStateBar(_TextBar):
    """A text tqdm bar that prints only its final state, once (for pages rendered once)."""

    def __init__(self, *args, **kwargs):
        kwargs["file"] = io.StringIO()  # the live updates go nowhere
        kwargs.setdefault("ascii", False)  # the final line keeps the block characters of a terminal's bar
        super().__init__(*args, **kwargs)

    def close(self):
        final = None if self.disable else str(self)
        super().close()
        if final is not None:
            print(final, flush=True)


def progress(iterable: Iterable[Any], **kwargs: Any) -> _TextBar:
    """A tqdm progress bar over ``iterable``: a widget in Jupyter, text in a terminal.

    On the book's pages (their build sets ``GPTCOURSE_TEXT_PROGRESS=1``) it prints only the bar's final
    state, once, to stdout, e.g. "seq2seq: 100%|██████████| 300/300 [00:14<00:00, 21.2it/s]": a static
    page cannot run a widget, and would show every intermediate state of a text bar as a line of its own.
    """
    if os.environ.get("GPTCOURSE_TEXT_PROGRESS"):
        return _FinalStateBar(iterable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def default_device() -> str:
    """The best device PyTorch sees: ``"cuda"``, then ``"mps"``, else ``"cpu"``; ``$GPTCOURSE_DEVICE`` forces one.

    The course never needs an accelerator; this only lets the same code use one.
    """
    import torch

    forced = os.environ.get("GPTCOURSE_DEVICE", "").strip()
    if forced:
        torch.device(forced)  # a bad name fails here, with PyTorch's own message
        return forced

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
