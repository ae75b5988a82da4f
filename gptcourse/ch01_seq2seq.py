"""Chapter 1: sequence to sequence with a recurrent encoder and decoder (Cho et al. 2014; Sutskever et al. 2014).

The encoder reads the source x_1 ... x_S one word at a time,

    h_s = GRU(E_src[x_s], h_{s-1}),        h_0 = 0,

and its last state is the **context vector** c = h_S: the whole sentence squeezed into one vector.
The decoder starts from s_0 = c and the token ``<sos>`` and, at every step t,

    s_t = GRU([E_tgt[y_{t-1}]; c], s_{t-1}),      P(y_t | y_<t, x) = softmax(W_o [s_t; c] + b_o),

(c enters every step, as in Cho et al. 2014). It stops when it emits ``<eos>``. Training uses
**teacher forcing**: the decoder's input at step t is the *reference* word y_{t-1}, not its own
guess, and the loss is the cross-entropy of every reference word, padding excluded. At test time
**greedy decoding** feeds back the most probable word until ``<eos>``.

Every sentence must pass through the d_hidden numbers of c, whatever its length: the bottleneck
that chapter 2's attention removes. Any model with the two methods

    encode(src, src_lengths) -> state         step(y_prev, state) -> (logits, state)

can be trained and decoded by :func:`teacher_forcing_logits`, :func:`train` and
:func:`greedy_decode` here; chapter 2's attention model is one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from gptcourse.data.translation_task import Batch, TranslationTask, Vocab
from gptcourse.training import fit, train_cached


@dataclass
class Seq2SeqConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    d_emb: int = 32  # size of the word embeddings E_src, E_tgt
    d_hidden: int = 64  # size of h_s, s_t and the context vector c
    pad_id: int = Vocab.pad_id


class Encoder(nn.Module):
    """h_s = GRU(E_src[x_s], h_{s-1}); returns all states h_1..h_S and the context c = h_S of each sentence."""

    def __init__(self, vocab_size: int, d_emb: int, d_hidden: int, pad_id: int = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_emb, padding_idx=pad_id)
        self.rnn = nn.GRU(d_emb, d_hidden, batch_first=True)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """src (B, S) ids, right-padded; src_lengths (B,). Returns states (B, S, H) and context (B, H)."""
        states, _ = self.rnn(self.embed(src))
        # the state after each sentence's last real word (padding comes after it, so it is untouched)
        context = states[torch.arange(src.size(0)), src_lengths - 1]
        return states, context


class DecoderStep(nn.Module):
    """One decoder step: s_t = GRU([E_tgt[y_{t-1}]; c], s_{t-1}), logits = W_o [s_t; c] + b_o."""

    def __init__(self, vocab_size: int, d_emb: int, d_hidden: int, d_context: int, pad_id: int = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_emb, padding_idx=pad_id)
        self.cell = nn.GRUCell(d_emb + d_context, d_hidden)
        self.out = nn.Linear(d_hidden + d_context, vocab_size)

    def forward(
        self, y_prev: torch.Tensor, s_prev: torch.Tensor, context: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """y_prev (B,) ids, s_prev (B, H), context (B, C). Returns logits (B, V) and s_t (B, H)."""
        x = torch.cat([self.embed(y_prev), context], dim=-1)
        s = self.cell(x, s_prev)
        logits = self.out(torch.cat([s, context], dim=-1))
        return logits, s


class Seq2Seq(nn.Module):
    """The encoder-decoder: the decoder sees the source only through the context vector c."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.src_vocab_size, config.d_emb, config.d_hidden, config.pad_id)
        self.decoder = DecoderStep(config.tgt_vocab_size, config.d_emb, config.d_hidden, config.d_hidden, config.pad_id)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The decoder's starting state: (s_0, c) with s_0 = c."""
        _, context = self.encoder(src, src_lengths)
        return context, context

    def step(
        self, y_prev: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        s_prev, context = state
        logits, s = self.decoder(y_prev, s_prev, context)
        return logits, (s, context)


def teacher_forcing_logits(
    model: nn.Module, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor
) -> torch.Tensor:
    """Run the decoder over the reference inputs ``<sos> y_1 .. y_n``: logits (B, T, V) for y_1 .. y_n ``<eos>``."""
    state = model.encode(src, src_lengths)
    logits = []
    for t in range(tgt_in.size(1)):
        logits_t, state = model.step(tgt_in[:, t], state)
        logits.append(logits_t)
    return torch.stack(logits, dim=1)


def masked_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Mean of -log P(y_t) over the real (non-``<pad>``) target positions.

    logits (B, T, V), targets (B, T). Padding positions add nothing and do not count in the mean.
    """
    log_probs = F.log_softmax(logits, dim=-1)
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    mask = (targets != pad_id).float()
    return (nll * mask).sum() / mask.sum()


def seq2seq_loss(model: nn.Module, batch: Batch, pad_id: int = 0) -> torch.Tensor:
    """The teacher-forced training loss of one :class:`~gptcourse.data.translation_task.Batch`."""
    logits = teacher_forcing_logits(model, batch.src, batch.src_lengths, batch.tgt_in)
    return masked_cross_entropy(logits, batch.tgt_out, pad_id)


@torch.no_grad()
def greedy_decode(
    model: Any, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int, sos_id: int = 1, eos_id: int = 2
) -> torch.Tensor:
    """Translate by feeding back the most probable word, from ``<sos>`` until ``<eos>`` (or ``max_len`` words).

    Returns a (B, T) LongTensor of predicted ids, T <= max_len; a sentence's ids stop at its first
    ``<eos>``, after which it holds ``<eos>``. Stops early once every sentence has ended.
    """
    state = model.encode(src, src_lengths)
    y = torch.full((src.size(0),), sos_id, dtype=torch.long, device=src.device)
    done = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_len):
        logits, state = model.step(y, state)
        y = logits.argmax(dim=-1).masked_fill(done, eos_id)
        out.append(y)
        done = done | (y == eos_id)
        if done.all():
            break
    return torch.stack(out, dim=1)


def translator(
    model: nn.Module, task: TranslationTask, extra_words: int = 5
) -> Callable[[list[list[str]]], list[list[str]]]:
    """A function list-of-source-word-lists -> list-of-predicted-word-lists (for :func:`gptcourse.ch01_evaluation.evaluate`)."""

    def translate_fn(sources):
        model.eval()
        batch = task.collate([(s, []) for s in sources])
        device = next(model.parameters()).device
        ids = greedy_decode(
            model, batch.src.to(device), batch.src_lengths.to(device), max_len=batch.src.size(1) + extra_words
        )
        return [task.tgt_vocab.decode(row) for row in ids.cpu()]

    return translate_fn


@dataclass(frozen=True)
class TrainConfig:
    """The training budget chapters 1-3 share: 300 Adam steps of 128 sentences (about two passes over ``train``)."""

    steps: int = 300
    batch_size: int = 128
    lr: float = 5e-3
    clip: float = 1.0  # gradient-norm clipping, the usual guard for RNNs
    seed: int = 0


def train(
    model: nn.Module,
    task: TranslationTask,
    config: TrainConfig = TrainConfig(),
    show_progress: bool = True,
    desc: str = "training",
) -> list[float]:
    """Adam on the teacher-forced loss over ``config.steps`` batches of the training split.

    Returns the loss of every step. Deterministic for a given ``config.seed`` (on one device).
    """
    torch.manual_seed(config.seed)
    device = next(model.parameters()).device
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    batches = task.endless_batches("train", config.batch_size, seed=config.seed)
    return fit(
        model,
        batches,
        lambda m, batch: seq2seq_loss(m, batch.to(device), m.config.pad_id),
        optimizer,
        config.steps,
        clip=config.clip,
        desc=desc,
        show_progress=show_progress,
    )


def build_and_train(
    task: TranslationTask,
    model_config: Seq2SeqConfig | None = None,
    train_config: TrainConfig = TrainConfig(),
    show_progress: bool = True,
    reuse: bool = False,
) -> tuple[Seq2Seq, list[float]]:
    """Chapter 1's experiment in one call: a seeded :class:`Seq2Seq`, trained; returns (model, losses).

    ``reuse=True`` loads the model this very call trained before, if it is kept on disk (:func:`train_cached`).
    """
    model_config = model_config or Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab))
    return train_cached(
        "ch01_seq2seq",
        task,
        lambda: Seq2Seq(model_config),
        lambda model: train(model, task, train_config, show_progress, desc="seq2seq"),
        model_config,
        train_config,
        seed=train_config.seed,
        reuse=reuse,
    )
