"""Chapter 2: attention (Bahdanau et al. 2015; Luong et al. 2015).

Chapter 1's decoder sees the source only through one vector c = h_S. With attention it gets a
fresh context vector at every step t, a weighted average of *all* encoder states h_1..h_S:

    e_ti     = score(s_{t-1}, h_i)                          how well h_i matches what step t needs
    alpha_ti = exp(e_ti) / sum_j exp(e_tj)                  softmax over source positions (padding masked)
    c_t      = sum_i alpha_ti h_i                           the context vector of step t

with the scores

    additive (Bahdanau):  score(s, h) = v^T tanh(W_q s + W_k h)
    dot      (Luong):     score(s, h) = s^T h

Read as a soft dictionary lookup: the decoder state is the *query*, the encoder states are the
*keys* (compared with the query) and the *values* (averaged with the weights alpha). The decoder
step is chapter 1's, with c replaced by c_t: s_t = GRU([E_tgt[y_{t-1}]; c_t], s_{t-1}),
logits = W_o [s_t; c_t] + b_o. (Luong et al. score the current state s_t; scoring s_{t-1}, as
Bahdanau et al. do, lets both scores share one decoder.)
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn as nn

from gptcourse import style
from gptcourse.ch01_seq2seq import DecoderStep, Encoder, TrainConfig, greedy_decode, train
from gptcourse.data.translation_task import Pair, TranslationTask, Vocab, reference_alignment
from gptcourse.training import train_cached

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes


@dataclass
class AttentionConfig:
    src_vocab_size: int
    tgt_vocab_size: int
    d_emb: int = 32
    d_hidden: int = 64
    d_attn: int = 64  # size of the additive score's hidden layer (W_q s + W_k h)
    score: str = "additive"  # or "dot"
    pad_id: int = Vocab.pad_id


def soft_lookup(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A dictionary lookup made differentiable: softmax(keys . query)-weighted average of the values.

    query (H,), keys (S, H), values (S, D) -> (D,). A Python dict returns the value whose key
    *equals* the query; this returns a blend, weighted by how well each key matches.
    """
    weights = torch.softmax(keys @ query, dim=0)
    return weights @ values


def dot_score(query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """e_i = s^T h_i for every source position: query (B, H), keys (B, S, H) -> scores (B, S)."""
    return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)


class AdditiveScore(nn.Module):
    """e_i = v^T tanh(W_q s + W_k h_i) (Bahdanau et al. 2015): query (B, Hq), keys (B, S, Hk) -> (B, S)."""

    def __init__(self, d_query: int, d_key: int, d_attn: int) -> None:
        super().__init__()
        self.W_q = nn.Linear(d_query, d_attn, bias=False)
        self.W_k = nn.Linear(d_key, d_attn, bias=False)
        self.v = nn.Linear(d_attn, 1, bias=False)

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.W_q(query).unsqueeze(1) + self.W_k(keys))
        return self.v(hidden).squeeze(-1)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """alpha_i = exp(e_i) / sum_j exp(e_j) over the real positions; padded positions get exactly 0.

    scores (B, S); mask (B, S) bool, True at real source words.
    """
    scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


def context_vector(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """c = sum_i alpha_i h_i: weights (B, S), values (B, S, H) -> (B, H)."""
    return torch.bmm(weights.unsqueeze(1), values).squeeze(1)


def source_mask(src_lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """(B, S) bool mask, True at the first src_lengths[b] positions of row b."""
    return torch.arange(max_len, device=src_lengths.device)[None, :] < src_lengths[:, None]


class AttentionDecoderStep(nn.Module):
    """One step with attention: c_t from s_{t-1} and the encoder states, then chapter 1's decoder step with c_t."""

    def __init__(
        self, vocab_size: int, d_emb: int, d_hidden: int, d_attn: int, score: str = "additive", pad_id: int = 0
    ) -> None:
        super().__init__()
        self.score = AdditiveScore(d_hidden, d_hidden, d_attn) if score == "additive" else dot_score
        self.step = DecoderStep(vocab_size, d_emb, d_hidden, d_hidden, pad_id)

    def forward(
        self, y_prev: torch.Tensor, s_prev: torch.Tensor, enc_states: torch.Tensor, src_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns logits (B, V), s_t (B, H) and the attention weights alpha_t (B, S)."""
        alpha = masked_softmax(self.score(s_prev, enc_states), src_mask)
        context = context_vector(alpha, enc_states)
        logits, s = self.step(y_prev, s_prev, context)
        return logits, s, alpha


class AttentionSeq2Seq(nn.Module):
    """Chapter 1's encoder and decoder, the decoder attending to every encoder state at every step."""

    def __init__(self, config: AttentionConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.src_vocab_size, config.d_emb, config.d_hidden, config.pad_id)
        self.decoder = AttentionDecoderStep(
            config.tgt_vocab_size, config.d_emb, config.d_hidden, config.d_attn, config.score, config.pad_id
        )

    def encode(
        self, src: torch.Tensor, src_lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, None]:
        """The decoder's state: (s_0 = h_S, all encoder states, the source mask, the last weights)."""
        states, last = self.encoder(src, src_lengths)
        return last, states, source_mask(src_lengths, src.size(1)), None

    def step(
        self, y_prev: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        s_prev, states, mask, _ = state
        logits, s, alpha = self.decoder(y_prev, s_prev, states, mask)
        return logits, (s, states, mask, alpha)


class _RecordingSteps:
    """The model as chapter 1's ``greedy_decode`` sees it (``encode`` and ``step``), keeping each step's weights."""

    def __init__(self, model):
        self.model, self.weights = model, []

    def encode(self, src, src_lengths):
        return self.model.encode(src, src_lengths)

    def step(self, y_prev, state):
        logits, state = self.model.step(y_prev, state)
        self.weights.append(state[3])  # alpha_t
        return logits, state


def greedy_decode_with_attention(
    model: nn.Module, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int, sos_id: int = 1, eos_id: int = 2
) -> tuple[torch.Tensor, torch.Tensor]:
    """Chapter 1's greedy decoding, also returning the attention weights: ids (B, T) and alpha (B, T, S)."""
    recorder = _RecordingSteps(model)
    ids = greedy_decode(recorder, src, src_lengths, max_len, sos_id, eos_id)
    return ids, torch.stack(recorder.weights, dim=1)


def alignment(
    model: nn.Module, task: TranslationTask, source_words: Sequence[str], extra_words: int = 5
) -> tuple[list[str], torch.Tensor]:
    """Translate one sentence; returns (predicted words, weights (len(pred)+1, len(source))) incl. the ``<eos>`` row."""
    model.eval()
    batch = task.collate([(list(source_words), [])])
    device = next(model.parameters()).device
    ids, weights = greedy_decode_with_attention(
        model, batch.src.to(device), batch.src_lengths.to(device), max_len=len(source_words) + extra_words
    )
    words = task.tgt_vocab.decode(ids[0])
    return words, weights[0, : len(words) + 1].cpu()


def build_and_train(
    task: TranslationTask,
    model_config: AttentionConfig | None = None,
    train_config: TrainConfig = TrainConfig(),
    show_progress: bool = True,
    reuse: bool = False,
) -> tuple[AttentionSeq2Seq, list[float]]:
    """Chapter 2's experiment: a seeded :class:`AttentionSeq2Seq` trained like chapter 1's model.

    ``reuse=True`` loads the model this very call trained before, if it is kept on disk (:func:`train_cached`).
    """
    model_config = model_config or AttentionConfig(len(task.src_vocab), len(task.tgt_vocab))
    return train_cached(
        "ch02_attention",
        task,
        lambda: AttentionSeq2Seq(model_config),
        lambda model: train(model, task, train_config, show_progress, desc=f"attention ({model_config.score})"),
        model_config,
        train_config,
        seed=train_config.seed,
        reuse=reuse,
    )


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    source_words: Sequence[str],
    target_words: Sequence[str],
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Heatmap of attention weights: one row per target word (and ``<eos>``), one column per source word.

    Brightness (viridis, 0 to 1) shows the weight, and a dot marks each row's largest weight
    (:func:`mark_row_peaks`), so the peaks read without colour. A translation cut off at the length limit
    has no ``<eos>`` step: its weights have one row per word.
    """
    style.use()
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    rows = (list(target_words) + ["<eos>"])[: len(weights)]
    if ax is None:
        _, ax = style.figure(figsize=(0.42 * len(source_words) + 1.6, 0.36 * len(rows) + 1.2))
    ax.imshow(weights[: len(rows)], cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    mark_row_peaks(ax, weights[: len(rows)])
    ax.set_xticks(range(len(source_words)), source_words, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.grid(False)
    ax.set_xlabel("source (keys)")
    ax.set_ylabel("output (queries)")
    if title:  # wrapped to the width of the heatmap, so a long sentence does not shrink the figure
        ax.set_title("\n".join(textwrap.wrap(title, width=max(40, 6 * len(source_words)))), fontsize=9)
    return ax


def alignment_accuracy(
    model: nn.Module, task: TranslationTask, pairs: Sequence[Pair], batch_size: int = 200
) -> tuple[float, float]:
    """How often the largest weight of a row falls on the source word that the row's output word translates
    (:func:`gptcourse.data.translation_task.reference_alignment` knows which one).

    Decodes ``pairs`` greedily in batches; for each output word up to the reference's length, the row's
    argmax over the source is compared with the true source position. Returns (the fraction exactly on it,
    the fraction on it or on a neighbouring word).
    """
    hits = near = total = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i : i + batch_size]
        batch = task.collate(chunk)
        _, weights = greedy_decode_with_attention(model, batch.src, batch.src_lengths, max_len=batch.src.size(1) + 1)
        for row, (source, target) in enumerate(chunk):
            truth = reference_alignment(source)
            peaks = weights[row, : len(target)].argmax(-1).tolist()
            hits += sum(p == a for p, a in zip(peaks, truth, strict=False))
            near += sum(abs(p - a) <= 1 for p, a in zip(peaks, truth, strict=False))
            total += len(peaks)
    return hits / total, near / total


def wrong_length_fraction(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    """The fraction of translations that have a different number of words than their reference."""
    if len(predictions) != len(references) or not references:
        raise ValueError(f"need as many predictions as references (>0), got {len(predictions)} and {len(references)}")
    return sum(len(p) != len(r) for p, r in zip(predictions, references, strict=True)) / len(references)


def length_verdict(attention_drop: float, seq2seq_drop: float, language: str = "en") -> str:
    """Chapter 2's verdict on long sentences: how the attention model's exact match changes from the shortest
    length bucket to the longest (``attention_drop``, a fraction), against seq2seq's (``seq2seq_drop``).

    Under 10 percentage points it "barely moves"; otherwise it falls, less than seq2seq's or not.
    ``language="ko"`` gives the Korean verdict, the end of the Korean page's sentence "... 완전 일치는 ..."
    (합니다체); the numbers are the same in both languages.
    """
    if language not in ("en", "ko"):
        raise ValueError(f"language must be 'en' or 'ko', got {language!r}")
    if language == "ko":
        if attention_drop < 0.1:
            return "거의 변하지 않습니다"
        if attention_drop < seq2seq_drop:
            return (
                f"역시 {100 * attention_drop:.0f}퍼센트포인트 떨어지지만, seq2seq의 "
                f"{100 * seq2seq_drop:.0f}퍼센트포인트보다는 훨씬 덜 떨어집니다"
            )
        return f"{100 * attention_drop:.0f}퍼센트포인트 떨어집니다. seq2seq보다 덜 떨어지지 않습니다"
    if attention_drop < 0.1:
        return "barely moves"
    if attention_drop < seq2seq_drop:
        return (
            f"falls too, by {100 * attention_drop:.0f} percentage points, but far less than seq2seq's "
            f"{100 * seq2seq_drop:.0f}"
        )
    return f"falls by {100 * attention_drop:.0f} percentage points, no less than seq2seq's"


def beyond_verdict(attention_accuracy: float, seq2seq_accuracy: float, language: str = "en") -> str:
    """Chapter 2's verdict on the sentences longer than any training sentence, from the two models' token
    accuracies there: does attention degrade more gracefully? ``language="ko"`` gives it in Korean, as a
    sentence in 합니다체 without its full stop."""
    if language not in ("en", "ko"):
        raise ValueError(f"language must be 'en' or 'ko', got {language!r}")
    if language == "ko":
        if attention_accuracy > seq2seq_accuracy:
            return "어텐션 모델의 성능이 더 완만하게 떨어집니다"
        return "어텐션 모델도 더 낫지 않습니다"
    if attention_accuracy > seq2seq_accuracy:
        return "attention degrades more gracefully"
    return "attention does no better"


def mark_row_peaks(ax: Axes, weights: torch.Tensor | np.ndarray) -> None:
    """Put a white dot with a black rim on the largest weight of every row of a heatmap drawn with
    ``ax.imshow(weights)``: where each query looks most, legible without telling colours apart."""
    if isinstance(weights, torch.Tensor):
        weights = weights.detach().cpu().numpy()
    rows = range(len(weights))
    ax.plot(weights.argmax(-1), rows, "o", ms=4, mfc="white", mec="black", mew=0.8)
