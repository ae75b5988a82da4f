"""Chapter 3: the Transformer (Vaswani et al. 2017, "Attention Is All You Need").

The Transformer drops recurrence altogether. Every position of a sentence looks at every other
position through attention, all positions at once, and the order of the words enters only
through a positional encoding added to the word embeddings. Read top to bottom:

1. scaled dot-product attention, Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V  (eq. 1),
   and the two masks it needs: padding (ignore ``<pad>`` keys) and causal (no peeking ahead);
2. multi-head attention, MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O  (section 3.2.2);
3. the sinusoidal positional encoding PE(pos, 2i) = sin(pos / 10000^(2i/d_model)),
   PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))  (section 3.5);
4. the position-wise feed-forward network FFN(x) = max(0, x W_1 + b_1) W_2 + b_2  (eq. 2);
5. encoder and decoder layers in the paper's *post-LN* arrangement, LayerNorm(x + Sublayer(x)),
   with dropout on each sub-layer's output (section 5.4);
6. the encoder and decoder stacks and the encoder-decoder model, which decodes through chapter 1's
   interface (``encode`` / ``step``);
7. the learning-rate schedule of section 5.3 ("Noam"): Adam with beta = (0.9, 0.98), eps = 1e-9 and
   lrate = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5);
8. training on chapter 1's toy translation task (:func:`train`, :func:`build_and_train`).

The paper's base model is ``TransformerConfig()``'s defaults: d_model = 512, 6 + 6 layers,
h = 8 heads, d_ff = 2048, dropout 0.1. The course trains a much smaller one on the toy translation
task of chapters 1 and 2 (:func:`build_and_train`).

Masks are boolean and follow :func:`torch.nn.functional.scaled_dot_product_attention`: ``True``
marks a (query, key) pair that may attend, ``False`` one that may not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gptcourse.ch01_seq2seq import TrainConfig as _RecurrentTrainConfig
from gptcourse.ch01_seq2seq import masked_cross_entropy
from gptcourse.data.translation_task import TranslationTask
from gptcourse.training import fit, train_cached

_BUDGET = _RecurrentTrainConfig()  # chapters 1-2's training budget: steps, batch size, seed

# ---------------------------------------------------------------------------------------------
# 1. Scaled dot-product attention and masks
# ---------------------------------------------------------------------------------------------


def scaled_dot_product_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V.

    ``q``: (..., L_q, d_k), ``k``: (..., L_k, d_k), ``v``: (..., L_k, d_v). ``mask``: boolean,
    broadcastable to (..., L_q, L_k), ``True`` where a query may attend to a key. Returns the
    output (..., L_q, d_v) and the attention weights (..., L_q, L_k), each row summing to 1.
    Dividing by sqrt(d_k) keeps the logits' variance at 1 whatever d_k is, so the softmax does
    not saturate. A masked logit becomes -inf, so its weight is exactly 0.
    """
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """The look-ahead mask: (n, n) boolean, ``True`` on and below the diagonal.

    Row i is query position i; it may attend to key positions j <= i, never to the future.
    """
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, 1, 1, L) boolean, ``True`` at real tokens, ``False`` at ``<pad>``.

    The two singleton axes broadcast over the heads and the query positions: no query attends
    to a padded key.
    """
    return (tokens != pad_id)[:, None, None, :]


# ---------------------------------------------------------------------------------------------
# 2. Multi-head attention
# ---------------------------------------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V).

    The h projections W_i^Q (each d_model x d_k, d_k = d_model / h) sit side by side in one
    d_model x d_model linear layer ``W_q``; the same for ``W_k`` and ``W_v``. ``W_o`` is W^O.
    ``forward(query, key, value, mask)`` takes (B, L_q, d_model), (B, L_k, d_model) twice and a
    mask broadcastable to (B, h, L_q, L_k); it returns (B, L_q, d_model) and keeps the last
    attention weights, (B, h, L_q, L_k), in ``self.weights`` for plots.
    """

    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.n_heads, self.d_k = n_heads, d_model // n_heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(d_model, d_model)
        self.W_o = nn.Linear(d_model, d_model)
        self.weights = None

    def forward(
        self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        B = query.size(0)

        def split(x):  # (B, L, d_model) -> (B, h, L, d_k): head i gets columns i*d_k ... (i+1)*d_k - 1
            return x.view(B, -1, self.n_heads, self.d_k).transpose(1, 2)

        q, k, v = split(self.W_q(query)), split(self.W_k(key)), split(self.W_v(value))
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        self.weights = weights.detach()
        out = out.transpose(1, 2).reshape(B, -1, self.n_heads * self.d_k)  # Concat(head_1, ..., head_h)
        return self.W_o(out)


# ---------------------------------------------------------------------------------------------
# 3. Positional encoding
# ---------------------------------------------------------------------------------------------


def positional_encoding(n_positions: int, d_model: int) -> torch.Tensor:
    """The sinusoidal table PE, (n_positions, d_model), for positions 0 ... n_positions - 1.

    PE(pos, 2i) = sin(pos / 10000^(2i/d_model)) and PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model)):
    dimension pair i is a sine/cosine of wavelength 2*pi * 10000^(2i/d_model), from 2*pi up to
    10000 * 2*pi. Computed in float64, returned as float32.
    """
    if d_model % 2 != 0:
        raise ValueError(f"d_model={d_model} must be even: dimensions come in (sin, cos) pairs")
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = pos / 10000 ** (two_i / d_model)
    pe = torch.zeros(n_positions, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


class PositionalEncoding(nn.Module):
    """x -> Dropout(x + PE[:L]) for embeddings x of shape (B, L, d_model).

    The table is a buffer (it moves with ``.to(device)`` but is not a parameter: nothing in it
    is learned). The paper applies dropout to this sum. A sequence longer than ``max_len``
    raises ``ValueError``.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.register_buffer("pe", positional_encoding(max_len, d_model), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.size(1) > self.pe.size(0):
            raise ValueError(f"x has {x.size(1)} positions, more than max_len={self.pe.size(0)}")
        return self.dropout(x + self.pe[: x.size(1)])


# ---------------------------------------------------------------------------------------------
# 4. Position-wise feed-forward network
# ---------------------------------------------------------------------------------------------


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W_1 + b_1) W_2 + b_2, the same two layers at every position (eq. 2)."""

    def __init__(self, d_model: int, d_ff: int) -> None:
        super().__init__()
        self.W_1 = nn.Linear(d_model, d_ff)
        self.W_2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.W_2(torch.relu(self.W_1(x)))


# ---------------------------------------------------------------------------------------------
# 5. Encoder and decoder layers (post-LN: LayerNorm(x + Dropout(Sublayer(x))))
# ---------------------------------------------------------------------------------------------


class EncoderLayer(nn.Module):
    """Self-attention, then the feed-forward network, each wrapped as LayerNorm(x + Dropout(Sublayer(x))).

    ``forward(x, src_mask)``: x (B, L, d_model); src_mask broadcastable to (B, h, L, L), usually
    :func:`padding_mask` of the source.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ffn = FeedForward(d_model, d_ff)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm1(x + self.dropout(self.self_attn(x, x, x, src_mask)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder (cross) attention, feed-forward; each post-LN.

    ``forward(y, memory, tgt_mask, src_mask)``: y (B, T, d_model) the target so far, memory
    (B, S, d_model) the encoder's output. The self-attention uses ``tgt_mask`` (causal, and
    padding); the cross-attention's queries come from y, its keys and values from memory, with
    ``src_mask`` hiding the source's padding.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ffn = FeedForward(d_model, d_ff)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        y: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        src_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        y = self.norm1(y + self.dropout(self.self_attn(y, y, y, tgt_mask)))
        y = self.norm2(y + self.dropout(self.cross_attn(y, memory, memory, src_mask)))
        return self.norm3(y + self.dropout(self.ffn(y)))


# ---------------------------------------------------------------------------------------------
# 6. The encoder-decoder model
# ---------------------------------------------------------------------------------------------


@dataclass
class TransformerConfig:
    """Sizes of a Transformer; the defaults are the paper's base model (Table 3)."""

    src_vocab_size: int
    tgt_vocab_size: int
    d_model: int = 512
    n_heads: int = 8
    n_layers: int = 6  # N: encoder layers, and as many decoder layers
    d_ff: int = 2048
    dropout: float = 0.1
    max_len: int = 512
    pad_id: int = 0


class Encoder(nn.Module):
    """Token embedding * sqrt(d_model) + PE, then N encoder layers: the memory the decoder reads."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        c = config
        self.scale = math.sqrt(c.d_model)
        self.embed = nn.Embedding(c.src_vocab_size, c.d_model, padding_idx=c.pad_id)
        self.pos = PositionalEncoding(c.d_model, c.max_len, c.dropout)
        self.layers = nn.ModuleList(EncoderLayer(c.d_model, c.n_heads, c.d_ff, c.dropout) for _ in range(c.n_layers))

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor | None) -> torch.Tensor:
        x = self.pos(self.embed(src) * self.scale)
        for layer in self.layers:
            x = layer(x, src_mask)
        return x


class Decoder(nn.Module):
    """Target embedding * sqrt(d_model) + PE, then N decoder layers over the encoder's memory."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        c = config
        self.scale = math.sqrt(c.d_model)
        self.embed = nn.Embedding(c.tgt_vocab_size, c.d_model, padding_idx=c.pad_id)
        self.pos = PositionalEncoding(c.d_model, c.max_len, c.dropout)
        self.layers = nn.ModuleList(DecoderLayer(c.d_model, c.n_heads, c.d_ff, c.dropout) for _ in range(c.n_layers))

    def forward(
        self, tgt: torch.Tensor, memory: torch.Tensor, tgt_mask: torch.Tensor | None, src_mask: torch.Tensor | None
    ) -> torch.Tensor:
        y = self.pos(self.embed(tgt) * self.scale)
        for layer in self.layers:
            y = layer(y, memory, tgt_mask, src_mask)
        return y


class Transformer(nn.Module):
    """The encoder-decoder Transformer (Figure 1 of the paper), post-LN, without a final LayerNorm.

    ``forward(src, tgt_in)`` maps source ids (B, S) and the shifted target ids (B, T), which start
    with ``<sos>``, to next-token logits (B, T, tgt_vocab_size). All T positions are computed in
    one pass (teacher forcing); the causal mask keeps position t from seeing targets after t.
    ``encode`` and ``step`` give it chapter 1's decoding interface, so
    :func:`gptcourse.ch01_seq2seq.greedy_decode` and :func:`~gptcourse.ch01_seq2seq.translator`
    decode it like the recurrent models.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.out = nn.Linear(config.d_model, config.tgt_vocab_size)
        for p in self.parameters():  # Glorot/Xavier init, as in the reference implementations
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None) -> torch.Tensor:
        """Next-token logits (B, T, V) at every target position, the causal mask hiding later targets."""
        tgt_mask = padding_mask(tgt_in, self.config.pad_id) & causal_mask(tgt_in.size(1), tgt_in.device)
        return self.out(self.decoder(tgt_in, memory, tgt_mask, src_mask))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        src_mask = padding_mask(src, self.config.pad_id)
        return self.decode(tgt_in, self.encoder(src, src_mask), src_mask)

    # Chapter 1's decoding interface, so its greedy_decode and translator work unchanged:
    # encode(src, src_lengths) -> state, step(y_prev, state) -> (logits, state).

    def encode(
        self, src: torch.Tensor, src_lengths: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The decoding state: (memory, src_mask, the target prefix so far, empty)."""
        src_mask = padding_mask(src, self.config.pad_id)
        prefix = torch.empty(src.size(0), 0, dtype=torch.long, device=src.device)
        return self.encoder(src, src_mask), src_mask, prefix

    def step(
        self, y_prev: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Append y_prev (B,) to the prefix and return the logits (B, V) of the next token.

        Without recurrence there is no state to carry: the decoder reruns over the whole prefix
        (the encoder's memory is computed once, in :meth:`encode`).
        """
        memory, src_mask, prefix = state
        prefix = torch.cat([prefix, y_prev[:, None]], dim=1)
        return self.decode(prefix, memory, src_mask)[:, -1], (memory, src_mask, prefix)


# ---------------------------------------------------------------------------------------------
# 7. The learning-rate schedule of section 5.3
# ---------------------------------------------------------------------------------------------


def noam_lr(step: int, d_model: int, warmup: int = 4000) -> float:
    """lrate = d_model^-0.5 * min(step^-0.5, step * warmup^-1.5), step = 1, 2, ...

    It grows linearly for ``warmup`` steps, peaks at d_model^-0.5 * warmup^-0.5, then decays as
    1/sqrt(step).
    """
    step = max(step, 1)
    return d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def noam_optimizer(
    model: nn.Module, d_model: int, warmup: int = 4000, factor: float = 1.0
) -> tuple[torch.optim.Adam, torch.optim.lr_scheduler.LambdaLR]:
    """Adam(beta1 = 0.9, beta2 = 0.98, eps = 1e-9) with ``factor * noam_lr``; returns (optimizer, scheduler).

    Call ``scheduler.step()`` after every ``optimizer.step()``; the first update uses step 1.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: factor * noam_lr(s + 1, d_model, warmup))
    return optimizer, scheduler


# ---------------------------------------------------------------------------------------------
# 8. Training on the toy translation task of chapters 1-2
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`train` runs: ``steps`` batches of ``batch_size`` sentences (the budget of chapters 1-2,
    so all three models see the same sentences), and the Noam schedule's ``warmup`` and ``factor``."""

    steps: int = _BUDGET.steps
    batch_size: int = _BUDGET.batch_size
    warmup: int = 100
    factor: float = 1.0
    seed: int = _BUDGET.seed


def train(
    model: Transformer,
    task: TranslationTask,
    config: TrainConfig = TrainConfig(),
    show_progress: bool = True,
    desc: str = "Transformer",
) -> list[float]:
    """Adam + the Noam schedule on the masked cross-entropy of all target positions at once.

    One forward pass per batch computes every target position (teacher forcing, the causal mask
    hiding the future): there is no loop over time steps. Returns the loss of every step.
    """
    torch.manual_seed(config.seed)
    device = next(model.parameters()).device
    optimizer, scheduler = noam_optimizer(model, model.config.d_model, config.warmup, config.factor)
    batches = task.endless_batches("train", config.batch_size, seed=config.seed)

    def loss_of(model, batch):
        batch = batch.to(device)
        return masked_cross_entropy(model(batch.src, batch.tgt_in), batch.tgt_out, model.config.pad_id)

    return fit(
        model, batches, loss_of, optimizer, config.steps, scheduler=scheduler, desc=desc, show_progress=show_progress
    )


def small_config(task: TranslationTask, **overrides: Any) -> TransformerConfig:
    """The course's Transformer for the toy task: d_model 64, 4 heads, 1 + 1 layers, d_ff 128, dropout 0.1."""
    sizes = dict(d_model=64, n_heads=4, n_layers=1, d_ff=128, dropout=0.1, max_len=128)
    sizes.update(overrides)
    return TransformerConfig(len(task.src_vocab), len(task.tgt_vocab), pad_id=task.src_vocab.pad_id, **sizes)


def build_and_train(
    task: TranslationTask,
    model_config: TransformerConfig | None = None,
    train_config: TrainConfig = TrainConfig(),
    show_progress: bool = True,
    reuse: bool = False,
) -> tuple[Transformer, list[float]]:
    """Chapter 3's experiment in one call: a seeded :class:`Transformer`, trained; returns (model, losses).

    ``reuse=True`` loads the model this very call trained before, if it is kept on disk (:func:`train_cached`).
    """
    model_config = model_config or small_config(task)
    return train_cached(
        "ch03_transformer",
        task,
        lambda: Transformer(model_config),
        lambda model: train(model, task, train_config, show_progress),
        model_config,
        train_config,
        seed=train_config.seed,
        reuse=reuse,
    )


def speed_verdict(recurrent_seconds: float, transformer_seconds: float, language: str = "en") -> str:
    """Chapter 3's verdict on speed, from the seconds per epoch of the recurrent model with attention and of
    the Transformer: how many times as fast the Transformer trained, or how many times slower, and why.
    ``language="ko"`` gives it in Korean, in 합니다체 without the last full stop; the numbers are the same."""
    if language not in ("en", "ko"):
        raise ValueError(f"language must be 'en' or 'ko', got {language!r}")
    ratio = recurrent_seconds / transformer_seconds
    if language == "ko":
        if ratio >= 1:
            return f"트랜스포머가 {ratio:.1f}배 빠르게 학습했습니다"
        return (
            f"트랜스포머가 {1 / ratio:.1f}배 느렸습니다. CPU에서 문장이 이만큼 짧고 모델이 이만큼 작으면, 트랜스포머의 "
            "더 큰 행렬 곱이 순환 디코더의 몇 안 되는 순차적 단계보다 비용이 더 듭니다"
        )
    if ratio >= 1:
        return f"the Transformer trained {ratio:.1f} times as fast"
    return (
        f"the Transformer was {1 / ratio:.1f} times slower: on a CPU, with sentences this short and models this "
        "small, its larger matrix products cost more than the recurrent decoder's few sequential steps"
    )


# ---------------------------------------------------------------------------------------------
# Loading PyTorch's own modules' weights (the exercises compare against torch.nn)
# ---------------------------------------------------------------------------------------------


def _part(module, name, hint):
    if not hasattr(module, name):
        raise AttributeError(f"{type(module).__name__} has no attribute '{name}': {hint}")
    return getattr(module, name)


def _copy_linear(mine, weight, bias):
    with torch.no_grad():
        mine.weight.copy_(weight)
        mine.bias.copy_(bias)


def load_torch_mha(mha: nn.Module, torch_mha: nn.MultiheadAttention) -> nn.Module:
    """Copy a ``torch.nn.MultiheadAttention``'s weights into a :class:`MultiHeadAttention` (in place).

    PyTorch stacks W^Q, W^K, W^V as the rows of ``in_proj_weight`` (3 d_model x d_model) and
    splits heads the same way (head i = features i*d_k ... (i+1)*d_k - 1), so the two modules
    then compute the same function.
    """
    hint = "name the four projections W_q, W_k, W_v and W_o (nn.Linear(d_model, d_model) each)"
    d = torch_mha.embed_dim
    w, b = torch_mha.in_proj_weight, torch_mha.in_proj_bias
    for i, name in enumerate(["W_q", "W_k", "W_v"]):
        _copy_linear(_part(mha, name, hint), w[i * d : (i + 1) * d], b[i * d : (i + 1) * d])
    _copy_linear(_part(mha, "W_o", hint), torch_mha.out_proj.weight, torch_mha.out_proj.bias)
    return mha


def _copy_norm(mine, theirs):
    with torch.no_grad():
        mine.weight.copy_(theirs.weight)
        mine.bias.copy_(theirs.bias)


def _copy_ffn(ffn, layer):
    hint = "name the two linear layers of the feed-forward network W_1 and W_2"
    _copy_linear(_part(ffn, "W_1", hint), layer.linear1.weight, layer.linear1.bias)
    _copy_linear(_part(ffn, "W_2", hint), layer.linear2.weight, layer.linear2.bias)


def load_torch_encoder_layer(layer: nn.Module, torch_layer: nn.TransformerEncoderLayer) -> nn.Module:
    """Copy a post-LN ``torch.nn.TransformerEncoderLayer`` (``norm_first=False``) into an :class:`EncoderLayer`."""
    hint = "an EncoderLayer has self_attn, ffn, norm1 and norm2"
    load_torch_mha(_part(layer, "self_attn", hint), torch_layer.self_attn)
    _copy_ffn(_part(layer, "ffn", hint), torch_layer)
    _copy_norm(_part(layer, "norm1", hint), torch_layer.norm1)
    _copy_norm(_part(layer, "norm2", hint), torch_layer.norm2)
    return layer


def load_torch_decoder_layer(layer: nn.Module, torch_layer: nn.TransformerDecoderLayer) -> nn.Module:
    """Copy a post-LN ``torch.nn.TransformerDecoderLayer`` into a :class:`DecoderLayer`."""
    hint = "a DecoderLayer has self_attn, cross_attn, ffn, norm1, norm2 and norm3"
    load_torch_mha(_part(layer, "self_attn", hint), torch_layer.self_attn)
    load_torch_mha(_part(layer, "cross_attn", hint), torch_layer.multihead_attn)
    _copy_ffn(_part(layer, "ffn", hint), torch_layer)
    for i in (1, 2, 3):
        _copy_norm(_part(layer, f"norm{i}", hint), getattr(torch_layer, f"norm{i}"))
    return layer
