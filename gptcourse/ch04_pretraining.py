"""Chapter 4: generative pre-training (L1) and the small GPT-1 the course ships.

- :func:`gpt1_lr`: GPT-1's learning-rate schedule, linear warm-up then cosine (pre-training) or linear
  (fine-tuning) decay to 0 (section 4.1);
- :class:`PretrainSettings` and :func:`pretrain`: Adam on L1 over random windows of a token stream; any
  language model that maps ids (B, L) to logits (B, L, V) (chapter 5's GPT-2 and chapter 6's models too);
- the shipped toy GPT-1: :func:`build_tokenizer` and :func:`corpus_stream` (chapter 4's BPE on the
  unlabelled corpus of :mod:`gptcourse.data.gpt1_data`), :func:`run_pretraining` with :data:`TOY_GPT1`,
  :func:`save_pretrained` / :func:`load_pretrained` (``python -m gptcourse pretrain ch04`` reproduces it).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from gptcourse.ch04_bpe import BPETokenizer, learn_bpe
from gptcourse.ch04_gpt1 import GPT1, GPT1Config, lm_loss, toy_config
from gptcourse.data.gpt1_data import unlabelled_corpus
from gptcourse.saving import read_checkpoint, save_checkpoint
from gptcourse.training import fit, random_windows


def gpt1_lr(step: int, max_lr: float, warmup: int, total: int, decay: str = "cosine") -> float:
    """The learning rate at update ``step`` (0-based): linear warm-up over ``warmup`` updates to ``max_lr``,
    then to 0 at ``total`` along a cosine (pre-training, section 4.1) or a line (fine-tuning)."""
    s = step + 1
    if s <= warmup:
        return max_lr * s / warmup
    progress = min(1.0, (s - warmup) / max(1, total - warmup))
    if decay == "cosine":
        return max_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return max_lr * (1.0 - progress)


@dataclass(frozen=True)
class PretrainSettings:
    """How :func:`pretrain` runs: ``steps`` Adam updates on ``batch_size`` random windows of ``seq_len``
    tokens, GPT-1's schedule (warm-up over ``warmup`` updates to ``max_lr``, cosine to 0); the windows
    depend only on ``seed``; the loss is recorded every ``log_every`` updates."""

    steps: int = 3000
    batch_size: int = 32
    seq_len: int = 64
    max_lr: float = 2.5e-3
    warmup: int = 100
    seed: int = 0
    log_every: int = 1


def pretrain(
    model: torch.nn.Module,
    stream: torch.Tensor,
    settings: PretrainSettings = PretrainSettings(),
    show_progress: bool = True,
) -> list[float]:
    """Pre-train ``model`` with L1 on random windows of the token ``stream`` (a 1-D LongTensor).

    Returns the training loss (-L1 per token, in nats) every ``settings.log_every`` updates.
    """
    s = settings
    generator = torch.Generator().manual_seed(s.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=s.max_lr)
    device = next(model.parameters()).device
    windows = iter(lambda: random_windows(stream, s.batch_size, s.seq_len, generator).to(device), None)
    return fit(
        model,
        windows,
        lambda m, U: lm_loss(m(U), U),
        optimizer,
        s.steps,
        lr_at=lambda step: gpt1_lr(step, s.max_lr, s.warmup, s.steps, "cosine"),
        log_every=s.log_every,
        desc="pre-training (L1)",
        show_progress=show_progress,
    )


# ---------------------------------------------------------------------------------------------
# The shipped toy GPT-1 and how it was made
# ---------------------------------------------------------------------------------------------

PRETRAINED_DIR = Path(__file__).parent / "checkpoints" / "ch04" / "gpt1_toy"
#: The BPE merges of the course tokenizer, and how the shipped checkpoint was pre-trained.
N_MERGES = 400
TOY_GPT1 = PretrainSettings(steps=3000, batch_size=32, seq_len=64, max_lr=2.5e-3, warmup=100, seed=0)


def build_tokenizer(n_merges: int = N_MERGES) -> BPETokenizer:
    """The course tokenizer: ``n_merges`` BPE merges learned on the unlabelled corpus."""
    return BPETokenizer(*learn_bpe(unlabelled_corpus(), n_merges))


def corpus_stream(tok: BPETokenizer) -> torch.Tensor:
    """The unlabelled corpus as one long 1-D tensor of token ids (documents back to back)."""
    return torch.tensor(tok.encode(" ".join(unlabelled_corpus())), dtype=torch.long)


def run_pretraining(
    settings: PretrainSettings = TOY_GPT1, n_merges: int = N_MERGES, device: str = "cpu", show_progress: bool = True
) -> tuple[GPT1, BPETokenizer, dict]:
    """Tokenizer + pre-trained toy GPT-1 from scratch (deterministic for a seed); trains on ``device``,
    returns the model on the CPU, the tokenizer and how the run went."""
    tok = build_tokenizer(n_merges)
    torch.manual_seed(settings.seed)
    model = GPT1(toy_config(tok.vocab_size)).to(device)
    start = time.perf_counter()
    losses = pretrain(model, corpus_stream(tok), settings, show_progress)
    info = {
        "settings": {"n_merges": n_merges, **asdict(settings)},
        "losses": losses,
        "seconds": time.perf_counter() - start,
        "torch": str(torch.__version__),
        "device": str(device),
    }
    return model.cpu(), tok, info


def save_pretrained(folder: str | Path, model: GPT1, tok: BPETokenizer, info: dict) -> Path:
    """The course's checkpoint format (:mod:`gptcourse.saving`): weights as float16, to keep the file small."""
    return save_checkpoint(
        folder,
        model.state_dict(),
        {"model": "GPT1", **asdict(model.config)},
        {"tokenizer": tok.to_dict(), "info": info},
        dtype=torch.float16,
    )


def load_pretrained(folder: str | Path = PRETRAINED_DIR) -> tuple[GPT1, BPETokenizer, dict]:
    """(model, tokenizer, info) from a checkpoint folder, default the shipped one; the model is float32, in eval mode."""
    state, config, course = read_checkpoint(folder)
    config.pop("model", None)
    model = GPT1(GPT1Config(**config))
    model.load_state_dict(state)
    return model.eval(), BPETokenizer.from_dict(course["tokenizer"]), course["info"]
