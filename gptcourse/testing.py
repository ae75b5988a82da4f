"""Test doubles: tiny language models whose every log-probability is known, and a word tokenizer.

The exercise tests of chapter 6 and the course's own tests score these instead of a trained model,
because the right answer is then a formula, not a number someone once printed. They ship with the
package (like :mod:`torch.testing`) because the exercise notebooks import them wherever they run.
"""

from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


class WordTokenizer:
    """Words <-> ids for a fixed vocabulary (whitespace splitting); a stand-in for any tokenizer."""

    def __init__(self, vocab: Iterable[str]) -> None:
        self.vocab = list(vocab)
        self.id_of = {w: i for i, w in enumerate(self.vocab)}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        return [self.id_of[w] for w in text.split()]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.vocab[int(i)] for i in ids)


class BigramLM(nn.Module):
    """A causal LM whose logits at position t depend only on the token at t: a table (V, V).

    With it every log-probability is known in closed form, log_softmax(table[u_{t-1}])[u_t].
    """

    def __init__(self, vocab_size: int, seed: int = 0, scale: float = 2.0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = nn.Parameter(torch.randn(vocab_size, vocab_size, generator=g) * scale)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table[ids]


class PositionLM(nn.Module):
    """A causal LM that only counts: at the t-th position of its input (t = 0, 1, ...) it predicts
    token min(t, V - 1) with logit ``confidence`` and every other token with logit 0.

    Its log-probabilities depend on where a token sits in the window, so it shows exactly
    which context a sliding window gave each token.
    """

    def __init__(self, vocab_size: int, confidence: float = 3.0) -> None:
        super().__init__()
        self.vocab_size, self.confidence = vocab_size, confidence

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        B, T = ids.shape
        logits = torch.zeros(B, T, self.vocab_size)
        logits[:, torch.arange(T), torch.arange(T).clamp(max=self.vocab_size - 1)] = self.confidence
        return logits
