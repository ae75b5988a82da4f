"""Chapter 4: GPT-1 (Radford et al. 2018, "Improving Language Understanding by Generative Pre-Training").

GPT-1 keeps only the decoder of the Transformer (chapter 3), drops the cross-attention, and trains
it in two stages:

1. **Generative pre-training** on unlabelled text U = (u_1, ..., u_n): maximise
   L1(U) = sum_i log P(u_i | u_{i-k}, ..., u_{i-1}; Theta)  (eq. 1), with
   h_0 = U W_e + W_p,  h_l = transformer_block(h_{l-1}) for all l in [1, n],
   P(u) = softmax(h_n W_e^T)  (eq. 2): the output layer reuses the token embedding W_e (tied).
2. **Discriminative fine-tuning** on a labelled set C of (x^1 ... x^m, y): a linear layer W_y on
   the last token's final activation h_l^m, P(y | x^1 ... x^m) = softmax(h_l^m W_y)  (eq. 3),
   L2(C) = sum log P(y | x^1 ... x^m)  (eq. 4), and with the language model kept as an auxiliary
   objective, L3(C) = L2(C) + lam * L1(C)  (eq. 5, lam = 0.5).

Structured inputs (Figure 1) become one token sequence with three added tokens, ``[start]``,
``[delim]`` and ``[extract]``; the activation at ``[extract]`` is h_l^m.

API (read top to bottom; chapter 5 imports the model and the block)
-------------------------------------------------------------------
Model
  - :class:`GPT1Config`: sizes; the defaults are the paper's model (12 layers, d_model 768, 12 heads,
    d_ff 3072, context 512, dropout 0.1, init N(0, 0.02)) with the released vocabulary (40,478).
    :func:`toy_config` is the small one the course trains.
  - :class:`GELUFeedForward`: chapter 3's ``FeedForward`` (``W_1``, ``W_2``) with GELU instead of ReLU.
  - :class:`Block`: one *post-LN* causal block, ``x = norm1(x + Dropout(self_attn(x)))``,
    ``x = norm2(x + Dropout(ffn(x)))``; ``self_attn`` is chapter 3's ``MultiHeadAttention`` with
    chapter 3's ``causal_mask``. Its parts are named as in chapter 3's ``EncoderLayer``, so
    ``ch03_transformer.load_torch_encoder_layer`` loads a post-LN ``torch.nn.TransformerEncoderLayer``
    into it.
  - :class:`GPT1`: ``W_e`` (token embedding, nn.Embedding), ``W_p`` (learned positions, nn.Embedding),
    ``dropout``, ``blocks`` (nn.ModuleList of :class:`Block`). ``model.hidden(U)`` -> h_n (B, L, d_model);
    ``model(U)`` -> logits h_n W_e^T (B, L, vocab), no separate output matrix, no final LayerNorm.
  - :func:`init_weights`: N(0, 0.02) for every weight matrix and embedding, zero biases.
  - :func:`count_model_parameters`; :func:`sample` (no cache).
Objectives
  - :func:`lm_loss`: -L1 / (number of predicted tokens): cross-entropy of logits[:, :-1] against U[:, 1:].
  - :class:`GPT1Classifier`: ``lm`` (a :class:`GPT1`), ``dropout``, ``W_y`` (nn.Linear(d_model, n_classes));
    ``features(X, last)`` -> (h_l^m, lm logits), ``forward(X, last)`` -> (class logits, lm logits).
  - :func:`l3_loss`: -(L2 + lam * L1) as means: cross-entropy of the labels + lam * :func:`lm_loss`.
  - :func:`similarity_logits`, :func:`multiple_choice_logits`: the two multi-sequence heads of Figure 1.
The rest of the chapter has modules of its own: :mod:`gptcourse.ch04_bpe` (byte-pair encoding on
words, GPT-1 style), :mod:`gptcourse.ch04_pretraining` (L1 pre-training, GPT-1's learning-rate schedule
and the toy GPT-1 the course ships) and :mod:`gptcourse.ch04_finetune` (the input transformations of
Figure 1, fine-tuning with L3 and the chapter's few-label experiments).

The toy data (an unlabelled corpus, a sentiment, an entailment and a multiple-choice task) are in
:mod:`gptcourse.data.gpt1_data`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gptcourse.ch03_transformer import FeedForward, MultiHeadAttention, causal_mask

# ---------------------------------------------------------------------------------------------
# 1. The model: a decoder-only Transformer with tied input and output embeddings
# ---------------------------------------------------------------------------------------------


@dataclass
class GPT1Config:
    """Sizes of a GPT-1; the defaults are the paper's (section 4.1) with the released vocabulary."""

    vocab_size: int = 40478  # the released model: 40,000 BPE merges plus the base symbols
    n_ctx: int = 512  # context size k
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    d_ff: int = 3072
    dropout: float = 0.1  # embedding and residual dropout
    init_std: float = 0.02  # weights ~ N(0, 0.02)


def toy_config(vocab_size: int) -> GPT1Config:
    """The course's GPT-1: the same architecture, small enough to pre-train on a laptop CPU in minutes."""
    return GPT1Config(vocab_size=vocab_size, n_ctx=64, d_model=64, n_layers=2, n_heads=4, d_ff=256, dropout=0.1)


class GELUFeedForward(FeedForward):
    """FFN(x) = GELU(x W_1 + b_1) W_2 + b_2: chapter 3's feed-forward network with GELU for ReLU.

    GELU(x) = x * Phi(x) (Phi: the standard normal CDF), in the tanh approximation GPT-1's code uses.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.W_2(F.gelu(self.W_1(x), approximate="tanh"))


class Block(nn.Module):
    """One GPT-1 block: masked multi-head self-attention, then the GELU feed-forward network, post-LN.

    x = LayerNorm(x + Dropout(MaskedSelfAttention(x))); x = LayerNorm(x + Dropout(FFN(x))).
    It is chapter 3's encoder layer with a causal mask: position i attends to positions <= i only,
    so the output at i never depends on a later token. ``forward(x)``: (B, L, d_model) -> same.
    """

    def __init__(self, config: GPT1Config) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(config.d_model, config.n_heads)
        self.ffn = GELUFeedForward(config.d_model, config.d_ff)
        self.norm1 = nn.LayerNorm(config.d_model)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = causal_mask(x.size(1), x.device)
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, mask)))
        return self.norm2(x + self.dropout(self.ffn(x)))


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """GPT-1's initialisation: every weight matrix and embedding ~ N(0, std), biases 0, LayerNorm (1, 0)."""
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Embedding)):
            nn.init.normal_(sub.weight, mean=0.0, std=std)
        if isinstance(sub, nn.Linear) and sub.bias is not None:
            nn.init.zeros_(sub.bias)
        if isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)


class GPT1(nn.Module):
    """The GPT-1 language model: h_0 = U W_e + W_p, h_l = block(h_{l-1}), P(u) = softmax(h_n W_e^T).

    ``W_e`` holds one row per token, ``W_p`` one row per position 0 ... n_ctx - 1 (learned,
    not sinusoidal). The output layer is W_e itself: the logits are h_n W_e^T, so a token's input
    vector and its output vector are one tensor (weight tying). ``hidden(U)`` returns h_n, (B, L, d_model);
    ``forward(U)`` the logits, (B, L, vocab_size); the logits at position i score u_{i+1}.
    """

    def __init__(self, config: GPT1Config) -> None:
        super().__init__()
        self.config = config
        self.W_e = nn.Embedding(config.vocab_size, config.d_model)
        self.W_p = nn.Embedding(config.n_ctx, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        init_weights(self, config.init_std)

    def hidden(self, U: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(U.size(1), device=U.device)
        h = self.dropout(self.W_e(U) + self.W_p(positions))
        for block in self.blocks:
            h = block(h)
        return h

    def forward(self, U: torch.Tensor) -> torch.Tensor:
        return self.hidden(U) @ self.W_e.weight.T


def count_model_parameters(model: nn.Module) -> int:
    """The number of distinct parameter elements (a tied tensor counts once)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def sample(
    model: GPT1, ids: list[int], n_new: int, temperature: float = 1.0, generator: torch.Generator | None = None
) -> list[int]:
    """Sample ``n_new`` tokens after the prompt ``ids`` (a list of ints); returns prompt + new ids.

    Each step reruns the model on the last ``n_ctx`` tokens, divides the last logits by
    ``temperature`` and samples from the softmax; ``temperature=0`` is greedy decoding. (Chapter 5's
    ``generate`` adds the KV cache, top-k and nucleus sampling, for batches of prompts.)
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = list(ids)
    for _ in range(n_new):
        logits = model(torch.tensor([out[-model.config.n_ctx :]], device=device))[0, -1]
        if temperature == 0:
            next_id = int(logits.argmax())
        else:
            next_id = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator))
        out.append(next_id)
    model.train(was_training)
    return out


# ---------------------------------------------------------------------------------------------
# 2. The objectives: L1 (language modelling), L2 (the task), L3 = L2 + lam * L1
# ---------------------------------------------------------------------------------------------


def lm_loss(logits: torch.Tensor, U: torch.Tensor, pad_id: int | None = None) -> torch.Tensor:
    """-L1(U) per predicted token: the mean of -log P(u_i | u_<i) over i = 2 ... L.

    The logits at position i predict token i + 1, so they are shifted against the targets:
    logits[:, :-1] score U[:, 1:]. Targets equal to ``pad_id`` are left out of the mean.
    """
    V = logits.size(-1)
    targets = U[:, 1:].reshape(-1)
    ignore = -100 if pad_id is None else pad_id
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), targets, ignore_index=ignore)


class GPT1Classifier(nn.Module):
    """A pre-trained :class:`GPT1` with a linear output layer W_y: P(y | x^1 ... x^m) = softmax(h_l^m W_y).

    h_l^m is the final block's activation at the last real token of each input (the ``[extract]``
    token), given by ``last``: (B,) its position in each row of the right-padded X (B, L). Right
    padding is harmless: with the causal mask no real token sees a ``<pad>`` after it.
    ``features(X, last)`` -> (h_l^m (B, d_model), LM logits (B, L, vocab));
    ``forward(X, last)`` -> (class logits (B, n_classes), LM logits), with dropout before W_y.
    """

    def __init__(self, lm: GPT1, n_classes: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.lm = lm
        self.dropout = nn.Dropout(dropout)
        self.W_y = nn.Linear(lm.config.d_model, n_classes)
        nn.init.normal_(self.W_y.weight, std=lm.config.init_std)
        nn.init.zeros_(self.W_y.bias)

    def features(self, X: torch.Tensor, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.lm.hidden(X)
        h_last = h[torch.arange(X.size(0), device=X.device), last]
        return h_last, h @ self.lm.W_e.weight.T

    def forward(self, X: torch.Tensor, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_last, lm_logits = self.features(X, last)
        return self.W_y(self.dropout(h_last)), lm_logits


def l3_loss(
    class_logits: torch.Tensor,
    y: torch.Tensor,
    lm_logits: torch.Tensor,
    X: torch.Tensor,
    lam: float,
    pad_id: int | None = None,
) -> torch.Tensor:
    """-L3 = -(L2 + lam * L1), each as a mean: cross-entropy(class_logits, y) + lam * lm_loss(lm_logits, X).

    L2 is the log-likelihood of the labels (eq. 4); L1 the language-model log-likelihood of the
    task's own inputs (eq. 1); lam = 0 is plain fine-tuning, the paper uses lam = 0.5.
    """
    return F.cross_entropy(class_logits, y) + lam * lm_loss(lm_logits, X, pad_id)


def similarity_logits(clf: GPT1Classifier, X: torch.Tensor, last: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Similarity (Figure 1): both orderings of the pair, the two h_l^m added element-wise, then W_y.

    X: (B, 2, L) with row 0 = ``[start] a [delim] b [extract]`` and row 1 = the other order;
    last: (B, 2). Returns (class logits (B, n_classes), LM logits (2B, L, vocab)).
    """
    B, two, L = X.shape
    h, lm_logits = clf.features(X.reshape(B * two, L), last.reshape(B * two))
    h = h.view(B, two, -1).sum(1)
    return clf.W_y(clf.dropout(h)), lm_logits


def multiple_choice_logits(
    clf: GPT1Classifier, X: torch.Tensor, last: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Multiple choice (Figure 1): one sequence per answer, one score each (W_y has 1 output), softmax over k.

    X: (B, k, L), last: (B, k). Returns (scores (B, k), LM logits (B k, L, vocab)); the softmax over
    the k scores is the distribution over answers (cross-entropy applies it).
    """
    B, k, L = X.shape
    scores, lm_logits = clf(X.reshape(B * k, L), last.reshape(B * k))
    return scores.view(B, k), lm_logits


# ---------------------------------------------------------------------------------------------
# 3. Byte-pair encoding (Sennrich et al. 2016), the way GPT-1 applies it to words
# ---------------------------------------------------------------------------------------------
