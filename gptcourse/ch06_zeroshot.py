"""Chapter 6: zero-shot task transfer (Radford et al. 2019, section 3) and the step to GPT-3's few-shot.

GPT-2 is trained only to predict the next token of web text, P(u_i | u_{i-k}, ..., u_{i-1}).
Section 3 of the paper evaluates it, *without any fine-tuning*, on tasks it was never trained
for, by reading the probabilities it assigns:

- **language modelling**: the perplexity exp(-(1/n) sum_i log P(u_i | u_<i)) of a held-out text,
  computed with a sliding window when the text is longer than the context;
- **LAMBADA**: the last word of a passage, predictable only from context far back (accuracy and
  the perplexity of the word);
- **Children's Book Test**: a cloze; each of 10 candidate words is put in the gap, and the one
  whose sentence the model finds most probable is the answer;
- **tasks by prompt**: a task written as text the model knows how to continue, e.g. a
  translation as ``english word = french word`` pairs, a summary after ``TL;DR:``, an answer
  after ``Q: ... A:``; the answer is the likeliest continuation (or the one it generates).

GPT-3 (Brown et al. 2020) keeps the same idea and puts k solved examples in the prompt
(*few-shot*, "in-context learning"): still no gradient step.

Everything here needs only a *causal language model*: a callable mapping token ids (B, T) to
logits (B, T, V) whose logits at position t score the token at t + 1, and a tokenizer with
``encode(text) -> list[int]`` and ``decode(ids) -> str``. Continuations carry their leading space
(`` Paris``), as GPT-2's byte-level tokenizer expects; word-level tokenizers simply ignore it.

Read top to bottom:

1. scoring (the exercise): :func:`continuation_logprob`, :func:`cloze_choice`,
   :func:`sliding_window_perplexity`, :func:`few_shot_prompt` (the tests use the tiny models with
   known answers of :mod:`gptcourse.testing`);
2. the same scores in batches, for speed (tests check they equal section 1's):
   :func:`gather_logprobs`, :func:`score_choices`, :func:`last_word_scores`,
   :func:`batched_perplexity`, :func:`greedy_continuations`.

The evaluation on mini-WebText (the Table-3-shaped comparison, few-shot, TL;DR) is
:mod:`gptcourse.ch06_evaluation`; the four models it compares are :mod:`gptcourse.ch06_models`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import torch
from torch.nn import functional as F

from gptcourse.data import mini_webtext as mw
from gptcourse.training import pad_sequences

BLANK = mw.BLANK
BATCH = 128  # rows per forward pass in the batched scorers: few, large passes are fastest on a CPU

# ---------------------------------------------------------------------------------------------
# 1. Scoring with a language model (the exercise)
# ---------------------------------------------------------------------------------------------


def continuation_logprob(
    model: Callable[[torch.Tensor], torch.Tensor], tokenizer: Any, prompt: str, continuation: str
) -> float:
    """log P(continuation | prompt) = sum_j log P(c_j | prompt, c_1 ... c_{j-1}), natural log.

    The prompt and the continuation are encoded separately and concatenated, so the score is
    over exactly the continuation's tokens. The logits at position t score the token at t + 1:
    the first continuation token is scored by the logits of the prompt's last position.
    """
    p, c = tokenizer.encode(prompt), tokenizer.encode(continuation)
    if not p:
        raise ValueError("the prompt must encode to at least one token")
    ids = torch.tensor([p + c])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids)[0].float(), dim=-1)
    positions = torch.arange(len(p) - 1, len(p) + len(c) - 1)
    return logp[positions, torch.tensor(c, dtype=torch.long)].sum().item()


def cloze_choice(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    text: str,
    candidates: Sequence[str],
    blank: str = BLANK,
) -> int:
    """The index of the candidate that best fills ``blank`` in ``text`` (Children's Book Test style).

    Each candidate is put in the gap and scored with the rest of the text after it,
    log P(candidate + rest | text before the gap): the words after the gap count too.
    """
    before, after = text.split(blank)
    prompt = before.rstrip()
    scores = [continuation_logprob(model, tokenizer, prompt, " " + cand + after) for cand in candidates]
    return max(range(len(candidates)), key=lambda i: scores[i])


def sliding_window_perplexity(
    model: Callable[[torch.Tensor], torch.Tensor], ids: Sequence[int] | torch.Tensor, window: int, stride: int
) -> float:
    """exp(-(1/n) sum_t log P(u_t | context)) over tokens u_1 ... u_{N-1} of a text longer than the context.

    Windows of ``window`` tokens start every ``stride`` tokens; each window scores only the
    tokens no earlier window scored, so every token but the first is scored exactly once, with
    at least ``window - stride`` tokens of context (fewer near the start). Needs 0 < stride < window.
    """
    if not 0 < stride < window:
        raise ValueError(f"need 0 < stride < window, got stride={stride}, window={window}")
    ids = torch.as_tensor(ids, dtype=torch.long)
    total, count, next_to_score, start = 0.0, 0, 1, 0
    while next_to_score < len(ids):
        chunk = ids[start : start + window]
        with torch.no_grad():
            logp = torch.log_softmax(model(chunk[None])[0].float(), dim=-1)
        targets = torch.arange(next_to_score, start + len(chunk))
        total -= logp[targets - start - 1, ids[targets]].sum().item()
        count += len(targets)
        next_to_score = start + len(chunk)
        start += stride
    return math.exp(total / count)


def few_shot_prompt(
    examples: Iterable[tuple[str, str]],
    query: str,
    template: str = "{x} = {y}",
    sep: str = "\n",
    instruction: str | None = None,
) -> str:
    """A prompt with k solved examples, then the query with its answer left out (GPT-3, Figure 2.1).

    Each example (x, y) is ``template`` filled in; the query is the template cut just before
    ``{y}``, trailing spaces removed (the answer is scored as a continuation with a leading
    space). Parts are joined with ``sep``; an ``instruction`` (a task description) comes first.
    k = 0 is zero-shot: the query alone.
    """
    lines = [] if instruction is None else [instruction]
    lines += [template.format(x=x, y=y) for x, y in examples]
    lines.append(template.split("{y}")[0].format(x=query).rstrip())
    return sep.join(lines)


# ---------------------------------------------------------------------------------------------
# 2. The same scores in batches (what the book runs; tests check they equal section 1's)
# ---------------------------------------------------------------------------------------------


def _device(model):
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


@torch.no_grad()
def gather_logprobs(
    model: Callable[[torch.Tensor], torch.Tensor],
    rows: Sequence[Sequence[int]],
    queries: Sequence[tuple[Sequence[int], Sequence[int]]],
    batch_size: int = BATCH,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Run the model on token lists ``rows`` and read off only what is asked.

    ``queries[i]`` is a pair (positions, targets) of equal-length lists for row i; returns, per
    row, (log P(targets[j] at positions[j]), whether targets[j] is the arg-max there), two 1-D
    tensors. Rows are sorted by length and right-padded in batches: with a causal model, padding
    after a row changes none of its logits.
    """
    device = _device(model)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out = [None] * len(rows)
    for b in range(0, len(order), batch_size):
        batch = order[b : b + batch_size]
        X = pad_sequences([rows[i] for i in batch])
        logits = model(X.to(device)).float()
        r_idx = torch.cat([torch.full((len(queries[i][0]),), r) for r, i in enumerate(batch)]).to(device)
        pos = torch.cat([torch.as_tensor(queries[i][0], dtype=torch.long) for i in batch]).to(device)
        tgt = torch.cat([torch.as_tensor(queries[i][1], dtype=torch.long) for i in batch]).to(device)
        picked = logits[r_idx, pos]  # (number of queries, V)
        logp = (picked.gather(1, tgt[:, None])[:, 0] - torch.logsumexp(picked, dim=-1)).cpu()
        hit = (picked.argmax(-1) == tgt).cpu()
        start = 0
        for i in batch:
            n = len(queries[i][0])
            out[i] = (logp[start : start + n], hit[start : start + n])
            start += n
    return out


def score_choices(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    items: Iterable[tuple[str, Sequence[str]]],
    batch_size: int = BATCH,
) -> list[list[float]]:
    """Batched :func:`continuation_logprob`: ``items`` is a list of (prompt, [continuation, ...]).

    Returns, per item, the list of log P(continuation | prompt). When every continuation of an
    item is a single token, one forward pass of the prompt scores them all.
    """
    rows, queries, plan = [], [], []
    for prompt, continuations in items:
        p = tokenizer.encode(prompt)
        cs = [tokenizer.encode(c) for c in continuations]
        if all(len(c) == 1 for c in cs):
            plan.append((len(rows), None))
            rows.append(p)
            queries.append(([len(p) - 1] * len(cs), [c[0] for c in cs]))
        else:
            plan.append((len(rows), len(cs)))
            for c in cs:
                rows.append(p + c)
                queries.append((list(range(len(p) - 1, len(p) + len(c) - 1)), c))
    got = gather_logprobs(model, rows, queries, batch_size)
    scores = []
    for first, n in plan:
        if n is None:
            scores.append(got[first][0].tolist())
        else:
            scores.append([got[first + j][0].sum().item() for j in range(n)])
    return scores


def cloze_requests(text: str, candidates: Iterable[str], blank: str = BLANK) -> tuple[str, list[str]]:
    """The (prompt, continuations) pair :func:`cloze_choice` scores, for :func:`score_choices`."""
    before, after = text.split(blank)
    return before.rstrip(), [" " + cand + after for cand in candidates]


def last_word_scores(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    items: Iterable[tuple[str, str]],
    batch_size: int = BATCH,
) -> list[tuple[float, bool]]:
    """LAMBADA scores: per (context, word), log P(word | context) and whether greedy decoding gives it.

    ``greedy`` is True when every token of the word is the arg-max given the context and the
    word's earlier tokens (teacher forcing), i.e. greedy decoding would produce the word.
    """
    rows, queries = [], []
    for context, word in items:
        p, c = tokenizer.encode(context), tokenizer.encode(" " + word)
        rows.append(p + c)
        queries.append((list(range(len(p) - 1, len(p) + len(c) - 1)), c))
    return [(logp.sum().item(), bool(hit.all())) for logp, hit in gather_logprobs(model, rows, queries, batch_size)]


def _scored_windows(n_tokens: int, window: int, stride: int) -> list[tuple[int, int, int]]:
    """The windows of :func:`sliding_window_perplexity` over a text of ``n_tokens`` tokens, as (start, first, end):
    the window reads tokens start ... end - 1 and scores first ... end - 1 (the tokens no earlier window scored)."""
    if not 0 < stride < window:
        raise ValueError(f"need 0 < stride < window, got stride={stride}, window={window}")
    spans, first, start = [], 1, 0
    while first < n_tokens:
        end = min(start + window, n_tokens)
        spans.append((start, first, end))
        first, start = end, start + stride
    return spans


def batched_perplexity(
    model: Callable[[torch.Tensor], torch.Tensor], ids: Iterable[int], window: int, stride: int, batch_size: int = BATCH
) -> float:
    """:func:`sliding_window_perplexity` with its windows run in batches: the same windows, the same value."""
    ids = [int(i) for i in ids]
    windows = _scored_windows(len(ids), window, stride)
    rows = [ids[start:end] for start, _, end in windows]
    # window (start, first, end) scores ids[first:end]; the logits at position t - 1 of the text score token t
    queries = [([t - start - 1 for t in range(first, end)], ids[first:end]) for start, first, end in windows]
    got = gather_logprobs(model, rows, queries, batch_size)
    return math.exp(-sum(logp.sum().item() for logp, _ in got) / sum(len(q[0]) for q in queries))


@torch.no_grad()
def greedy_continuations(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    prompts: Iterable[str],
    max_new_tokens: int,
    max_len: int | None = None,
    stop_id: int | None = None,
) -> list[list[int]]:
    """Greedy decoding of several prompts at once, with the minimal interface (no cache).

    The prompts are right-padded into one batch; at every step each row's next token is the
    arg-max of the logits at its own last position, and is written just after it. ``max_len``
    (the model's context) keeps only the last ``max_len - max_new_tokens`` prompt tokens.
    Decoding ends early once every row has produced ``stop_id``. Returns the new token ids of
    each prompt (up to ``max_new_tokens``).
    """
    device = _device(model)
    encoded = [tokenizer.encode(p) for p in prompts]
    if max_len is not None:
        encoded = [e[-(max_len - max_new_tokens) :] for e in encoded]
    lengths = torch.tensor([len(e) for e in encoded])
    X = F.pad(pad_sequences(encoded), (0, max_new_tokens))  # room for the new tokens after the longest prompt
    X, rows = X.to(device), torch.arange(len(encoded), device=device)
    ends = lengths.to(device)
    stopped = torch.zeros(len(encoded), dtype=torch.bool, device=device)
    steps = 0
    while steps < max_new_tokens and not bool(stopped.all()):
        logits = model(X[:, : int(ends.max())])
        new = logits[rows, ends - 1].argmax(-1)
        X[rows, ends] = new
        if stop_id is not None:
            stopped |= new == stop_id
        ends, steps = ends + 1, steps + 1
    return [X[r, len(e) : len(e) + steps].tolist() for r, e in enumerate(encoded)]
