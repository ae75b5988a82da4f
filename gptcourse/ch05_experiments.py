"""Chapter 5's experiments: a small GPT-2 with the real tokenizer, and pre-LN against post-LN.

- :class:`ToyTokenizer`, :func:`toy_corpus`: chapter 4's corpus with GPT-2's real byte-level BPE,
  restricted to the few hundred tokens the corpus uses;
- :func:`train_toy_gpt2`: the small GPT-2 of :data:`TOY_SIZES` and :data:`TOY_TRAINING`, pre-trained with chapter 4's loop (the
  course ships it: :func:`load_toy_gpt2`; ``python -m gptcourse pretrain ch05`` reproduces it);
- :func:`deep_narrow_models`, :func:`train_recording_gradients`, :func:`block_grad_norms`: this chapter's
  pre-LN GPT-2 against chapter 4's post-LN GPT-1 at the same sizes, and the gradient of every block.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import torch
from torch.nn import functional as F

from gptcourse.ch04_gpt1 import GPT1, GPT1Config
from gptcourse.ch04_pretraining import PretrainSettings, pretrain
from gptcourse.ch05_bpe import ByteLevelBPE, load_gpt2_bpe
from gptcourse.ch05_checkpoints import load_gpt2, save_gpt2
from gptcourse.ch05_gpt2 import GPT2, GPT2Config
from gptcourse.data.gpt1_data import unlabelled_corpus
from gptcourse.training import fit, random_windows


class ToyTokenizer:
    """GPT-2's real tokenizer restricted to the tokens a corpus uses.

    Chapter 4's corpus needs only a few hundred of GPT-2's 50,257 tokens; a small model gets a
    vocabulary of just those (``gpt2_ids[i]`` is the GPT-2 id of the small model's token i), so
    its embedding is tiny. ``encode`` / ``decode`` go through the real byte-level BPE.
    """

    def __init__(self, gpt2_ids: Iterable[int], bpe: ByteLevelBPE | None = None) -> None:
        self.bpe = bpe or load_gpt2_bpe()
        self.gpt2_ids = [int(i) for i in gpt2_ids]
        self.index = {g: i for i, g in enumerate(self.gpt2_ids)}

    @property
    def vocab_size(self) -> int:
        return len(self.gpt2_ids)

    def encode(self, text: str) -> list[int]:
        """Text -> the small model's ids. A leading space is added if missing: in the corpus every word,
        the first of a document included, follows a space (GPT-2 has different tokens for "after" and " after")."""
        if not text.startswith(" "):
            text = " " + text
        ids = self.bpe.encode(text)
        unknown = [self.bpe.decoder[i] for i in ids if i not in self.index]
        if unknown:
            raise KeyError(f"the small model never saw the GPT-2 token(s) {unknown}; use words of chapter 4's corpus")
        return [self.index[i] for i in ids]

    def decode(self, ids: Iterable[int]) -> str:
        return self.bpe.decode([self.gpt2_ids[int(i)] for i in ids])


def toy_corpus() -> tuple[torch.Tensor, ToyTokenizer]:
    """Chapter 4's unlabelled corpus encoded with GPT-2's tokenizer: (stream of small ids, :class:`ToyTokenizer`)."""
    bpe = load_gpt2_bpe()
    ids = torch.tensor(bpe.encode(" ".join(unlabelled_corpus())))
    gpt2_ids, stream = torch.unique(ids, return_inverse=True)
    return stream, ToyTokenizer(gpt2_ids.tolist(), bpe)


TOY_GPT2_DIR = Path(__file__).with_name("checkpoints") / "ch05" / "gpt2_toy"


@dataclass(frozen=True)
class ToySizes:
    """The sizes of the small GPT-2 the course ships (its vocabulary is the corpus's tokens)."""

    n_layers: int = 4
    n_heads: int = 4
    d_model: int = 64
    n_ctx: int = 64
    dropout: float = 0.1

    def config(self, vocab_size: int) -> GPT2Config:
        return GPT2Config(vocab_size=vocab_size, **asdict(self))


TOY_SIZES = ToySizes()
#: How the shipped small GPT-2 was pre-trained (``python -m gptcourse pretrain ch05``), with chapter 4's loop.
TOY_TRAINING = PretrainSettings(steps=2000, batch_size=32, seq_len=64, max_lr=2.5e-3, warmup=100, seed=0)


def train_toy_gpt2(
    settings: PretrainSettings = TOY_TRAINING,
    sizes: ToySizes = TOY_SIZES,
    device: str = "cpu",
    show_progress: bool = True,
) -> tuple[GPT2, ToyTokenizer, dict]:
    """The small GPT-2, pre-trained from scratch on ``device``: (model on the CPU, tokenizer, info)."""
    stream, tok = toy_corpus()
    torch.manual_seed(settings.seed)
    model = GPT2(sizes.config(tok.vocab_size)).to(device)
    start = time.perf_counter()
    losses = pretrain(model, stream, settings, show_progress)
    info = {
        "settings": {**asdict(sizes), **asdict(settings)},
        "final_loss": sum(losses[-50:]) / 50,
        "seconds": time.perf_counter() - start,
        "device": str(device),
    }
    return model.cpu().eval(), tok, info


def save_toy_gpt2(folder: str | Path, model: GPT2, tok: ToyTokenizer, info: dict) -> Path:
    """Hugging Face's layout (so ``load_gpt2`` and ``GPT2LMHeadModel.from_pretrained`` both read it) + the token map."""
    return save_gpt2(model, folder, course={"gpt2_ids": tok.gpt2_ids, "info": info})


def load_toy_gpt2(folder: str | Path = TOY_GPT2_DIR) -> tuple[GPT2, ToyTokenizer, dict]:
    """(model, tokenizer, info) of the shipped small GPT-2, in eval mode."""
    model, course = load_gpt2(folder, with_course=True)
    return model, ToyTokenizer(course["gpt2_ids"]), course["info"]


def deep_narrow_models(
    vocab_size: int, n_layers: int = 12, d_model: int = 32, n_heads: int = 2, n_ctx: int = 32, seed: int = 0
) -> dict[str, GPT2 | GPT1]:
    """The pre-LN vs post-LN pair: GPT-2 (this chapter) and GPT-1 (chapter 4), the same sizes, no dropout.

    The only differences are the ones between the papers: where the LayerNorms sit (input of each
    sub-block + a final one, vs after each residual addition) and GPT-2's 1/sqrt(N) residual init.
    """
    torch.manual_seed(seed)
    pre = GPT2(
        GPT2Config(vocab_size=vocab_size, n_ctx=n_ctx, n_layers=n_layers, n_heads=n_heads, d_model=d_model, dropout=0.0)
    )
    torch.manual_seed(seed)
    post = GPT1(
        GPT1Config(
            vocab_size=vocab_size,
            n_ctx=n_ctx,
            d_model=d_model,
            n_layers=n_layers,
            n_heads=n_heads,
            d_ff=4 * d_model,
            dropout=0.0,
        )
    )
    return {"pre-LN (GPT-2)": pre, "post-LN (GPT-1)": post}


def block_grad_norms(model: GPT2 | GPT1) -> list[float]:
    """||dLoss/dtheta_l|| for the parameters theta_l of each block l (after ``backward``)."""
    return [
        math.sqrt(sum(float(p.grad.pow(2).sum()) for p in block.parameters() if p.grad is not None))
        for block in model.blocks
    ]


def train_recording_gradients(
    model: GPT2 | GPT1,
    stream: torch.Tensor,
    steps: int,
    lr: float,
    batch_size: int = 8,
    seq_len: int = 32,
    seed: int = 1,
    show_progress: bool = False,
) -> dict[str, list]:
    """Adam at a constant learning rate, no warm-up, on random windows of ``stream``.

    Returns ``{"loss": [...], "grad_norms": [[per block] per step]}``. The batches depend only on
    ``seed``, so two models trained with the same seed see exactly the same data.
    """
    g = torch.Generator().manual_seed(seed)
    grad_norms: list[list[float]] = []

    def next_token_loss(model: GPT2 | GPT1, U: torch.Tensor) -> torch.Tensor:
        logits = model(U[:, :-1])
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), U[:, 1:].reshape(-1))

    losses = fit(
        model,
        (random_windows(stream, batch_size, seq_len + 1, g) for _ in range(steps)),
        next_token_loss,
        torch.optim.Adam(model.parameters(), lr=lr),
        steps,
        after_backward=lambda model: grad_norms.append(block_grad_norms(model)),
        desc=f"{type(model).__name__}, lr {lr:g}",
        show_progress=show_progress,
    )
    history = {"loss": losses, "grad_norms": grad_norms}
    return history
