"""Chapter 0: what a language model computes.

A language model assigns a probability to the next token given the tokens before it.
GPT-1 (Radford et al. 2018, eq. 1) trains one by maximising

    L1(U) = sum_i log P(u_i | u_{i-k}, ..., u_{i-1}; Theta)

over a corpus U = (u_1, ..., u_n), where k is the size of the context window. (The source
slides drop the window and write P(u_i | u_{i-1}; Theta); the paper conditions on the k
previous tokens.) This module holds the pieces the warm-up exercise asks for, a count-based
model that plays the role of Theta, and the facts of the GPT family for chapter 0's table.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Hashable, Sequence

import torch

Token = Hashable


def softmax(logits: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """softmax(z)_j = exp(z_j) / sum_m exp(z_m), computed without overflow.

    Subtracting max(z) changes nothing mathematically (it cancels between numerator and
    denominator) but keeps every exponent <= 0, so exp never overflows. Entries equal to
    -inf (masked positions) get probability 0.
    """
    shifted = logits - logits.amax(dim=dim, keepdim=True)
    exp = torch.exp(shifted)
    return exp / exp.sum(dim=dim, keepdim=True)


def context_window(tokens: Sequence[Token], i: int, k: int) -> tuple:
    """The context of token ``i``: ``(u_{i-k}, ..., u_{i-1})``, shorter at the start of the text."""
    return tuple(tokens[max(0, i - k) : i])


def log_likelihood(
    tokens: Sequence[Token],
    k: int,
    cond_prob: Callable[[tuple, Token], float],
) -> float:
    """L1(U) = sum_i log P(u_i | u_{i-k}, ..., u_{i-1}), natural log.

    ``cond_prob(context, token)`` returns P(token | context); ``context`` is the tuple
    given by :func:`context_window`.
    """
    return sum(math.log(cond_prob(context_window(tokens, i, k), tokens[i])) for i in range(len(tokens)))


class CountLM:
    """A k-th order Markov language model estimated by counting, with add-``alpha`` smoothing.

    P(u | c) = (count(c, u) + alpha) / (count(c) + alpha * |V|), where c is the (up to) k
    previous tokens. It is the simplest Theta for which L1 makes sense: more context (larger
    k) fits the training text better, and, with little data, generalises worse.
    """

    def __init__(
        self, tokens: Sequence[Token], k: int, alpha: float = 1.0, vocab: Sequence[Token] | None = None
    ) -> None:
        if k < 0:
            raise ValueError(f"CountLM: the context size k must be >= 0, got k={k}")
        if alpha <= 0:
            raise ValueError(f"CountLM: alpha must be > 0 so no probability is zero, got alpha={alpha}")
        self.k, self.alpha = k, alpha
        self.vocab = sorted(set(vocab if vocab is not None else tokens), key=str)
        self.counts: dict[tuple, Counter] = defaultdict(Counter)
        for i, token in enumerate(tokens):
            self.counts[context_window(tokens, i, k)][token] += 1

    def prob(self, context: tuple, token: Token) -> float:
        """P(token | context)."""
        context = tuple(context)[-self.k :] if self.k else ()
        seen = self.counts.get(context, Counter())
        return (seen[token] + self.alpha) / (sum(seen.values()) + self.alpha * len(self.vocab))

    __call__ = prob


#: The short text of the warm-up: a few sentences, lower-cased, split on spaces.
TINY_TEXT = (
    "the cat sat on the mat . the dog sat on the log . "
    "the cat saw the dog . the dog saw the cat on the mat . "
    "a cat and a dog sat on a log ."
)


def tokenize(text: str) -> list[str]:
    """Word-level tokens: the text split on whitespace."""
    return text.split()


@dataclass(frozen=True)
class GPTModelFacts:
    """One column of chapter 0's evolution table."""

    name: str
    year: int
    parameters: int | None  # None: not disclosed
    data: str
    context: int | None
    note: str


#: The GPT family, from the papers (the source slides' errors corrected; see chapter 0).
GPT_FAMILY = [
    GPTModelFacts(
        "GPT-1",
        2018,
        117_000_000,
        "BooksCorpus (7,000+ unpublished books)",
        512,
        "12-layer decoder-only Transformer; generative pre-training + discriminative fine-tuning",
    ),
    GPTModelFacts(
        "GPT-2",
        2019,
        1_542_000_000,
        "WebText: 8 M documents, 40 GB, from Reddit outbound links with >= 3 karma",
        1024,
        "pre-LN, byte-level BPE (50,257 tokens); zero-shot task transfer",
    ),
    GPTModelFacts(
        "GPT-3",
        2020,
        175_000_000_000,
        "filtered Common Crawl + WebText2 + two book corpora + Wikipedia",
        2048,
        "96 layers, d = 12,288; few-shot in-context learning",
    ),
    GPTModelFacts(
        "GPT-4",
        2023,
        None,
        "not disclosed (accepts image and text input)",
        8192,
        "multimodal input; 32,768-token context for gpt-4-32k; size and architecture not disclosed",
    ),
]


def format_count(n: int | None) -> str:
    """117000000 -> '117 M', 175000000000 -> '175 B', None -> 'not disclosed'."""
    if n is None:
        return "not disclosed"
    for unit, scale in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            value = n / scale
            return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return str(n)
