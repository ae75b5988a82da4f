"""Chapter 4: byte-pair encoding on words, GPT-1 style (Sennrich et al. 2016; the paper's section 4.1).

A word is split into characters, the last one carrying ``</w>`` (:func:`word_symbols`); learning
repeatedly merges the most frequent adjacent pair of symbols over the corpus (:func:`pair_counts`,
:func:`merge_pair`, :func:`bpe_merge_step`, :func:`learn_bpe`, which returns the merges in order).
:class:`BPETokenizer` applies the merges: ``encode(text)`` / ``decode(ids)`` / ``tokens(text)``; its ids
are the base symbols, then one per merge, then the specials ``<pad>``, ``<unk>``, ``[start]``,
``[delim]``, ``[extract]``. (GPT-2's byte-level BPE is chapter 5's :mod:`gptcourse.ch05_bpe`.)
"""

from __future__ import annotations

import math
from typing import Iterable

END_OF_WORD = "</w>"


def word_symbols(word: str) -> tuple:
    """A word as its initial symbols: its characters, the last one marked as word-final.

    'low' -> ('l', 'o', 'w</w>'): the marker keeps 'est' at the end of 'lowest' apart from 'est' in 'estate'.
    """
    return tuple(word[:-1]) + (word[-1] + END_OF_WORD,)


def pair_counts(vocab: dict[tuple[str, ...], int]) -> dict[tuple[str, str], int]:
    """How often each pair of adjacent symbols occurs: {(a, b): count}, every word weighted by its frequency.

    ``vocab`` maps a word, as a tuple of symbols, to its frequency in the corpus.
    """
    counts = {}
    for symbols, freq in vocab.items():
        for pair in zip(symbols, symbols[1:]):  # noqa: B905 - adjacent pairs; answer code, as in ch04-gpt1.ipynb
            counts[pair] = counts.get(pair, 0) + freq
    return counts


def merge_pair(vocab: dict[tuple[str, ...], int], pair: tuple[str, str]) -> dict[tuple[str, ...], int]:
    """Replace every occurrence of the adjacent ``pair`` (a, b) in every word by the one symbol a + b.

    Occurrences are merged left to right without overlap: ('a', 'a', 'a') with ('a', 'a') gives
    ('aa', 'a'). Returns a new vocab; the input is left unchanged.
    """
    merged = {}
    for symbols, freq in vocab.items():
        out, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
                out.append(symbols[i] + symbols[i + 1])
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        merged[tuple(out)] = merged.get(tuple(out), 0) + freq
    return merged


def bpe_merge_step(vocab: dict[tuple[str, ...], int]) -> tuple[tuple[str, str] | None, dict[tuple[str, ...], int]]:
    """One step of BPE learning: the most frequent adjacent pair, and the vocab with it merged.

    Ties go to the smallest pair in Python's tuple order, so the result is deterministic.
    Returns (pair, new_vocab), or (None, vocab) when no word has two symbols left.
    """
    counts = pair_counts(vocab)
    if not counts:
        return None, vocab
    best = min(counts, key=lambda pair: (-counts[pair], pair))
    return best, merge_pair(vocab, best)


def word_frequencies(texts: Iterable[str]) -> dict[tuple[str, ...], int]:
    """{word as initial symbols: frequency} over whitespace-separated words of ``texts``."""
    freqs = {}
    for text in texts:
        for word in text.split():
            freqs[word] = freqs.get(word, 0) + 1
    return {word_symbols(w): f for w, f in sorted(freqs.items())}


def learn_bpe(texts: Iterable[str], n_merges: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Learn up to ``n_merges`` merges on ``texts``; returns (base symbols, list of merged pairs in order)."""
    vocab = word_frequencies(texts)
    base = sorted({s for symbols in vocab for s in symbols})
    merges = []
    for _ in range(n_merges):
        pair, vocab = bpe_merge_step(vocab)
        if pair is None:
            break
        merges.append(pair)
    return base, merges


class BPETokenizer:
    """Encode text with learned merges; ids = base symbols, then one per merge, then the specials.

    A word is split into :func:`word_symbols`, then the learned merges are applied in the order
    they were learned (the earliest-learned applicable pair first), as GPT-1's encoder does.
    Characters never seen in training become ``<unk>``.
    """

    SPECIALS = ("<pad>", "<unk>", "[start]", "[delim]", "[extract]")

    def __init__(self, base: Iterable[str], merges: Iterable[tuple[str, str]]) -> None:
        self.base, self.merges = list(base), [tuple(m) for m in merges]
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        symbols = self.base + [a + b for a, b in self.merges] + list(self.SPECIALS)
        self.id_of = {s: i for i, s in enumerate(symbols)}
        self.symbols = symbols
        self.pad_id, self.unk_id, self.start_id, self.delim_id, self.extract_id = (self.id_of[s] for s in self.SPECIALS)
        self._cache = {}

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    def split_word(self, word: str) -> tuple:
        """A word as its final BPE symbols, e.g. 'unwatchable' -> ('un', 'watch', 'able</w>')."""
        if word in self._cache:
            return self._cache[word]
        symbols = list(word_symbols(word))
        while len(symbols) > 1:
            # adjacent pairs: one fewer than the symbols
            pairs = [(self.ranks.get(p, math.inf), i) for i, p in enumerate(zip(symbols, symbols[1:], strict=False))]
            rank, i = min(pairs)
            if rank == math.inf:
                break
            symbols[i : i + 2] = [symbols[i] + symbols[i + 1]]
        self._cache[word] = tuple(symbols)
        return self._cache[word]

    def tokens(self, text: str) -> list:
        """The BPE symbols of ``text`` (whitespace-separated words)."""
        return [s for word in text.split() for s in self.split_word(word)]

    def encode(self, text: str) -> list:
        return [self.id_of.get(s, self.unk_id) for s in self.tokens(text)]

    def decode(self, ids: Iterable[int]) -> str:
        text = "".join(self.symbols[i] if self.symbols[i] not in self.SPECIALS else f" {self.symbols[i]} " for i in ids)
        return " ".join(text.replace(END_OF_WORD, " ").split())

    def to_dict(self) -> dict:
        return {"base": self.base, "merges": [list(m) for m in self.merges]}

    @classmethod
    def from_dict(cls, d: dict) -> "BPETokenizer":
        return cls(d["base"], [tuple(m) for m in d["merges"]])
