"""Chapter 5: GPT-2 (Radford et al. 2019, "Language Models are Unsupervised Multitask Learners").

GPT-2 is GPT-1 made larger, with three changes to the model (section 2.3 of the paper):

- **pre-LN**: "Layer normalization was moved to the input of each sub-block", so a block computes
  h + Attn(LN_1(h)), then h + MLP(LN_2(h)), and the residual stream h itself is never normalised;
- a **final LayerNorm** after the last block, before the output head h_n W_e^T;
- the weights of the **residual layers** (the projections that write into the residual stream)
  are scaled at initialisation by 1/sqrt(N), N the number of residual layers (2 per block);

and a byte-level BPE vocabulary of 50,257 tokens (:mod:`gptcourse.ch05_bpe`), a context of
1,024 tokens and a batch of 512. Read top to bottom:

1. :class:`GPT2Config`, the four released sizes (:data:`GPT2_SIZES`) and
   :func:`count_parameters`, which reproduces the released checkpoints' exact counts;
2. the model: :class:`CausalSelfAttention` (fused W_qkv projection, PyTorch's
   ``scaled_dot_product_attention``), :class:`MLP`, the pre-LN :class:`Block`, :class:`GPT2` (its
   training loss, :meth:`GPT2.loss`, is :func:`gptcourse.ch05_tied_loss.tied_head_cross_entropy`);
3. the model's memory for generation, the KV cache (:class:`KVCache`).

The rest of the chapter has modules of its own: :mod:`gptcourse.ch05_tied_loss` (the tied head's
cross-entropy in cache-sized slices), :mod:`gptcourse.ch05_generation` (one cached decoding step,
top-k, nucleus sampling, ``generate``), :mod:`gptcourse.ch05_checkpoints` (Hugging Face checkpoints in
both directions, offline) and :mod:`gptcourse.ch05_experiments` (the small GPT-2 the course ships, and
pre-LN against post-LN).

The course's parameter names follow the papers: W_e (token embedding), W_p (position
embedding), ``blocks`` (h_l = block(h_{l-1})), ``ln_f`` (the final LayerNorm); inside a block
``ln_1``, ``attn.W_qkv``, ``attn.W_o``, ``ln_2``, ``mlp.W_1``, ``mlp.W_2``. The output head is
h_n W_e^T: tied to the token embedding, so it has no parameters of its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import nn
from torch.nn import functional as F

from gptcourse.ch05_tied_loss import tied_head_cross_entropy, tied_head_workspace_size, workspace_fits

# ---------------------------------------------------------------------------------------------
# 1. Sizes and parameter counts
# ---------------------------------------------------------------------------------------------

GPT2_VOCAB_SIZE = 50257  # 256 bytes + 50,000 merges + <|endoftext|>
GPT1_VOCAB_SIZE = 40478  # GPT-1's character-level BPE vocabulary (40,000 merges)


@dataclass
class GPT2Config:
    """Sizes of a GPT-2; the defaults are the smallest released model ("117M", really 124M)."""

    vocab_size: int = GPT2_VOCAB_SIZE
    n_ctx: int = 1024  # context: the number of learned positions in W_p
    n_layers: int = 12
    n_heads: int = 12
    d_model: int = 768
    d_ff: int | None = None  # the MLP's inner size; None: 4 * d_model, as in the four released GPT-2s
    dropout: float = 0.1
    layer_norm_eps: float = 1e-5

    def __post_init__(self):
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model
        if self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model={self.d_model} must be divisible by n_heads={self.n_heads}")


#: The four released models (Table 2 of the paper: layers and d_model; heads from the release).
GPT2_SIZES = {
    "gpt2": GPT2Config(n_layers=12, n_heads=12, d_model=768),
    "gpt2-medium": GPT2Config(n_layers=24, n_heads=16, d_model=1024),
    "gpt2-large": GPT2Config(n_layers=36, n_heads=20, d_model=1280),
    "gpt2-xl": GPT2Config(n_layers=48, n_heads=25, d_model=1600),
}

#: Training batch sizes (sequences per update) of the two papers.
BATCH_SIZE = {"GPT-1": 64, "GPT-2": 512}

#: The paper's parameter counts (Table 2) and the released checkpoints' exact ones.
PAPER_PARAMETERS = {
    "gpt2": 117_000_000,
    "gpt2-medium": 345_000_000,
    "gpt2-large": 762_000_000,
    "gpt2-xl": 1_542_000_000,
}
RELEASED_PARAMETERS = {
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
}


def count_parameters(config: GPT2Config) -> int:
    """The number of parameters of a GPT-2 with this config, from its sizes alone.

    Embeddings W_e (V x d) and W_p (n_ctx x d); per block two LayerNorms (a gain and a bias of
    size d each), W_qkv (d x 3d, bias 3d), W_o (d x d, bias d), W_1 (d x d_ff, bias d_ff),
    W_2 (d_ff x d, bias d); the final LayerNorm (2d). The output head reuses W_e: no parameters.
    """
    d, f = config.d_model, config.d_ff
    embeddings = config.vocab_size * d + config.n_ctx * d
    attention = d * 3 * d + 3 * d + d * d + d
    mlp = d * f + f + f * d + d
    layer_norms = 2 * (2 * d)
    return embeddings + config.n_layers * (attention + mlp + layer_norms) + 2 * d


def count_is_released(name: str) -> bool:
    """Whether :func:`count_parameters` of the released model ``name`` is its checkpoint's exact count."""
    return count_parameters(GPT2_SIZES[name]) == RELEASED_PARAMETERS[name]


def paper_count_explained(name: str) -> bool:
    """Whether the paper's count of ``name`` (Table 2) is :func:`count_parameters` with GPT-1's vocabulary of
    40,478 tokens in place of GPT-2's, to the nearest million."""
    with_gpt1_vocab = count_parameters(replace(GPT2_SIZES[name], vocab_size=GPT1_VOCAB_SIZE))
    return round(with_gpt1_vocab / 1e6) * 1_000_000 == PAPER_PARAMETERS[name]


# ---------------------------------------------------------------------------------------------
# 2. The model
# ---------------------------------------------------------------------------------------------


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0) -> torch.Tensor:
    """Causal attention softmax(Q K^T / sqrt(d_k) + M) V of the last T_q positions over T_k keys.

    ``q``: (B, h, T_q, d_k), ``k``, ``v``: (B, h, T_k, d_k) with T_k >= T_q: the queries are the
    *last* T_q of the T_k positions (the earlier ones come from a KV cache). Query i may attend
    to key j iff j <= (T_k - T_q) + i. Uses PyTorch's fused ``scaled_dot_product_attention``.
    """
    T_q, T_k = q.size(-2), k.size(-2)
    if T_q == T_k:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=True)
    if T_q == 1:  # one new token: every key is in its past
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    mask = torch.ones(T_q, T_k, dtype=torch.bool, device=q.device).tril(diagonal=T_k - T_q)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)


class CausalSelfAttention(nn.Module):
    """Masked multi-head self-attention with the three projections fused into one matrix.

    W_qkv (d x 3d) computes [Q | K | V] in one matrix product (the columns of head i of Q are
    i*d_k ... (i+1)*d_k - 1, as in chapter 3); W_o is W^O. ``forward(x, cache, layer)``: x
    (B, T, d) -> (B, T, d); with a :class:`KVCache`, the new keys and values are appended to
    layer ``layer``'s cache and the T new queries attend to everything cached so far.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.W_qkv = nn.Linear(d_model, 3 * d_model)
        self.W_o = nn.Linear(d_model, d_model)
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        B, T, _ = x.shape
        q, k, v = self.W_qkv(x).split(self.d_model, dim=2)
        q, k, v = (z.view(B, T, self.n_heads, self.d_k).transpose(1, 2) for z in (q, k, v))  # 3 x (B, h, T, d_k)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        out = attend(q, k, v, self.dropout if self.training else 0.0)
        out = out.transpose(1, 2).reshape(B, T, self.d_model)  # Concat(head_1, ..., head_h)
        return self.resid_dropout(self.W_o(out))


class MLP(nn.Module):
    """The position-wise network of GPT-1 and GPT-2: W_2 GELU(W_1 x + b_1) + b_2, d -> 4d -> d.

    GELU in the tanh approximation that OpenAI's code (and Hugging Face's ``gelu_new``) uses.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.W_1 = nn.Linear(d_model, d_ff)
        self.W_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.W_2(F.gelu(self.W_1(x), approximate="tanh")))


class Block(nn.Module):
    """GPT-2's pre-LN block: h + Attn(LN_1(h)), then h + MLP(LN_2(h)).

    The LayerNorms sit at the *input* of each sub-block; the residual stream h is only ever
    added to, never normalised (GPT-1's post-LN block computes LN(h + Sublayer(h)) instead).
    ``forward(x, cache, layer)`` passes the KV cache to the attention.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0, eps: float = 1e-5) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, eps=eps)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout)
        self.ln_2 = nn.LayerNorm(d_model, eps=eps)
        self.mlp = MLP(d_model, d_ff, dropout)

    def forward(self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache, layer)
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    """GPT-2: h_0 = U W_e + W_p, h_l = block(h_{l-1}) for l = 1..n, P(u) = softmax(LN_f(h_n) W_e^T).

    ``forward(idx, cache=None, last_only=False)``: token ids (B, T) -> logits (B, T, V), or
    (B, 1, V) for the last position only (all generation needs). With a :class:`KVCache` (see
    :meth:`new_cache`) the T tokens are the ones after the ``cache.length`` already cached.
    ``loss(idx, targets)``: the mean cross-entropy of training, the fast way (:func:`tied_head_cross_entropy`).
    Initialisation: N(0, 0.02) everywhere, biases 0, and N(0, 0.02 / sqrt(2 n)) for the two
    residual projections of each block (W_o and W_2): N = 2n residual layers write into h.
    """

    def __init__(self, config: GPT2Config) -> None:
        super().__init__()
        self.config = c = config
        self.W_e = nn.Embedding(c.vocab_size, c.d_model)
        self.W_p = nn.Embedding(c.n_ctx, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            Block(c.d_model, c.n_heads, c.d_ff, c.dropout, c.layer_norm_eps) for _ in range(c.n_layers)
        )
        self.ln_f = nn.LayerNorm(c.d_model, eps=c.layer_norm_eps)
        self.apply(self._init_weights)
        residual_std = 0.02 / math.sqrt(2 * c.n_layers)
        for block in self.blocks:
            nn.init.normal_(block.attn.W_o.weight, std=residual_std)
            nn.init.normal_(block.mlp.W_2.weight, std=residual_std)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None, last_only: bool = False) -> torch.Tensor:
        h = self.hidden(idx, cache)
        if last_only:
            h = h[:, -1:]
        return F.linear(h, self.W_e.weight)  # h_n W_e^T: the head is tied to W_e

    def hidden(self, idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """LN_f(h_n): the (B, T, d) vectors that the head multiplies by W_e^T."""
        start = 0 if cache is None else cache.length
        T = idx.size(1)
        if start + T > self.config.n_ctx:
            raise ValueError(f"{start + T} positions, but the model has only n_ctx={self.config.n_ctx}")
        pos = torch.arange(start, start + T, device=idx.device)
        x = self.drop(self.W_e(idx) + self.W_p(pos))
        for layer, block in enumerate(self.blocks):
            x = block(x, cache, layer)
        if cache is not None:
            cache.length += T
        return self.ln_f(x)

    def loss(self, idx: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100) -> torch.Tensor:
        """Mean cross-entropy -log P(targets | idx) over the positions whose target is not ``ignore_index``.

        The same number as ``F.cross_entropy`` of :meth:`forward`'s logits, computed by
        :func:`tied_head_cross_entropy` (with GPT-2's 50,257 tokens the output head is most of a small
        model's training time). The model keeps its workspace between calls. A vocabulary of at most
        1,024 tokens takes ``F.cross_entropy`` of the logits instead: measured faster up to about there.
        """
        h = self.hidden(idx).flatten(0, -2)
        W = self.W_e.weight
        if W.size(0) <= 1024:  # small logits stay in the cache anyway: slicing has nothing to gain
            return F.cross_entropy(F.linear(h, W), targets.reshape(-1), ignore_index=ignore_index)
        size = tied_head_workspace_size(h.size(0), W.size(0))
        space = getattr(self, "_loss_workspace", None)  # kept: allocating it anew costs page faults
        if not workspace_fits(space, size, h):
            space = self._loss_workspace = h.new_empty(size)
        return tied_head_cross_entropy(h, W, targets.reshape(-1), ignore_index, workspace=space)

    def new_cache(self, batch_size: int, max_len: int | None = None) -> KVCache:
        """An empty :class:`KVCache` for this model (on its device, in its dtype)."""
        c, p = self.config, self.W_e.weight
        return KVCache(
            c.n_layers,
            batch_size,
            c.n_heads,
            max_len or c.n_ctx,
            c.d_model // c.n_heads,
            device=p.device,
            dtype=p.dtype,
        )


# ---------------------------------------------------------------------------------------------
# 3. Generation: the KV cache, filtering, sampling
# ---------------------------------------------------------------------------------------------


class KVCache:
    """The keys and values of every layer for the positions generated so far.

    Generating token t+1 needs K and V of positions 1..t in every layer; they do not change once
    computed (a causal model never lets an old position see a new one), so they are stored once
    instead of recomputed at every step. Preallocated: (n_layers, B, h, max_len, d_k) each.
    """

    def __init__(
        self,
        n_layers: int,
        batch_size: int,
        n_heads: int,
        max_len: int,
        d_k: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        shape = (n_layers, batch_size, n_heads, max_len, d_k)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # positions stored (the model advances it after all layers)

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new keys/values (B, h, T, d_k) of ``layer``; return all of them so far."""
        end = self.length + k.size(2)
        if end > self.k.size(3):
            raise ValueError(f"the KV cache holds {self.k.size(3)} positions; {end} needed")
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]
