"""Chapter 6's models: chapter 5's GPT-2 at four sizes, pre-trained on mini-WebText, and how they were made.

The models are tokenised with chapter 4's BPE (:data:`N_MERGES` merges learned on the mini-WebText
training text) and pre-trained with chapter 4's loop (:data:`TRAINING`, the same for every size);
:data:`SIZES` grow layers and width together, as the paper's Table 2 does. :func:`train_all` makes the
shipped checkpoints (``python -m gptcourse pretrain ch06``; deterministic for a given machine, torch
version and thread count; the shipped ones used one thread), :func:`load_models` loads them. Each is
stored in Hugging Face's GPT-2 layout (:mod:`gptcourse.saving`), the tokenizer beside them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Iterable

import torch

from gptcourse.ch04_bpe import BPETokenizer, learn_bpe
from gptcourse.ch04_pretraining import PretrainSettings, pretrain
from gptcourse.ch05_checkpoints import load_gpt2, save_gpt2
from gptcourse.ch05_gpt2 import GPT2, GPT2Config
from gptcourse.data import mini_webtext as mw

N_MERGES = 800  # chapter 4's BPE on the mini-WebText training text: most words become one token
N_CTX = 128

#: The four sizes (layers and width grow together, as in the paper's Table 2).
SIZES = {
    "tiny": dict(n_layers=1, n_heads=2, d_model=32),
    "small": dict(n_layers=2, n_heads=2, d_model=48),
    "medium": dict(n_layers=3, n_heads=4, d_model=64),
    "large": dict(n_layers=4, n_heads=4, d_model=96),
}
#: How the shipped checkpoints were trained (every size the same data, steps and schedule).
TRAINING = PretrainSettings(steps=3000, batch_size=16, seq_len=N_CTX, max_lr=3e-3, warmup=100, seed=0, log_every=10)
CHECKPOINT_DIR = Path(__file__).with_name("checkpoints") / "ch06"


def model_config(size: str, vocab_size: int) -> GPT2Config:
    """The :class:`~gptcourse.ch05_gpt2.GPT2Config` of one of :data:`SIZES` (no dropout: the models underfit)."""
    return GPT2Config(vocab_size=vocab_size, n_ctx=N_CTX, dropout=0.0, **SIZES[size])


def build_tokenizer(n_merges: int = N_MERGES) -> BPETokenizer:
    """Chapter 4's BPE, learned on the mini-WebText training text."""
    return BPETokenizer(*learn_bpe([mw.training_text()], n_merges))


def train_model(
    size: str,
    tok: BPETokenizer,
    stream: torch.Tensor,
    settings: PretrainSettings = TRAINING,
    device: str = "cpu",
    show_progress: bool = True,
) -> tuple[GPT2, dict]:
    """A GPT-2 of ``size`` pre-trained with L1 on ``stream`` (chapter 4's loop) on ``device``; returns
    (model on the CPU, info)."""
    torch.manual_seed(settings.seed)
    model = GPT2(model_config(size, tok.vocab_size)).to(device)
    start = time.perf_counter()
    losses = pretrain(model, stream, settings, show_progress)
    info = {
        "size": size,
        "settings": asdict(settings),
        "losses": losses,
        "seconds": time.perf_counter() - start,
        "device": str(device),
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": str(torch.__version__),
        "threads": torch.get_num_threads(),
    }
    return model.cpu().eval(), info


def train_all(
    out: str | Path = CHECKPOINT_DIR,
    sizes: Iterable[str] | None = None,
    settings: PretrainSettings = TRAINING,
    device: str = "cpu",
    show_progress: bool = True,
) -> None:
    """Train every size; save ``tokenizer.json`` and a checkpoint folder per size (weights in float16) in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    (out / "tokenizer.json").write_text(json.dumps(tok.to_dict()))
    stream = torch.tensor(tok.encode(mw.training_text()), dtype=torch.long)
    for size in sizes or SIZES:
        model, info = train_model(size, tok, stream, settings, device, show_progress)
        save_gpt2(model, out / size, course={"info": info}, dtype=torch.float16)
        print(
            f"{size}: {info['parameters']:,} parameters, final loss {sum(info['losses'][-10:]) / 10:.3f}, "
            f"{info['seconds']:.0f} s",
            flush=True,
        )


def load_tokenizer(folder: str | Path = CHECKPOINT_DIR) -> BPETokenizer:
    return BPETokenizer.from_dict(json.loads((Path(folder) / "tokenizer.json").read_text()))


def load_model(size: str, folder: str | Path = CHECKPOINT_DIR) -> tuple[GPT2, dict]:
    """(model, info) of a shipped checkpoint: float32, eval mode."""
    model, course = load_gpt2(Path(folder) / size, with_course=True)
    return model, course["info"]


def load_models(folder: str | Path = CHECKPOINT_DIR) -> tuple[dict[str, tuple[GPT2, dict]], BPETokenizer]:
    """{size: (model, info)} for every shipped size, smallest first, and the tokenizer."""
    return {size: load_model(size, folder) for size in SIZES}, load_tokenizer(folder)
