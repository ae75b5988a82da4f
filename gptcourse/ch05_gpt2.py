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
   ``scaled_dot_product_attention``), :class:`MLP`, the pre-LN :class:`Block`, :class:`GPT2`, and
   :func:`tied_head_cross_entropy`, its training loss computed in cache-sized slices of the logits;
3. generation: the KV cache (:class:`KVCache`, and :func:`decode_step`, one cached step written
   out), :func:`top_k_filter`, :func:`top_p_filter`, :func:`next_token` and :func:`generate`;
4. loading Hugging Face GPT-2 checkpoints (:func:`hf_to_course_key`,
   :func:`convert_hf_state_dict`, :func:`load_gpt2`): the real ``gpt2`` weights for users with
   internet, and a tiny random ``GPT2LMHeadModel`` made locally (:func:`save_tiny_hf_checkpoint`)
   to prove the architecture and the loader without any download;
5. a small GPT-2 pre-trained on chapter 4's corpus with GPT-2's real tokenizer (:func:`toy_corpus`,
   :func:`train_toy_gpt2`; the course ships it, :func:`load_toy_gpt2`, and
   ``python -m gptcourse.ch05_gpt2 pretrain`` reproduces it), and the pre-LN vs post-LN experiment
   (:func:`deep_narrow_models`: this GPT-2 against chapter 4's post-LN GPT-1 at the same sizes;
   :func:`train_recording_gradients`, :func:`block_grad_norms`).

The course's parameter names follow the papers: W_e (token embedding), W_p (position
embedding), ``blocks`` (h_l = block(h_{l-1})), ``ln_f`` (the final LayerNorm); inside a block
``ln_1``, ``attn.W_qkv``, ``attn.W_o``, ``ln_2``, ``mlp.W_1``, ``mlp.W_2``. The output head is
h_n W_e^T: tied to the token embedding, so it has no parameters of its own.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from gptcourse.optional import require

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
PAPER_PARAMETERS = {"gpt2": 117_000_000, "gpt2-medium": 345_000_000, "gpt2-large": 762_000_000,
                    "gpt2-xl": 1_542_000_000}
RELEASED_PARAMETERS = {"gpt2": 124_439_808, "gpt2-medium": 354_823_168, "gpt2-large": 774_030_080,
                       "gpt2-xl": 1_557_611_200}


def count_parameters(config):
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


# ---------------------------------------------------------------------------------------------
# 2. The model
# ---------------------------------------------------------------------------------------------


def attend(q, k, v, dropout_p=0.0):
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

    def __init__(self, d_model, n_heads, dropout=0.0):
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.W_qkv = nn.Linear(d_model, 3 * d_model)
        self.W_o = nn.Linear(d_model, d_model)
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x, cache=None, layer=0):
        B, T, _ = x.shape
        q, k, v = self.W_qkv(x).view(B, T, 3, self.n_heads, self.d_k).permute(2, 0, 3, 1, 4)  # 3 x (B, h, T, d_k)
        if cache is not None:
            k, v = cache.update(layer, k, v)
        out = attend(q, k, v, self.dropout if self.training else 0.0)
        out = out.transpose(1, 2).reshape(B, T, self.d_model)  # Concat(head_1, ..., head_h)
        return self.resid_dropout(self.W_o(out))


class MLP(nn.Module):
    """The position-wise network of GPT-1 and GPT-2: W_2 GELU(W_1 x + b_1) + b_2, d -> 4d -> d.

    GELU in the tanh approximation that OpenAI's code (and Hugging Face's ``gelu_new``) uses.
    """

    def __init__(self, d_model, d_ff, dropout=0.0):
        super().__init__()
        self.W_1 = nn.Linear(d_model, d_ff)
        self.W_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.W_2(F.gelu(self.W_1(x), approximate="tanh")))


class Block(nn.Module):
    """GPT-2's pre-LN block: h + Attn(LN_1(h)), then h + MLP(LN_2(h)).

    The LayerNorms sit at the *input* of each sub-block; the residual stream h is only ever
    added to, never normalised (GPT-1's post-LN block computes LN(h + Sublayer(h)) instead).
    ``forward(x, cache, layer)`` passes the KV cache to the attention.
    """

    def __init__(self, d_model, n_heads, d_ff, dropout=0.0, eps=1e-5):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, eps=eps)
        self.attn = CausalSelfAttention(d_model, n_heads, dropout)
        self.ln_2 = nn.LayerNorm(d_model, eps=eps)
        self.mlp = MLP(d_model, d_ff, dropout)

    def forward(self, x, cache=None, layer=0):
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

    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = c = config
        self.W_e = nn.Embedding(c.vocab_size, c.d_model)
        self.W_p = nn.Embedding(c.n_ctx, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c.d_model, c.n_heads, c.d_ff, c.dropout, c.layer_norm_eps)
                                    for _ in range(c.n_layers))
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

    def forward(self, idx, cache=None, last_only=False):
        h = self.hidden(idx, cache)
        if last_only:
            h = h[:, -1:]
        return F.linear(h, self.W_e.weight)  # h_n W_e^T: the head is tied to W_e

    def hidden(self, idx, cache=None):
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

    def loss(self, idx, targets, ignore_index=-100):
        """Mean cross-entropy -log P(targets | idx) over the positions whose target is not ``ignore_index``.

        The same number as ``F.cross_entropy`` of :meth:`forward`'s logits, computed by
        :func:`tied_head_cross_entropy` (with GPT-2's 50,257 tokens the output head is most of a small
        model's training time). The model keeps its workspace between calls.
        """
        h = self.hidden(idx).flatten(0, -2)
        W = self.W_e.weight
        size = tied_head_workspace_size(h.size(0), W.size(0))
        space = getattr(self, "_loss_workspace", None)  # kept: allocating it anew costs page faults
        if not _workspace_fits(space, size, h):
            space = self._loss_workspace = h.new_empty(size)
        return tied_head_cross_entropy(h, W, targets.reshape(-1), ignore_index, workspace=space)

    def new_cache(self, batch_size, max_len=None):
        """An empty :class:`KVCache` for this model (on its device, in its dtype)."""
        c, p = self.config, self.W_e.weight
        return KVCache(c.n_layers, batch_size, c.n_heads, max_len or c.n_ctx, c.d_model // c.n_heads,
                       device=p.device, dtype=p.dtype)


class _TiedHeadCrossEntropy(torch.autograd.Function):
    """Forward *and* gradients of mean_i -log softmax(h_i W^T)[y_i], a cache-sized slice at a time.

    The (N, V) logits z = h W^T are computed in slices of ``cols`` vocabulary columns, small enough
    to stay in the CPU's cache between the matrix product that makes a slice and the softmax that
    normalises it (one product with all 50,257 columns runs at half the speed: its output does not
    fit). Two passes over the vocabulary, for each block of at most ``rows`` tokens:

    1. for each slice s: z_s = h W_s^T, p_s = softmax(z_s) over the slice, and the slice's
       log-sum-exp lse_s = max(z_s) - log max(p_s);
    2. lse = logsumexp_s(lse_s) is the log of the softmax's denominator, so the probabilities are
       p_s exp(lse_s - lse); since d loss / d z = (p - onehot(y)) / n, each slice's gradient
       g_s gives d W_s = g_s^T h and adds g_s W_s to d h.

    The loss itself is mean_i (lse_i - h_i . W[y_i]). Backward only scales the stored gradients.
    The p_s live in ``workspace`` (rows x (V + cols) numbers), which a caller may keep between calls:
    fresh memory that large costs the operating system's page faults on every call.
    """

    @staticmethod
    def forward(ctx, h, W, targets, ignore_index, rows, cols, workspace):
        valid = targets != ignore_index
        n = int(valid.sum())
        safe = torch.where(valid, targets, 0)
        grad_h = torch.zeros_like(h)
        grad_W = torch.empty_like(W) if h.size(0) else torch.zeros_like(W)  # the first block sets it
        lse = h.new_empty(h.size(0))
        V = W.size(0)
        starts = range(0, V, cols)
        for first in range(0, h.size(0), rows):
            block = slice(first, first + rows)
            h_b, y_b, ok = h[block], safe[block], valid[block]
            m = h_b.size(0)
            z = workspace[m * V : m * (V + cols)]
            probs = [workspace[m * start : m * min(start + cols, V)].view(m, -1) for start in starts]
            lse_s = h.new_empty(len(starts), m)
            for s, start in enumerate(starts):  # pass 1
                z_s = torch.mm(h_b, W[start : start + cols].t(), out=z[: probs[s].numel()].view(m, -1))
                torch.softmax(z_s, dim=1, out=probs[s])
                torch.sub(z_s.amax(dim=1), probs[s].amax(dim=1).log_(), out=lse_s[s])
            lse[block] = torch.logsumexp(lse_s, dim=0)
            weight = ok.to(h.dtype) / max(n, 1)  # 1/n on the rows with a target, 0 on the others
            scale = torch.exp(lse_s - lse[block]).mul_(weight)
            for s, start in enumerate(starts):  # pass 2
                g = probs[s].mul_(scale[s, :, None])
                here = ((y_b >= start) & (y_b < start + cols) & ok).nonzero().squeeze(1)
                g[here, y_b[here] - start] -= weight[here]
                grad_W[start : start + cols].addmm_(g.t(), h_b, beta=1 if first else 0)
                grad_h[block].addmm_(g, W[start : start + cols])
        ctx.save_for_backward(grad_h, grad_W)
        if not n:
            return h.new_tensor(float("nan"))
        return (lse - (h * W[safe]).sum(dim=1))[valid].sum() / n

    @staticmethod
    def backward(ctx, grad_loss):
        grad_h, grad_W = ctx.saved_tensors
        if not bool(grad_loss == 1):
            grad_h, grad_W = grad_h * grad_loss, grad_W * grad_loss
        return grad_h, grad_W, None, None, None, None, None


def tied_head_workspace_size(n_tokens, vocab_size, rows=1024, cols=1024):
    """How many numbers :func:`tied_head_cross_entropy` needs as ``workspace`` for ``n_tokens`` rows."""
    return min(rows, n_tokens) * (vocab_size + min(cols, vocab_size))


def _workspace_fits(workspace, size, h):
    """Whether ``workspace`` can serve as the workspace of ``size`` numbers for ``h``."""
    return (workspace is not None and workspace.numel() >= size and workspace.dtype == h.dtype
            and workspace.device == h.device)


def tied_head_cross_entropy(h, W, targets, ignore_index=-100, rows=1024, cols=1024, workspace=None):
    """``F.cross_entropy(h @ W.T, targets, ignore_index=ignore_index)`` for (N, d) ``h`` and (V, d) ``W``.

    Equal to it (and so are its gradients) up to float rounding, and faster on a large vocabulary:
    the logits are computed and normalised in cache-sized (``rows`` x ``cols``) slices and the
    gradients are computed at once, so they are not written to memory and read back three times
    (logits, log-softmax, its gradient). Holds at most ``rows`` x V probabilities, in ``workspace``
    if given (a 1-D tensor of at least :func:`tied_head_workspace_size` numbers, h's dtype and
    device, reused between calls; not for concurrent calls). NaN if no target is valid, like
    ``F.cross_entropy``.
    """
    if h.dim() != 2 or W.dim() != 2 or targets.shape != h.shape[:1] or W.size(1) != h.size(1):
        raise ValueError(f"expected h (N, d), W (V, d) and targets (N,), got {tuple(h.shape)}, "
                         f"{tuple(W.shape)} and {tuple(targets.shape)}")
    valid = targets[targets != ignore_index]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= W.size(0)):
        raise ValueError(f"targets must be token ids in [0, {W.size(0)}) or ignore_index={ignore_index}; "
                         f"got values from {int(valid.min())} to {int(valid.max())}")
    size = tied_head_workspace_size(h.size(0), W.size(0), rows, cols)
    if workspace is None:
        workspace = h.new_empty(size)
    elif not _workspace_fits(workspace, size, h):
        raise ValueError(f"workspace: expected at least {size} numbers of {h.dtype} on {h.device}, got "
                         f"{workspace.numel()} of {workspace.dtype} on {workspace.device}")
    return _TiedHeadCrossEntropy.apply(h, W, targets, ignore_index, rows, cols, workspace)


# ---------------------------------------------------------------------------------------------
# 3. Generation: the KV cache, filtering, sampling
# ---------------------------------------------------------------------------------------------


class KVCache:
    """The keys and values of every layer for the positions generated so far.

    Generating token t+1 needs K and V of positions 1..t in every layer; they do not change once
    computed (a causal model never lets an old position see a new one), so they are stored once
    instead of recomputed at every step. Preallocated: (n_layers, B, h, max_len, d_k) each.
    """

    def __init__(self, n_layers, batch_size, n_heads, max_len, d_k, device=None, dtype=None):
        shape = (n_layers, batch_size, n_heads, max_len, d_k)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.length = 0  # positions stored (the model advances it after all layers)

    def update(self, layer, k, v):
        """Store the new keys/values (B, h, T, d_k) of ``layer``; return all of them so far."""
        end = self.length + k.size(2)
        if end > self.k.size(3):
            raise ValueError(f"the KV cache holds {self.k.size(3)} positions; {end} needed")
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


def decode_step(model, token, past=None):
    """One step of generation with a KV cache, written out (the exercise's version of it).

    ``token``: (B, 1), the ids at position t, where t is the number of positions in ``past``;
    ``past``: None (t = 0) or, per block, a pair (K, V) of shape (B, h, t, d_k). Returns the
    logits of the next token, (B, V), and the new past: a new list of pairs (K, V) with t + 1
    positions, the cached ones first; ``past`` itself is left unchanged, so two different tokens
    can be run from the same past. The new query attends to all t + 1 keys: every cached position
    is in its past, so no mask is needed.
    """
    t = 0 if past is None else past[0][0].size(2)
    x = model.W_e(token) + model.W_p.weight[t]
    B = x.size(0)
    new_past = []
    for l, block in enumerate(model.blocks):
        attn = block.attn
        q, k, v = attn.W_qkv(block.ln_1(x)).split(attn.d_model, dim=-1)
        q, k, v = (z.view(B, 1, attn.n_heads, attn.d_k).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            k = torch.cat([past[l][0], k], dim=2)
            v = torch.cat([past[l][1], v], dim=2)
        new_past.append((k, v))
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(attn.d_k), dim=-1)
        x = x + attn.W_o((weights @ v).transpose(1, 2).reshape(B, 1, attn.d_model))
        x = x + block.mlp(block.ln_2(x))
    logits = model.ln_f(x)[:, -1] @ model.W_e.weight.T
    return logits, new_past


def top_k_filter(logits, k):
    """Keep the k largest logits of each row (ties with the k-th included), set the rest to -inf."""
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits, p):
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of most likely tokens whose
    probabilities sum to at least p, set the other logits to -inf.

    Sort the probabilities in decreasing order; a token is kept if the probability mass of the
    tokens before it is still below p (so the most likely token is always kept).
    """
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs
    remove_sorted = mass_before >= p
    remove = remove_sorted.scatter(-1, order, remove_sorted)
    return logits.masked_fill(remove, float("-inf"))


def next_token(logits, temperature=1.0, top_k=None, top_p=None, generator=None):
    """Pick the next token from logits (B, V): greedy if ``temperature == 0``, else sample from
    softmax(logits / temperature) restricted by top-k and then top-p. Returns (B, 1) ids."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None and top_p < 1.0:
        logits = top_p_filter(logits, top_p)
    return torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)


@torch.no_grad()
def generate(model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, use_cache=True,
             generator=None):
    """Append ``max_new_tokens`` tokens to the prompts ``idx`` (B, T); returns (B, T + max_new_tokens).

    ``temperature=0`` is greedy decoding. With ``use_cache`` every step feeds only the newest
    token through the model (its keys and values join the :class:`KVCache`); without it, every
    step recomputes the whole prefix (the last ``n_ctx`` tokens).
    """
    model.eval()
    n_ctx = model.config.n_ctx
    cache = None
    if use_cache:
        if idx.size(1) + max_new_tokens > n_ctx:
            raise ValueError(f"prompt + new tokens = {idx.size(1) + max_new_tokens} > n_ctx = {n_ctx}; "
                             "generate with use_cache=False to slide the context window")
        cache = model.new_cache(idx.size(0), idx.size(1) + max_new_tokens)
        logits = model(idx, cache, last_only=True)[:, -1]
    for step in range(max_new_tokens):
        if not use_cache:
            logits = model(idx[:, -n_ctx:], last_only=True)[:, -1]
        new = next_token(logits, temperature, top_k, top_p, generator)
        idx = torch.cat([idx, new], dim=1)
        if use_cache and step < max_new_tokens - 1:
            logits = model(new, cache, last_only=True)[:, -1]
    return idx


# ---------------------------------------------------------------------------------------------
# 4. Loading Hugging Face GPT-2 checkpoints
# ---------------------------------------------------------------------------------------------

#: Hugging Face's names (after an optional ``transformer.`` prefix) -> the course's.
HF_BLOCK_NAMES = {"ln_1": "ln_1", "attn.c_attn": "attn.W_qkv", "attn.c_proj": "attn.W_o", "ln_2": "ln_2",
                  "mlp.c_fc": "mlp.W_1", "mlp.c_proj": "mlp.W_2"}
HF_TOP_NAMES = {"wte.weight": "W_e.weight", "wpe.weight": "W_p.weight", "ln_f.weight": "ln_f.weight",
                "ln_f.bias": "ln_f.bias"}
#: The weights OpenAI stored as ``Conv1D``: (in, out), the transpose of ``nn.Linear``'s (out, in).
HF_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def hf_to_course_key(key):
    """A Hugging Face GPT-2 tensor name -> the course's name, or None for what is not a parameter.

    ``"transformer.h.3.attn.c_attn.weight"`` and ``"h.3.attn.c_attn.weight"`` (the hub's file has
    no prefix) both map to ``"blocks.3.attn.W_qkv.weight"``. None for the tied ``lm_head.weight``
    and for the causal-mask buffers ``h.N.attn.bias`` / ``h.N.attn.masked_bias`` of old files.
    """
    key = key.removeprefix("transformer.")
    if key == "lm_head.weight" or key.endswith((".attn.bias", ".attn.masked_bias")):
        return None
    if key in HF_TOP_NAMES:
        return HF_TOP_NAMES[key]
    h, layer, rest = key.split(".", 2)
    module, param = rest.rsplit(".", 1)
    if h != "h" or module not in HF_BLOCK_NAMES:
        raise KeyError(f"{key!r} is not a GPT-2 tensor name")
    return f"blocks.{layer}.{HF_BLOCK_NAMES[module]}.{param}"


def convert_hf_state_dict(hf_state):
    """A Hugging Face GPT-2 state dict -> the course's: names mapped, ``Conv1D`` weights transposed."""
    state = {}
    for key, tensor in hf_state.items():
        name = hf_to_course_key(key)
        if name is None:
            continue
        if key.endswith(HF_CONV1D):
            tensor = tensor.t()
        state[name] = tensor.contiguous()
    return state


def config_from_hf(hf_config, **overrides):
    """A :class:`GPT2Config` from a Hugging Face ``config.json`` (a dict)."""
    values = dict(vocab_size=hf_config["vocab_size"], n_ctx=hf_config.get("n_positions", hf_config.get("n_ctx")),
                  n_layers=hf_config["n_layer"], n_heads=hf_config["n_head"], d_model=hf_config["n_embd"],
                  d_ff=hf_config.get("n_inner"), layer_norm_eps=hf_config.get("layer_norm_epsilon", 1e-5),
                  dropout=hf_config.get("resid_pdrop", 0.1))
    values.update(overrides)
    return GPT2Config(**values)


#: Where the real checkpoints live on the Hugging Face hub.
HUB_REPOS = {name: f"openai-community/{name}" for name in GPT2_SIZES}
WEIGHTS_ENV = "GPTCOURSE_GPT2_DIR"


def missing_weights_message(where):
    return (f"No GPT-2 checkpoint in {where}.\n"
            "A checkpoint is a folder with config.json and model.safetensors (Hugging Face's layout).\n"
            "The course never downloads weights by itself. With internet, download the smallest\n"
            "GPT-2 once (about 550 MB):\n"
            "    from gptcourse.ch05_gpt2 import download_gpt2\n"
            "    folder = download_gpt2('gpt2')  # or 'gpt2-medium', 'gpt2-large', 'gpt2-xl'\n"
            f"then pass the folder to load_gpt2, or set the environment variable {WEIGHTS_ENV} to it.")


def load_gpt2(folder, dropout=0.0):
    """A :class:`GPT2` with the weights of a Hugging Face GPT-2 checkpoint folder, in eval mode.

    ``folder`` holds ``config.json`` and ``model.safetensors``, as saved by
    ``GPT2LMHeadModel.save_pretrained`` or downloaded from the hub (:func:`download_gpt2`).
    Every parameter of the course's model must be in the file and every tensor in the file must
    be used (or be one of the ignorable ones, see :func:`hf_to_course_key`).
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    config_path, weights_path = folder / "config.json", folder / "model.safetensors"
    if not (config_path.is_file() and weights_path.is_file()):
        raise FileNotFoundError(missing_weights_message(folder))
    config = config_from_hf(json.loads(config_path.read_text()), dropout=dropout)
    model = GPT2(config)
    model.load_state_dict(convert_hf_state_dict(load_file(weights_path)), strict=True)
    return model.eval()


def find_gpt2_checkpoint(name="gpt2", cache_dir=None):
    """The folder of a GPT-2 checkpoint already on this machine, or None. Never downloads.

    Looks at ``$GPTCOURSE_GPT2_DIR``, then in the Hugging Face cache (``cache_dir``, default the
    standard one, where :func:`download_gpt2` and ``from_pretrained`` put it).
    """
    folder = os.environ.get(WEIGHTS_ENV)
    if folder and (Path(folder) / "model.safetensors").is_file():
        return Path(folder)
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = [try_to_load_from_cache(HUB_REPOS[name], f, cache_dir=cache_dir)
             for f in ("config.json", "model.safetensors")]
    if all(isinstance(f, str) for f in found) and Path(found[0]).parent == Path(found[1]).parent:
        return Path(found[1]).parent
    return None


def download_gpt2(name="gpt2"):
    """Download a released GPT-2 (config.json + model.safetensors) from the Hugging Face hub; return the folder.

    Needs internet (gpt2: about 550 MB; gpt2-xl: about 6.4 GB). Nothing in the course calls it.
    """
    snapshot_download = require("huggingface_hub", "Downloading GPT-2's weights").snapshot_download
    return Path(snapshot_download(HUB_REPOS[name], allow_patterns=["config.json", "model.safetensors"]))


#: The tiny random GPT-2 of the equivalence checks. Its weights are drawn wider than GPT-2's 0.02 so
#: that its next-token distributions are far from uniform and greedy decoding does not stall.
TINY_HF_CONFIG = dict(vocab_size=96, n_positions=64, n_embd=32, n_layer=2, n_head=4, initializer_range=0.3)


def save_tiny_hf_checkpoint(folder, seed=0, **sizes):
    """Build a small random ``transformers.GPT2LMHeadModel`` and save it (config.json, model.safetensors).

    Offline and quiet: nothing is downloaded, no progress bar or warning is printed. ``sizes``
    override :data:`TINY_HF_CONFIG` (Hugging Face's names: vocab_size, n_positions, n_embd,
    n_layer, n_head). Returns the folder.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = require("transformers", "Building a Hugging Face GPT-2 to check the course's against")
    HFConfig, GPT2LMHeadModel = transformers.GPT2Config, transformers.GPT2LMHeadModel

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    sizes = {**TINY_HF_CONFIG, **sizes}
    end = sizes["vocab_size"] - 1
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(HFConfig(**sizes, bos_token_id=end, eos_token_id=end)).eval()
    model.save_pretrained(folder)
    return Path(folder)


def course_to_hf_state_dict(state):
    """The inverse of :func:`convert_hf_state_dict`: the course's names -> ``transformer.*`` names, Conv1D layout."""
    course_to_hf = {v: k for k, v in HF_TOP_NAMES.items()}
    course_to_hf.update({f".{v}.": f".{k}." for k, v in HF_BLOCK_NAMES.items()})
    out = {}
    for name, tensor in state.items():
        if name in course_to_hf:
            key = course_to_hf[name]
        else:
            _, layer, rest = name.split(".", 2)
            module, param = rest.rsplit(".", 1)
            key = f"h.{layer}.{next(k for k, v in HF_BLOCK_NAMES.items() if v == module)}.{param}"
        if key.endswith(HF_CONV1D):
            tensor = tensor.t()
        out["transformer." + key] = tensor.contiguous()
    return out


def hf_config_dict(config):
    """A Hugging Face ``config.json`` (a dict) for a :class:`GPT2Config`."""
    eot = 50256 if config.vocab_size == GPT2_VOCAB_SIZE else None  # <|endoftext|>, if the vocabulary is GPT-2's
    return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": config.vocab_size,
            "n_positions": config.n_ctx, "n_embd": config.d_model, "n_layer": config.n_layers,
            "n_head": config.n_heads, "n_inner": config.d_ff, "activation_function": "gelu_new",
            "layer_norm_epsilon": config.layer_norm_eps, "resid_pdrop": config.dropout,
            "embd_pdrop": config.dropout, "attn_pdrop": config.dropout, "initializer_range": 0.02,
            "bos_token_id": eot, "eos_token_id": eot}


def save_gpt2(model, folder):
    """Save a course :class:`GPT2` in Hugging Face's layout (config.json + model.safetensors)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(hf_config_dict(model.config), indent=1) + "\n")
    save_file(course_to_hf_state_dict(model.state_dict()), folder / "model.safetensors", metadata={"format": "pt"})
    return folder


# ---------------------------------------------------------------------------------------------
# 5. A small GPT-2 on chapter 4's corpus, with the real tokenizer; pre-LN vs post-LN
# ---------------------------------------------------------------------------------------------


class ToyTokenizer:
    """GPT-2's real tokenizer restricted to the tokens a corpus uses.

    Chapter 4's corpus needs only a few hundred of GPT-2's 50,257 tokens; a small model gets a
    vocabulary of just those (``gpt2_ids[i]`` is the GPT-2 id of the small model's token i), so
    its embedding is tiny. ``encode`` / ``decode`` go through the real byte-level BPE.
    """

    def __init__(self, gpt2_ids, bpe=None):
        from gptcourse.ch05_bpe import load_gpt2_bpe

        self.bpe = bpe or load_gpt2_bpe()
        self.gpt2_ids = [int(i) for i in gpt2_ids]
        self.index = {g: i for i, g in enumerate(self.gpt2_ids)}

    @property
    def vocab_size(self):
        return len(self.gpt2_ids)

    def encode(self, text):
        """Text -> the small model's ids. A leading space is added if missing: in the corpus every word,
        the first of a document included, follows a space (GPT-2 has different tokens for "after" and " after")."""
        if not text.startswith(" "):
            text = " " + text
        ids = self.bpe.encode(text)
        unknown = [self.bpe.decoder[i] for i in ids if i not in self.index]
        if unknown:
            raise KeyError(f"the small model never saw the GPT-2 token(s) {unknown}; use words of chapter 4's corpus")
        return [self.index[i] for i in ids]

    def decode(self, ids):
        return self.bpe.decode([self.gpt2_ids[int(i)] for i in ids])


def toy_corpus():
    """Chapter 4's unlabelled corpus encoded with GPT-2's tokenizer: (stream of small ids, :class:`ToyTokenizer`)."""
    from gptcourse.ch05_bpe import load_gpt2_bpe
    from gptcourse.gpt1_data import unlabelled_corpus

    bpe = load_gpt2_bpe()
    ids = torch.tensor(bpe.encode(" ".join(unlabelled_corpus())))
    gpt2_ids, stream = torch.unique(ids, return_inverse=True)
    return stream, ToyTokenizer(gpt2_ids.tolist(), bpe)


TOY_GPT2_DIR = Path(__file__).with_name("checkpoints") / "ch05" / "gpt2_toy"
#: How the shipped small GPT-2 was made (``python -m gptcourse.ch05_gpt2 pretrain``); the training
#: loop, Adam with warm-up and cosine decay, is chapter 4's ``pretrain``.
TOY_SETTINGS = {"n_layers": 4, "n_heads": 4, "d_model": 64, "n_ctx": 64, "dropout": 0.1, "steps": 2000,
                "batch_size": 32, "max_lr": 2.5e-3, "warmup": 100, "seed": 0}


def train_toy_gpt2(progress=True, device="cpu", **overrides):
    """The small GPT-2 of :data:`TOY_SETTINGS`, pre-trained from scratch on ``device``: (model on the CPU, tokenizer, info)."""
    import time

    from gptcourse.ch04_gpt1 import pretrain

    s = {**TOY_SETTINGS, **overrides}
    stream, tok = toy_corpus()
    torch.manual_seed(s["seed"])
    model = GPT2(GPT2Config(vocab_size=tok.vocab_size, n_ctx=s["n_ctx"], n_layers=s["n_layers"],
                            n_heads=s["n_heads"], d_model=s["d_model"], dropout=s["dropout"])).to(device)
    start = time.perf_counter()
    losses = pretrain(model, stream, s["steps"], s["batch_size"], s["n_ctx"], s["max_lr"], s["warmup"], s["seed"],
                      progress)
    info = {"settings": s, "final_loss": sum(losses[-50:]) / 50, "seconds": time.perf_counter() - start,
            "device": str(device)}
    return model.cpu().eval(), tok, info


def save_toy_gpt2(folder, model, tok, info):
    """Hugging Face's layout (so ``load_gpt2`` and ``GPT2LMHeadModel.from_pretrained`` both read it) + the token map."""
    save_gpt2(model, folder)
    (Path(folder) / "toy.json").write_text(json.dumps({"gpt2_ids": tok.gpt2_ids, "info": info}) + "\n")


def load_toy_gpt2(folder=TOY_GPT2_DIR):
    """(model, tokenizer, info) of the shipped small GPT-2, in eval mode."""
    model = load_gpt2(folder)
    toy = json.loads((Path(folder) / "toy.json").read_text())
    return model, ToyTokenizer(toy["gpt2_ids"]), toy["info"]


def deep_narrow_models(vocab_size, n_layers=12, d_model=32, n_heads=2, n_ctx=32, seed=0):
    """The pre-LN vs post-LN pair: GPT-2 (this chapter) and GPT-1 (chapter 4), the same sizes, no dropout.

    The only differences are the ones between the papers: where the LayerNorms sit (input of each
    sub-block + a final one, vs after each residual addition) and GPT-2's 1/sqrt(N) residual init.
    """
    from gptcourse.ch04_gpt1 import GPT1, GPT1Config

    torch.manual_seed(seed)
    pre = GPT2(GPT2Config(vocab_size=vocab_size, n_ctx=n_ctx, n_layers=n_layers, n_heads=n_heads,
                          d_model=d_model, dropout=0.0))
    torch.manual_seed(seed)
    post = GPT1(GPT1Config(vocab_size=vocab_size, n_positions=n_ctx, d_model=d_model, n_layers=n_layers,
                           n_heads=n_heads, d_ff=4 * d_model, dropout=0.0))
    return {"pre-LN (GPT-2)": pre, "post-LN (GPT-1)": post}


def block_grad_norms(model):
    """||dLoss/dtheta_l|| for the parameters theta_l of each block l (after ``backward``)."""
    return [math.sqrt(sum(float(p.grad.pow(2).sum()) for p in block.parameters() if p.grad is not None))
            for block in model.blocks]


def train_recording_gradients(model, stream, steps, lr, batch_size=8, seq_len=32, seed=1, progress=False):
    """Adam at a constant learning rate, no warm-up, on random windows of ``stream``.

    Returns ``{"loss": [...], "grad_norms": [[per block] per step]}``. The batches depend only on
    ``seed``, so two models trained with the same seed see exactly the same data.
    """
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    history = {"loss": [], "grad_norms": []}
    steps_iter = range(steps)
    if progress:
        from . import progress as progress_bar

        steps_iter = progress_bar(steps_iter, desc=f"{type(model).__name__}, lr {lr:g}", mininterval=1.0)
    for _ in steps_iter:
        starts = torch.randint(0, len(stream) - seq_len - 1, (batch_size,), generator=g).tolist()
        U = torch.stack([stream[s : s + seq_len + 1] for s in starts])
        logits = model(U[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), U[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        history["grad_norms"].append(block_grad_norms(model))
        optimizer.step()
        history["loss"].append(loss.item())
    model.eval()
    return history


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m gptcourse.ch05_gpt2", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pretrain", help="pre-train the small GPT-2 on chapter 4's corpus and save it")
    p.add_argument("--out", default=str(TOY_GPT2_DIR))
    p.add_argument("--device", default=None, help="cpu, cuda, mps... (default: the best one PyTorch sees)")
    for key, value in TOY_SETTINGS.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    from . import default_device

    device = args.device or default_device()
    print(f"pre-training on {device}", flush=True)
    model, tok, info = train_toy_gpt2(progress=True, device=device, **{k: getattr(args, k) for k in TOY_SETTINGS})
    save_toy_gpt2(args.out, model, tok, info)
    print(f"saved {args.out}: {count_parameters(model.config):,} parameters, vocabulary {tok.vocab_size}, "
          f"final loss {info['final_loss']:.3f}, {info['seconds']:.0f} s")


if __name__ == "__main__":
    main()
