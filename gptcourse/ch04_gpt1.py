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
  - :func:`count_parameters`; :func:`generate` (sampling, no cache).
Objectives
  - :func:`lm_loss`: -L1 / (number of predicted tokens): cross-entropy of logits[:, :-1] against U[:, 1:].
  - :class:`GPT1Classifier`: ``lm`` (a :class:`GPT1`), ``dropout``, ``W_y`` (nn.Linear(d_model, n_classes));
    ``features(X, last)`` -> (h_l^m, lm logits), ``forward(X, last)`` -> (class logits, lm logits).
  - :func:`l3_loss`: -(L2 + lam * L1) as means: cross-entropy of the labels + lam * :func:`lm_loss`.
  - :func:`similarity_logits`, :func:`multiple_choice_logits`: the two multi-sequence heads of Figure 1.
Tokenisation (byte-pair encoding on words, GPT-1 style: the last symbol of a word carries ``</w>``)
  - :func:`word_symbols`, :func:`pair_counts`, :func:`merge_pair`, :func:`bpe_merge_step`,
    :func:`learn_bpe` (returns the merges in order).
  - :class:`BPETokenizer`: ``encode(text)`` / ``decode(ids)`` / ``tokens(text)``; ids are the base
    symbols, then one per merge, then the specials ``<pad>``, ``<unk>``, ``[start]``, ``[delim]``,
    ``[extract]`` (``pad_id``, ``unk_id``, ``start_id``, ``delim_id``, ``extract_id``).
Input transformations (Figure 1), each returning token-id lists
  - :func:`classification_input`, :func:`entailment_input`, :func:`similarity_inputs` (both orders),
    :func:`multiple_choice_inputs` (one sequence per answer); :func:`pad_batch` right-pads them.
Training and experiments
  - :func:`gpt1_lr`: linear warm-up, then cosine (pre-training) or linear (fine-tuning) decay to 0.
  - :func:`pretrain` (L1 on random windows of a token stream), :func:`encode_task` (examples ->
    :class:`TaskTensors`), :func:`new_classifier` (pre-trained or from scratch), :func:`finetune` (L3),
    :func:`accuracy`, :func:`few_label_runs` (the chapter's experiments, recipe :data:`FINETUNE_SETTINGS`).
  - :func:`load_pretrained` loads the shipped toy checkpoint ``gptcourse/checkpoints/ch04/gpt1_toy.pt``;
    ``python -m gptcourse.ch04_gpt1 pretrain --out gptcourse/checkpoints/ch04/gpt1_toy.pt`` reproduces it.

The toy data (an unlabelled corpus, a sentiment, an entailment and a multiple-choice task) are in
:mod:`gptcourse.gpt1_data`.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gptcourse import default_device
from gptcourse.ch03_transformer import FeedForward, MultiHeadAttention, causal_mask

# ---------------------------------------------------------------------------------------------
# 1. The model: a decoder-only Transformer with tied input and output embeddings
# ---------------------------------------------------------------------------------------------


@dataclass
class GPT1Config:
    """Sizes of a GPT-1; the defaults are the paper's (section 4.1) with the released vocabulary."""

    vocab_size: int = 40478  # the released model: 40,000 BPE merges plus the base symbols
    n_positions: int = 512  # context size k
    d_model: int = 768
    n_layers: int = 12
    n_heads: int = 12
    d_ff: int = 3072
    dropout: float = 0.1  # embedding and residual dropout
    init_std: float = 0.02  # weights ~ N(0, 0.02)


def toy_config(vocab_size: int) -> GPT1Config:
    """The course's GPT-1: the same architecture, small enough to pre-train on a laptop CPU in minutes."""
    return GPT1Config(vocab_size=vocab_size, n_positions=64, d_model=64, n_layers=2, n_heads=4, d_ff=256,
                      dropout=0.1)


class GELUFeedForward(FeedForward):
    """FFN(x) = GELU(x W_1 + b_1) W_2 + b_2: chapter 3's feed-forward network with GELU for ReLU.

    GELU(x) = x * Phi(x) (Phi: the standard normal CDF), in the tanh approximation GPT-1's code uses.
    """

    def forward(self, x):
        return self.W_2(F.gelu(self.W_1(x), approximate="tanh"))


class Block(nn.Module):
    """One GPT-1 block: masked multi-head self-attention, then the GELU feed-forward network, post-LN.

    x = LayerNorm(x + Dropout(MaskedSelfAttention(x))); x = LayerNorm(x + Dropout(FFN(x))).
    It is chapter 3's encoder layer with a causal mask: position i attends to positions <= i only,
    so the output at i never depends on a later token. ``forward(x)``: (B, L, d_model) -> same.
    """

    def __init__(self, config: GPT1Config):
        super().__init__()
        self.self_attn = MultiHeadAttention(config.d_model, config.n_heads)
        self.ffn = GELUFeedForward(config.d_model, config.d_ff)
        self.norm1 = nn.LayerNorm(config.d_model)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
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

    ``W_e`` holds one row per token, ``W_p`` one row per position 0 ... n_positions - 1 (learned,
    not sinusoidal). The output layer is W_e itself: the logits are h_n W_e^T, so a token's input
    vector and its output vector are one tensor (weight tying). ``hidden(U)`` returns h_n, (B, L, d_model);
    ``forward(U)`` the logits, (B, L, vocab_size); the logits at position i score u_{i+1}.
    """

    def __init__(self, config: GPT1Config):
        super().__init__()
        self.config = config
        self.W_e = nn.Embedding(config.vocab_size, config.d_model)
        self.W_p = nn.Embedding(config.n_positions, config.d_model)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        init_weights(self, config.init_std)

    def hidden(self, U):
        positions = torch.arange(U.size(1), device=U.device)
        h = self.dropout(self.W_e(U) + self.W_p(positions))
        for block in self.blocks:
            h = block(h)
        return h

    def forward(self, U):
        return self.hidden(U) @ self.W_e.weight.T


def count_parameters(model: nn.Module) -> int:
    """The number of distinct parameter elements (a tied tensor counts once)."""
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def generate(model: GPT1, ids, n_new: int, temperature: float = 1.0, top_k: int | None = None, generator=None):
    """Sample ``n_new`` tokens after the prompt ``ids`` (a list of ints); returns prompt + new ids.

    Each step reruns the model on the last ``n_positions`` tokens (no cache: chapter 5 adds one),
    divides the last logits by ``temperature``, keeps the ``top_k`` best, and samples from the softmax.
    ``temperature=0`` is greedy decoding.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = list(ids)
    for _ in range(n_new):
        U = torch.tensor([out[-model.config.n_positions:]], device=device)
        logits = model(U)[0, -1]
        if temperature == 0:
            next_id = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k is not None:
                kth = torch.topk(logits, min(top_k, logits.numel())).values[-1]
                logits = logits.masked_fill(logits < kth, float("-inf"))
            next_id = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=generator))
        out.append(next_id)
    model.train(was_training)
    return out


# ---------------------------------------------------------------------------------------------
# 2. The objectives: L1 (language modelling), L2 (the task), L3 = L2 + lam * L1
# ---------------------------------------------------------------------------------------------


def lm_loss(logits, U, pad_id=None):
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

    def __init__(self, lm: GPT1, n_classes: int, dropout: float = 0.1):
        super().__init__()
        self.lm = lm
        self.dropout = nn.Dropout(dropout)
        self.W_y = nn.Linear(lm.config.d_model, n_classes)
        nn.init.normal_(self.W_y.weight, std=lm.config.init_std)
        nn.init.zeros_(self.W_y.bias)

    def features(self, X, last):
        h = self.lm.hidden(X)
        h_last = h[torch.arange(X.size(0), device=X.device), last]
        return h_last, h @ self.lm.W_e.weight.T

    def forward(self, X, last):
        h_last, lm_logits = self.features(X, last)
        return self.W_y(self.dropout(h_last)), lm_logits


def l3_loss(class_logits, y, lm_logits, X, lam, pad_id=None):
    """-L3 = -(L2 + lam * L1), each as a mean: cross-entropy(class_logits, y) + lam * lm_loss(lm_logits, X).

    L2 is the log-likelihood of the labels (eq. 4); L1 the language-model log-likelihood of the
    task's own inputs (eq. 1); lam = 0 is plain fine-tuning, the paper uses lam = 0.5.
    """
    return F.cross_entropy(class_logits, y) + lam * lm_loss(lm_logits, X, pad_id)


def similarity_logits(clf: GPT1Classifier, X, last):
    """Similarity (Figure 1): both orderings of the pair, the two h_l^m added element-wise, then W_y.

    X: (B, 2, L) with row 0 = ``[start] a [delim] b [extract]`` and row 1 = the other order;
    last: (B, 2). Returns (class logits (B, n_classes), LM logits (2B, L, vocab)).
    """
    B, two, L = X.shape
    h, lm_logits = clf.features(X.reshape(B * two, L), last.reshape(B * two))
    h = h.view(B, two, -1).sum(1)
    return clf.W_y(clf.dropout(h)), lm_logits


def multiple_choice_logits(clf: GPT1Classifier, X, last):
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

END_OF_WORD = "</w>"


def word_symbols(word: str) -> tuple:
    """A word as its initial symbols: its characters, the last one marked as word-final.

    'low' -> ('l', 'o', 'w</w>'): the marker keeps 'est' at the end of 'lowest' apart from 'est' in 'estate'.
    """
    return tuple(word[:-1]) + (word[-1] + END_OF_WORD,)


def pair_counts(vocab):
    """How often each pair of adjacent symbols occurs: {(a, b): count}, every word weighted by its frequency.

    ``vocab`` maps a word, as a tuple of symbols, to its frequency in the corpus.
    """
    counts = {}
    for symbols, freq in vocab.items():
        for pair in zip(symbols, symbols[1:]):  # noqa: B905 - adjacent pairs; answer code, as in ch04-gpt1.ipynb
            counts[pair] = counts.get(pair, 0) + freq
    return counts


def merge_pair(vocab, pair):
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


def bpe_merge_step(vocab):
    """One step of BPE learning: the most frequent adjacent pair, and the vocab with it merged.

    Ties go to the smallest pair in Python's tuple order, so the result is deterministic.
    Returns (pair, new_vocab), or (None, vocab) when no word has two symbols left.
    """
    counts = pair_counts(vocab)
    if not counts:
        return None, vocab
    best = min(counts, key=lambda pair: (-counts[pair], pair))
    return best, merge_pair(vocab, best)


def word_frequencies(texts) -> dict:
    """{word as initial symbols: frequency} over whitespace-separated words of ``texts``."""
    freqs = {}
    for text in texts:
        for word in text.split():
            freqs[word] = freqs.get(word, 0) + 1
    return {word_symbols(w): f for w, f in sorted(freqs.items())}


def learn_bpe(texts, n_merges: int):
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

    def __init__(self, base, merges):
        self.base, self.merges = list(base), [tuple(m) for m in merges]
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        symbols = self.base + [a + b for a, b in self.merges] + list(self.SPECIALS)
        self.id_of = {s: i for i, s in enumerate(symbols)}
        self.symbols = symbols
        self.pad_id, self.unk_id, self.start_id, self.delim_id, self.extract_id = (
            self.id_of[s] for s in self.SPECIALS)
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

    def decode(self, ids) -> str:
        text = "".join(self.symbols[i] if self.symbols[i] not in self.SPECIALS else f" {self.symbols[i]} "
                       for i in ids)
        return " ".join(text.replace(END_OF_WORD, " ").split())

    def to_dict(self) -> dict:
        return {"base": self.base, "merges": [list(m) for m in self.merges]}

    @classmethod
    def from_dict(cls, d: dict) -> "BPETokenizer":
        return cls(d["base"], [tuple(m) for m in d["merges"]])


# ---------------------------------------------------------------------------------------------
# 4. Task-specific input transformations (Figure 1)
# ---------------------------------------------------------------------------------------------


def classification_input(tok: BPETokenizer, text: str) -> list:
    """Classification: ``[start] text [extract]``."""
    return [tok.start_id] + tok.encode(text) + [tok.extract_id]


def entailment_input(tok, premise, hypothesis):
    """Entailment: ``[start] premise [delim] hypothesis [extract]``."""
    return [tok.start_id] + tok.encode(premise) + [tok.delim_id] + tok.encode(hypothesis) + [tok.extract_id]


def similarity_inputs(tok: BPETokenizer, a: str, b: str) -> list:
    """Similarity: no natural order, so both, ``[start] a [delim] b [extract]`` and ``[start] b [delim] a [extract]``."""
    return [entailment_input(tok, a, b), entailment_input(tok, b, a)]


def multiple_choice_inputs(tok, context, answers):
    """Multiple choice: ``[start] context [delim] answer_k [extract]`` for each answer k (a list of k lists)."""
    return [[tok.start_id] + tok.encode(context) + [tok.delim_id] + tok.encode(a) + [tok.extract_id] for a in answers]


def pad_batch(seqs, pad_id: int):
    """Right-pad id lists to one length: returns X (N, L) and last (N,), the index of each one's last token."""
    L = max(len(s) for s in seqs)
    X = torch.full((len(seqs), L), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        X[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return X, torch.tensor([len(s) - 1 for s in seqs])


# ---------------------------------------------------------------------------------------------
# 5. Training: pre-training with L1, fine-tuning with L3, and the experiments of the chapter
# ---------------------------------------------------------------------------------------------


def gpt1_lr(step: int, max_lr: float, warmup: int, total: int, decay: str = "cosine") -> float:
    """The learning rate at update ``step`` (0-based): linear warm-up over ``warmup`` updates to ``max_lr``,
    then to 0 at ``total`` along a cosine (pre-training, section 4.1) or a line (fine-tuning)."""
    s = step + 1
    if s <= warmup:
        return max_lr * s / warmup
    progress = min(1.0, (s - warmup) / max(1, total - warmup))
    if decay == "cosine":
        return max_lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return max_lr * (1.0 - progress)


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from . import progress

    return progress(iterable, desc=desc, mininterval=1.0)


def pretrain(model: GPT1, stream, steps: int, batch_size: int = 32, seq_len: int = 64, max_lr: float = 2.5e-3,
             warmup: int = 100, seed: int = 0, progress: bool = True, log_every: int = 1) -> list:
    """Pre-train ``model`` with L1 on random windows of the token ``stream`` (a 1-D LongTensor).

    ``model`` is any language model that maps ids (B, L) to logits (B, L, V) (chapter 5's GPT-2 too).

    Adam with GPT-1's schedule (linear warm-up, cosine to 0); returns the training loss (-L1 per
    token, in nats) every ``log_every`` updates.
    """
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=max_lr)
    device = next(model.parameters()).device
    model.train()
    losses = []
    for step in _progress(range(steps), progress, "pre-training (L1)"):
        for group in optimizer.param_groups:
            group["lr"] = gpt1_lr(step, max_lr, warmup, steps, "cosine")
        starts = torch.randint(0, len(stream) - seq_len, (batch_size,), generator=g)
        U = torch.stack([stream[s : s + seq_len] for s in starts.tolist()]).to(device)
        loss = lm_loss(model(U), U)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % log_every == 0:
            losses.append(loss.item())
    model.eval()
    return losses


@dataclass
class TaskTensors:
    """A labelled set, encoded: X (N, L) or (N, k, L) token ids, last (N,) or (N, k), labels y (N,)."""

    kind: str  # "classification" | "entailment" | "similarity" | "multiple_choice"
    X: torch.Tensor
    last: torch.Tensor
    y: torch.Tensor
    n_classes: int

    def __len__(self):
        return len(self.y)

    def subset(self, index):
        """The examples at ``index``, without the padding columns none of them needs."""
        X, last = self.X[index], self.last[index]
        L = int(last.max()) + 1 if last.numel() else X.size(-1)
        return TaskTensors(self.kind, X[..., :L], last, self.y[index], self.n_classes)


def encode_task(tok: BPETokenizer, kind: str, examples, n_classes: int = 2) -> TaskTensors:
    """Apply the input transformation of ``kind`` to ``examples`` and pad; see :mod:`gptcourse.gpt1_data`.

    classification: (text, label); entailment and similarity: (a, b, label);
    multiple_choice: (context, [answer_1 ... answer_k], index of the right answer).
    """
    if kind == "classification":
        seqs = [[classification_input(tok, text)] for text, _ in examples]
    elif kind == "entailment":
        seqs = [[entailment_input(tok, a, b)] for a, b, _ in examples]
    elif kind == "similarity":
        seqs = [similarity_inputs(tok, a, b) for a, b, _ in examples]
    elif kind == "multiple_choice":
        seqs = [multiple_choice_inputs(tok, context, answers) for context, answers, _ in examples]
    else:
        raise ValueError(f"unknown task kind {kind!r}")
    flat_X, flat_last = pad_batch([s for group in seqs for s in group], tok.pad_id)
    per = len(seqs[0])
    X, last = flat_X.view(len(seqs), per, -1), flat_last.view(len(seqs), per)
    if kind in ("classification", "entailment"):
        X, last = X[:, 0], last[:, 0]
    y = torch.tensor([ex[-1] for ex in examples])
    return TaskTensors(kind, X, last, y, 1 if kind == "multiple_choice" else n_classes)


def task_logits(clf: GPT1Classifier, kind: str, X, last):
    """Class logits (or answer scores) and LM logits for a batch of any task kind; also the flat inputs."""
    if kind == "similarity":
        logits, lm_logits = similarity_logits(clf, X, last)
    elif kind == "multiple_choice":
        logits, lm_logits = multiple_choice_logits(clf, X, last)
    else:
        logits, lm_logits = clf(X, last)
    return logits, lm_logits, X.reshape(-1, X.size(-1))


def new_classifier(pretrained: GPT1 | None, config: GPT1Config, n_classes: int, tok: BPETokenizer,
                   seed: int) -> GPT1Classifier:
    """A classifier on a copy of ``pretrained`` (or, if None, on a freshly initialised GPT1 of ``config``).

    As in the paper, ``[start]``, ``[delim]`` and ``[extract]`` are new at fine-tuning: their rows
    of W_e are drawn afresh from N(0, 0.02), whatever pre-training did to them.
    """
    torch.manual_seed(seed)
    lm = GPT1(config)
    if pretrained is not None:
        lm.load_state_dict(pretrained.state_dict())
        with torch.no_grad():
            for i in (tok.start_id, tok.delim_id, tok.extract_id):
                lm.W_e.weight[i].normal_(0.0, config.init_std)
    return GPT1Classifier(lm, n_classes)


def finetune(clf: GPT1Classifier, data: TaskTensors, lam: float = 0.5, epochs: int = 10, batch_size: int = 16,
             max_lr: float = 1e-3, warmup_frac: float = 0.1, min_steps: int = 0, pad_id: int | None = None,
             seed: int = 0) -> list:
    """Fine-tune on ``data`` by minimising -L3 = -(L2 + lam * L1); returns the loss of every update.

    Adam, linear warm-up over ``warmup_frac`` of the updates, then linear decay to 0 (section 4.1).
    ``min_steps``: repeat epochs until at least this many updates (tiny label budgets).
    """
    g = torch.Generator().manual_seed(seed)
    n = len(data)
    per_epoch = math.ceil(n / batch_size)
    epochs = max(epochs, math.ceil(min_steps / per_epoch))
    total = epochs * per_epoch
    optimizer = torch.optim.Adam(clf.parameters(), lr=max_lr)
    clf.train()
    losses, step = [], 0
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            batch = data.subset(order[i : i + batch_size])
            for group in optimizer.param_groups:
                group["lr"] = gpt1_lr(step, max_lr, max(1, int(warmup_frac * total)), total, "linear")
            logits, lm_logits, flat_X = task_logits(clf, data.kind, batch.X, batch.last)
            loss = l3_loss(logits, batch.y, lm_logits, flat_X, lam, pad_id)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            step += 1
    clf.eval()
    return losses


@torch.no_grad()
def accuracy(clf: GPT1Classifier, data: TaskTensors, batch_size: int = 512) -> float:
    """The fraction of ``data`` whose arg-max class (or answer) is the label."""
    clf.eval()
    correct = 0
    for i in range(0, len(data), batch_size):
        batch = data.subset(slice(i, i + batch_size))
        logits, _, _ = task_logits(clf, data.kind, batch.X, batch.last)
        correct += int((logits.argmax(-1) == batch.y).sum())
    return correct / len(data)


#: The fine-tuning recipe of the chapter's experiments, the same with and without pre-training. The
#: paper's (lr 6.25e-5, batch 32, 3 epochs) is for a large model and thousands of labels; a tiny model
#: and a few dozen labels need a larger rate and a minimum number of updates (a randomly initialised
#: model needs about 60 to leave its initial plateau; fewer would handicap the baseline).
FINETUNE_SETTINGS = {"epochs": 3, "min_steps": 60, "batch_size": 16, "max_lr": 5e-3, "warmup_frac": 0.1}


def few_label_runs(pretrained: GPT1, tok: BPETokenizer, pool: TaskTensors, test: TaskTensors, budgets, seeds,
                   inits=("pre-trained", "from scratch"), lams=(0.5,), progress: bool = True, **finetune_kw) -> list:
    """Fine-tune on ``budget`` examples drawn from ``pool`` for every (init, lam, budget, seed); test accuracy.

    Returns a list of dicts with keys init, lam, budget, seed, accuracy. The seed picks the labelled
    examples (a random subset of the pool), the new weights and the order of the batches; the same
    architecture, recipe (:data:`FINETUNE_SETTINGS`, overridden by ``finetune_kw``) and seeds are used
    with and without pre-training.
    """
    settings = {**FINETUNE_SETTINGS, **finetune_kw}
    jobs = [(init, lam, b, s) for init in inits for lam in lams for b in budgets for s in seeds]
    rows = []
    for init, lam, budget, seed in _progress(jobs, progress, f"fine-tuning ({pool.kind})"):
        g = torch.Generator().manual_seed(1000 + seed)
        train = pool.subset(torch.randperm(len(pool), generator=g)[:budget])
        clf = new_classifier(pretrained if init == "pre-trained" else None, pretrained.config, pool.n_classes,
                             tok, seed)
        finetune(clf, train, lam=lam, pad_id=tok.pad_id, seed=seed, **settings)
        rows.append({"init": init, "lam": lam, "budget": budget, "seed": seed, "accuracy": accuracy(clf, test)})
    return rows


# ---------------------------------------------------------------------------------------------
# 6. The shipped checkpoint and the command that reproduces it
# ---------------------------------------------------------------------------------------------

PRETRAINED_PATH = Path(__file__).parent / "checkpoints" / "ch04" / "gpt1_toy.pt"
#: How the shipped checkpoint was made (``python -m gptcourse.ch04_gpt1 pretrain``).
PRETRAIN_SETTINGS = {"n_merges": 400, "steps": 3000, "batch_size": 32, "seq_len": 64, "max_lr": 2.5e-3,
                     "warmup": 100, "seed": 0}


def build_tokenizer(n_merges: int = PRETRAIN_SETTINGS["n_merges"]) -> BPETokenizer:
    """The course tokenizer: ``n_merges`` BPE merges learned on the unlabelled corpus."""
    from gptcourse.gpt1_data import unlabelled_corpus

    return BPETokenizer(*learn_bpe(unlabelled_corpus(), n_merges))


def corpus_stream(tok: BPETokenizer) -> torch.Tensor:
    """The unlabelled corpus as one long 1-D tensor of token ids (documents back to back)."""
    from gptcourse.gpt1_data import unlabelled_corpus

    return torch.tensor(tok.encode(" ".join(unlabelled_corpus())), dtype=torch.long)


def run_pretraining(progress: bool = True, device: str = "cpu", **overrides):
    """Tokenizer + pre-trained toy GPT-1 from scratch with :data:`PRETRAIN_SETTINGS` (deterministic for a seed).

    Trains on ``device``; the model returned is on the CPU.
    """
    s = {**PRETRAIN_SETTINGS, **overrides}
    tok = build_tokenizer(s["n_merges"])
    torch.manual_seed(s["seed"])
    model = GPT1(toy_config(tok.vocab_size)).to(device)
    t0 = time.perf_counter()
    losses = pretrain(model, corpus_stream(tok), s["steps"], s["batch_size"], s["seq_len"], s["max_lr"],
                      s["warmup"], s["seed"], progress)
    info = {"settings": s, "losses": losses, "seconds": time.perf_counter() - t0, "torch": str(torch.__version__),
            "device": str(device)}
    return model.cpu(), tok, info


def save_checkpoint(path, model: GPT1, tok: BPETokenizer, info: dict) -> None:
    """Save config, tokenizer and weights (as float16, to keep the file small) and ``info``."""
    state = {k: v.half() for k, v in model.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": asdict(model.config), "tokenizer": tok.to_dict(), "state_dict": state, "info": info}, path)


def load_pretrained(path=None):
    """(model, tokenizer, info) from a checkpoint, default the shipped one; the model is float32, in eval mode."""
    ckpt = torch.load(path or PRETRAINED_PATH, map_location="cpu", weights_only=True)
    model = GPT1(GPT1Config(**ckpt["config"]))
    model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    model.eval()
    return model, BPETokenizer.from_dict(ckpt["tokenizer"]), ckpt["info"]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gptcourse.ch04_gpt1", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pretrain", help="pre-train the toy GPT-1 and save the checkpoint")
    p.add_argument("--out", default=str(PRETRAINED_PATH))
    p.add_argument("--device", default=None, help="cpu, cuda, mps... (default: the best one PyTorch sees)")
    for key, value in PRETRAIN_SETTINGS.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    overrides = {k: getattr(args, k) for k in PRETRAIN_SETTINGS}
    device = args.device or default_device()
    print(f"pre-training on {device}", flush=True)
    model, tok, info = run_pretraining(progress=True, device=device, **overrides)
    save_checkpoint(args.out, model, tok, info)
    print(f"saved {args.out}: {count_parameters(model):,} parameters, vocab {tok.vocab_size}, "
          f"final loss {sum(info['losses'][-50:]) / 50:.3f}, {info['seconds']:.0f} s")


if __name__ == "__main__":
    main()
