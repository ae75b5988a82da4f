"""Chapter 5: generating text with GPT-2: one cached decoding step, top-k, nucleus sampling, ``generate``.

- :func:`decode_step`: one step with the KV cache (:class:`gptcourse.ch05_gpt2.KVCache`) written out;
- :func:`top_k_filter`, :func:`top_p_filter`: keep the k most probable tokens, or the smallest set whose
  probability reaches p (nucleus sampling, Holtzman et al. 2019);
- :func:`next_token`: temperature, the filters, and a sample (or the arg-max, greedy);
- :func:`generate`: a prompt continued token by token, with or without the cache.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import torch

if TYPE_CHECKING:
    from gptcourse.ch05_gpt2 import GPT2


def decode_step(
    model: GPT2, token: torch.Tensor, past: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None
) -> tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]]]:
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


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the k largest logits of each row (ties with the k-th included), set the rest to -inf."""
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
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


def next_token(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
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
def generate(
    model: GPT2,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
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
            raise ValueError(
                f"prompt + new tokens = {idx.size(1) + max_new_tokens} > n_ctx = {n_ctx}; "
                "generate with use_cache=False to slide the context window"
            )
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
