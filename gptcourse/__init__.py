"""From Seq2Seq to GPT-2: the course package.

One module per chapter, read top to bottom; each implementation is written once and
later chapters import it.

- :mod:`gptcourse.ch00_lm`            softmax, the count-based language model and L1
- :mod:`gptcourse.translation_task`   the toy translation task of chapters 1-3 (data, splits, metrics)
- :mod:`gptcourse.ch01_seq2seq`       the GRU encoder-decoder, teacher forcing, greedy decoding
- :mod:`gptcourse.ch02_attention`     additive and dot-product attention, the attention decoder
- :mod:`gptcourse.ch03_transformer`   scaled dot-product and multi-head attention, positional encoding, the Transformer
- :mod:`gptcourse.gpt1_data`          the toy pre-training corpus and the small labelled tasks of chapter 4
- :mod:`gptcourse.ch04_gpt1`          GPT-1: the decoder-only model, pre-training, fine-tuning with the auxiliary LM loss
- :mod:`gptcourse.ch05_gpt2`          GPT-2: pre-LN blocks, parameter counts, the weight loader, sampling, the KV cache
- :mod:`gptcourse.ch05_bpe`           GPT-2's byte-level BPE tokenizer, offline
- :mod:`gptcourse.mini_webtext`       the generated "mini-WebText" corpus and its zero-shot evaluation sets
- :mod:`gptcourse.ch06_zeroshot`      zero-shot and few-shot evaluation by language-model likelihood
- :mod:`gptcourse.style`              the one plotting style every figure uses
- :mod:`gptcourse.checks`             the assertions the exercise tests use (they explain what went wrong)
"""

import io
import os
import random

from tqdm.std import tqdm as _TextBar

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


def progress(iterable, **kwargs):
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
    """The best device PyTorch sees: ``"cuda"``, then ``"mps"``, else ``"cpu"``.

    The course never needs an accelerator; this only lets the same code use one.
    """
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"
