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
   :func:`sliding_window_perplexity`, :func:`few_shot_prompt`; tiny models with known answers
   (:class:`BigramLM`, :class:`PositionLM`) and :class:`WordTokenizer` for the tests;
2. the same scores in batches, for speed (tests check they equal section 1's):
   :func:`gather_logprobs`, :func:`score_choices`, :func:`last_word_scores`,
   :func:`batched_perplexity`, :func:`greedy_continuations`;
3. the evaluation on mini-WebText (:mod:`gptcourse.mini_webtext`): :func:`evaluate` (the
   Table-3-shaped row of one model, columns :data:`COLUMNS`), :func:`few_shot_curve`,
   :func:`qa_confusions`, :func:`tldr_experiment` (TL;DR summaries, :func:`rouge1`), the paper's
   :data:`PAPER_TABLE3`, and :func:`evaluate_released_gpt2` for the real GPT-2 (never downloads);
4. the models: chapter 5's GPT-2 at four sizes (:data:`SIZES`), trained on mini-WebText with
   chapter 4's pre-training loop and tokenised with chapter 4's BPE; :func:`train_all` makes
   the shipped checkpoints (``python -m gptcourse.ch06_zeroshot train``, deterministic for a
   given machine, torch version and thread count; the shipped ones used one thread),
   :func:`load_models` loads them.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from gptcourse import default_device
from gptcourse import mini_webtext as mw
from gptcourse.ch04_gpt1 import BPETokenizer, learn_bpe, pretrain
from gptcourse.ch05_gpt2 import GPT2, GPT2Config

BLANK = mw.BLANK
BATCH = 128  # rows per forward pass in the batched scorers: few, large passes are fastest on a CPU

# ---------------------------------------------------------------------------------------------
# 1. Scoring with a language model (the exercise)
# ---------------------------------------------------------------------------------------------


def continuation_logprob(model, tokenizer, prompt, continuation):
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


def cloze_choice(model, tokenizer, text, candidates, blank=BLANK):
    """The index of the candidate that best fills ``blank`` in ``text`` (Children's Book Test style).

    Each candidate is put in the gap and scored with the rest of the text after it,
    log P(candidate + rest | text before the gap): the words after the gap count too.
    """
    before, after = text.split(blank)
    prompt = before.rstrip()
    scores = [continuation_logprob(model, tokenizer, prompt, " " + cand + after) for cand in candidates]
    return max(range(len(candidates)), key=lambda i: scores[i])


def sliding_window_perplexity(model, ids, window, stride):
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


def few_shot_prompt(examples, query, template="{x} = {y}", sep="\n", instruction=None):
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


class WordTokenizer:
    """Words <-> ids for a fixed vocabulary (whitespace splitting); a stand-in for any tokenizer."""

    def __init__(self, vocab):
        self.vocab = list(vocab)
        self.id_of = {w: i for i, w in enumerate(self.vocab)}

    @property
    def vocab_size(self):
        return len(self.vocab)

    def encode(self, text):
        return [self.id_of[w] for w in text.split()]

    def decode(self, ids):
        return " ".join(self.vocab[int(i)] for i in ids)


class BigramLM(nn.Module):
    """A causal LM whose logits at position t depend only on the token at t: a table (V, V).

    With it every log-probability is known in closed form, log_softmax(table[u_{t-1}])[u_t].
    """

    def __init__(self, vocab_size, seed=0, scale=2.0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.table = nn.Parameter(torch.randn(vocab_size, vocab_size, generator=g) * scale)

    def forward(self, ids):
        return self.table[ids]


class PositionLM(nn.Module):
    """A causal LM that only counts: at the t-th position of its input (t = 0, 1, ...) it predicts
    token min(t, V - 1) with logit ``confidence`` and every other token with logit 0.

    Its log-probabilities depend on where a token sits in the window, so it shows exactly
    which context a sliding window gave each token.
    """

    def __init__(self, vocab_size, confidence=3.0):
        super().__init__()
        self.vocab_size, self.confidence = vocab_size, confidence

    def forward(self, ids):
        B, T = ids.shape
        logits = torch.zeros(B, T, self.vocab_size)
        logits[:, torch.arange(T), torch.arange(T).clamp(max=self.vocab_size - 1)] = self.confidence
        return logits


# ---------------------------------------------------------------------------------------------
# 2. The same scores in batches (what the book runs; tests check they equal section 1's)
# ---------------------------------------------------------------------------------------------


def _device(model):
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration):
        return torch.device("cpu")


@torch.no_grad()
def gather_logprobs(model, rows, queries, batch_size=BATCH):
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
        L = max(len(rows[i]) for i in batch)
        X = torch.zeros(len(batch), L, dtype=torch.long)
        for r, i in enumerate(batch):
            X[r, : len(rows[i])] = torch.tensor(rows[i])
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


def score_choices(model, tokenizer, items, batch_size=BATCH):
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


def cloze_requests(text, candidates, blank=BLANK):
    """The (prompt, continuations) pair :func:`cloze_choice` scores, for :func:`score_choices`."""
    before, after = text.split(blank)
    return before.rstrip(), [" " + cand + after for cand in candidates]


def last_word_scores(model, tokenizer, items, batch_size=BATCH):
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


def batched_perplexity(model, ids, window, stride, batch_size=BATCH):
    """:func:`sliding_window_perplexity` with its windows run in batches: the same windows, the same value."""
    if not 0 < stride < window:
        raise ValueError(f"need 0 < stride < window, got stride={stride}, window={window}")
    ids = [int(i) for i in ids]
    rows, queries, next_to_score, start = [], [], 1, 0
    while next_to_score < len(ids):
        chunk = ids[start : start + window]
        targets = range(next_to_score, start + len(chunk))
        rows.append(chunk)
        queries.append(([t - start - 1 for t in targets], [ids[t] for t in targets]))
        next_to_score = start + len(chunk)
        start += stride
    got = gather_logprobs(model, rows, queries, batch_size)
    return math.exp(-sum(logp.sum().item() for logp, _ in got) / sum(len(q[0]) for q in queries))


@torch.no_grad()
def greedy_continuations(model, tokenizer, prompts, max_new_tokens, max_len=None, stop_id=None):
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
        encoded = [e[-(max_len - max_new_tokens):] for e in encoded]
    lengths = torch.tensor([len(e) for e in encoded])
    X = torch.zeros(len(encoded), int(lengths.max()) + max_new_tokens, dtype=torch.long)
    for r, e in enumerate(encoded):
        X[r, : len(e)] = torch.tensor(e)
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


# ---------------------------------------------------------------------------------------------
# 3. Evaluating on mini-WebText
# ---------------------------------------------------------------------------------------------

#: The columns of the chapter's Table-3-shaped table: (key, heading, "ppl" or "acc").
COLUMNS = [
    ("lambada_ppl", "LAMBADA-like (PPL)", "ppl"),
    ("lambada_acc", "LAMBADA-like (ACC)", "acc"),
    ("cbt_cn", "CBT-CN-like (ACC)", "acc"),
    ("cbt_ne", "CBT-NE-like (ACC)", "acc"),
    ("heldout_ppl", "held-out text (PPL)", "ppl"),
    ("sentiment", "sentiment (ACC)", "acc"),
    ("translation", "translation (ACC)", "acc"),
    ("qa", "QA (ACC)", "acc"),
]


def _accuracy(scores, answers):
    return sum(max(range(len(s)), key=s.__getitem__) == a for s, a in zip(scores, answers, strict=True)) / len(answers)


def demonstrations_for(task, k, seed=0):
    """The ``k`` demonstrations each query's prompt gets: drawn at random (seeded) from the pool."""
    rng = random.Random(seed)
    return [rng.sample(task.demonstrations, k) if k else [] for _ in task.queries]


def prompt_task_items(task, k=0, seed=0, instruction=None):
    """(prompt, continuations) for every query of a :class:`~gptcourse.mini_webtext.PromptTask`, with
    ``k`` demonstrations per prompt (:func:`demonstrations_for`)."""
    return [(few_shot_prompt(shots, x, task.template, instruction=instruction), [" " + c for c in candidates])
            for (x, candidates, _), shots in zip(task.queries, demonstrations_for(task, k, seed), strict=True)]


def qa_confusions(model, tokenizer, task, k, seed=0, batch_size=BATCH):
    """Why few-shot QA goes wrong: how many wrong answers are the asked fact of a town in the demonstrations.

    Returns (wrong, from_demonstration_towns, expected), where ``expected`` is how many would be,
    on average, if each wrong answer were a uniformly random wrong candidate.
    """
    w = mw.world()
    attribute = {question.split("{name}")[0]: attr for question, attr in mw.QA_TEMPLATES}
    scores = score_choices(model, tokenizer, prompt_task_items(task, k, seed), batch_size)
    wrong = hits = 0
    expected = 0.0
    for s, (x, candidates, answer), shots in zip(scores, task.queries, demonstrations_for(task, k, seed), strict=True):
        guess = max(range(len(s)), key=s.__getitem__)
        if guess == answer:
            continue
        attr = next(a for prefix, a in attribute.items() if x.startswith(prefix))
        towns = [t for t in w.towns if any(f" {t.name} " in f" {q} " for q, _ in shots)]
        theirs = {getattr(t, attr) for t in towns} - {candidates[answer]}
        wrong += 1
        hits += candidates[guess] in theirs
        expected += len(theirs & set(candidates)) / (len(candidates) - 1)
    return wrong, hits, expected


def few_shot_curve(model, tokenizer, task, shots, seed=0, instruction=None, batch_size=BATCH):
    """Accuracy on ``task`` with k examples in every prompt, for each k in ``shots`` (k = 0: zero-shot)."""
    items = [item for k in shots for item in prompt_task_items(task, k, seed, instruction)]
    scores = score_choices(model, tokenizer, items, batch_size)
    n, answers = len(task.queries), [a for _, _, a in task.queries]
    return [_accuracy(scores[i * n : (i + 1) * n], answers) for i in range(len(shots))]


def few_shot_accuracy(model, tokenizer, task, k, seed=0, instruction=None, batch_size=BATCH):
    """Accuracy on ``task`` with ``k`` examples in every prompt (k = 0: zero-shot)."""
    return few_shot_curve(model, tokenizer, task, [k], seed, instruction, batch_size)[0]


def sentiment_items(items):
    """(prompt, continuations) for the sentiment set: every positive, then every negative word."""
    words = [" " + w for w in mw.POSITIVE + mw.NEGATIVE]
    return [(prompt, words) for prompt, _ in items]


def sentiment_accuracy_from_scores(scores, items):
    """Zero-shot sentiment: is P(a positive word | review + prompt) > P(a negative word | ...)?

    Each class is the set of its words (:data:`~gptcourse.mini_webtext.POSITIVE`,
    :data:`~gptcourse.mini_webtext.NEGATIVE`); a class's probability is the sum over its words,
    so the model is not penalised for preferring ``superb`` to ``good``.
    """
    n = len(mw.POSITIVE)
    correct = 0
    for s, (_, label) in zip(scores, items, strict=True):
        s = torch.tensor(s)
        positive = torch.logsumexp(s[:n], 0) > torch.logsumexp(s[n:], 0)
        correct += int(bool(positive) == bool(label))
    return correct / len(items)


def perplexity_of_documents(model, tokenizer, docs, window, stride, batch_size=BATCH):
    """Perplexity over held-out documents joined as in training (:func:`batched_perplexity`)."""
    ids = tokenizer.encode(f" {mw.EOT} ".join(d.text for d in docs))
    return batched_perplexity(model, ids, window, stride, batch_size)


def evaluate(model, tokenizer, sets=None, window=128, stride=96, batch_size=BATCH, tasks=None):
    """One row of the chapter's table: every metric of :data:`COLUMNS` (or those in ``tasks``).

    ``sets`` are :func:`gptcourse.mini_webtext.evaluation_sets` (computed if None). Accuracies are
    fractions; perplexities are per token (held-out text) or per word (LAMBADA). The choice tasks
    are scored together, so that the forward passes are few and full.
    """
    sets = sets or mw.evaluation_sets()
    tasks = tasks or [key for key, _, _ in COLUMNS]
    model.eval()
    row = {}
    if "lambada_ppl" in tasks or "lambada_acc" in tasks:
        scores = last_word_scores(model, tokenizer, [(it.context, it.target) for it in sets["lambada"]], batch_size)
        row["lambada_ppl"] = math.exp(-sum(s for s, _ in scores) / len(scores))
        row["lambada_acc"] = sum(g for _, g in scores) / len(scores)
    if "heldout_ppl" in tasks:
        row["heldout_ppl"] = perplexity_of_documents(model, tokenizer, sets["heldout"], window, stride, batch_size)
    requests = {}  # task -> its (prompt, continuations) items
    for key in ("cbt_cn", "cbt_ne"):
        if key in tasks:
            requests[key] = [cloze_requests(it.text, it.candidates) for it in sets[key]]
    if "sentiment" in tasks:
        requests["sentiment"] = sentiment_items(sets["sentiment"])
    for key in ("translation", "qa"):
        if key in tasks:
            requests[key] = prompt_task_items(sets[key], 0)
    scores = score_choices(model, tokenizer, [item for items in requests.values() for item in items], batch_size)
    start = 0
    for key, items in requests.items():
        got, start = scores[start : start + len(items)], start + len(items)
        if key == "sentiment":
            row[key] = sentiment_accuracy_from_scores(got, sets["sentiment"])
        elif key in ("cbt_cn", "cbt_ne"):
            row[key] = _accuracy(got, [it.answer for it in sets[key]])
        else:
            row[key] = _accuracy(got, [a for _, _, a in sets[key].queries])
    return row


def chance_row(sets=None):
    """What guessing scores: 1 / (number of candidates) for the choice tasks (None for the rest)."""
    sets = sets or mw.evaluation_sets()
    mean = lambda xs: sum(xs) / len(xs)
    return {"cbt_cn": mean([1 / len(it.candidates) for it in sets["cbt_cn"]]),
            "cbt_ne": mean([1 / len(it.candidates) for it in sets["cbt_ne"]]),
            "sentiment": 0.5,
            "translation": mean([1 / len(c) for _, c, _ in sets["translation"].queries]),
            "qa": mean([1 / len(c) for _, c, _ in sets["qa"].queries])}


def summarise(model, tokenizer, articles, hint="TL;DR:", max_new_tokens=14, stop="."):
    """Greedy continuations of each news article + newline + ``hint``, each cut after its first ``stop``.

    ``hint`` is one string or one per article; ``""`` continues the bare article (the paper's
    ablation without the task hint).
    """
    hints = [hint] * len(articles) if isinstance(hint, str) else list(hint)
    prompts = [f"local news : {a}" + (f"\n{h}" if h else "") for a, h in zip(articles, hints, strict=True)]
    n_ctx = getattr(getattr(model, "config", None), "n_ctx", None)
    stop_ids = tokenizer.encode(f" {stop}")
    out = []
    for ids in greedy_continuations(model, tokenizer, prompts, max_new_tokens, n_ctx,
                                    stop_ids[0] if len(stop_ids) == 1 else None):
        words = tokenizer.decode(ids).split()
        out.append(" ".join(words[: words.index(stop) + 1] if stop in words else words))
    return out


def rouge1(candidate, reference):
    """ROUGE-1 F1: the harmonic mean of unigram precision and recall (clipped counts), 0 ... 1."""
    from collections import Counter

    c, r = Counter(candidate.split()), Counter(reference.split())
    overlap = sum((c & r).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / sum(c.values()), overlap / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def key_facts(item):
    """The three facts a summary of a :class:`~gptcourse.mini_webtext.NewsItem` must get right."""
    return {"town": item.town, "event": item.event, "host": item.host}


def summary_scores(items, summaries):
    """Mean ROUGE-1 F1 and the fraction of the key facts (town, event, host) the summaries name."""
    rouge = sum(rouge1(summary, item.summary) for item, summary in zip(items, summaries, strict=True)) / len(items)
    facts = sum(sum(f" {v} " in f" {summary} " for v in key_facts(item).values()) / 3
                for item, summary in zip(items, summaries, strict=True)) / len(items)
    return {"rouge1": rouge, "facts": facts, "summaries": list(summaries)}


def tldr_scores(model, tokenizer, items, hint="TL;DR:"):
    """:func:`summary_scores` of the model's summaries of ``items`` after ``hint``."""
    return summary_scores(items, summarise(model, tokenizer, [item.article for item in items], hint))


def tldr_experiment(model, tokenizer, items, tricky):
    """The chapter's three TL;DR runs in one batch: ``items`` with and without the hint, ``tricky`` with it."""
    articles = [it.article for it in items] * 2 + [it.article for it in tricky]
    hints = ["TL;DR:"] * len(items) + [""] * len(items) + ["TL;DR:"] * len(tricky)
    out = summarise(model, tokenizer, articles, hints)
    n = len(items)
    return {"hint": summary_scores(items, out[:n]), "no_hint": summary_scores(items, out[n : 2 * n]),
            "distractor": summary_scores(tricky, out[2 * n :])}


def random_sentences_baseline(items, n=3, seed=0):
    """The paper's baseline: n random sentences of the article as the 'summary' (mean ROUGE-1 F1)."""
    rng = random.Random(seed)
    total = 0.0
    for item in items:
        sentences = [s.strip() + " ." for s in item.article.split(" .") if s.strip()]
        total += rouge1(" ".join(rng.sample(sentences, min(n, len(sentences)))), item.summary)
    return total / len(items)


#: The paper's Table 3 (zero-shot results; as in the source slides). Columns: (dataset, metric);
#: rows: the previous state of the art, then the four GPT-2 sizes (named by the paper's counts).
PAPER_TABLE3_COLUMNS = [("LAMBADA", "PPL"), ("LAMBADA", "ACC"), ("CBT-CN", "ACC"), ("CBT-NE", "ACC"),
                        ("WikiText2", "PPL"), ("PTB", "PPL"), ("enwik8", "BPB"), ("text8", "BPC"),
                        ("WikiText103", "PPL"), ("1BW", "PPL")]
PAPER_TABLE3 = {
    "SOTA": [99.8, 59.23, 85.7, 82.3, 39.14, 46.54, 0.99, 1.08, 18.3, 21.8],
    "117M": [35.13, 45.99, 87.65, 83.4, 29.41, 65.85, 1.16, 1.17, 37.50, 75.20],
    "345M": [15.60, 55.48, 92.35, 87.1, 22.76, 47.33, 1.01, 1.06, 26.37, 55.72],
    "762M": [10.87, 60.12, 93.45, 88.0, 19.93, 40.31, 0.97, 1.02, 22.05, 44.575],
    "1542M": [8.63, 63.24, 93.30, 89.05, 18.34, 35.76, 0.93, 0.98, 17.48, 42.16],
}


def higher_is_better(metric):
    """Accuracy: higher is better; perplexity, bits per byte / character: lower is better."""
    return metric == "ACC"


def beats(a, b, metric):
    return a > b if higher_is_better(metric) else a < b


#: The tasks that make sense for the released GPT-2: they need no mini-WebText facts or Lumic.
RELEASED_GPT2_TASKS = ["lambada_ppl", "lambada_acc", "cbt_cn", "cbt_ne", "sentiment"]


def evaluate_released_gpt2(name="gpt2", sets=None, folder=None, batch_size=8):
    """The same evaluation on a released GPT-2 (chapter 5's loader and byte-level tokenizer).

    Uses the checkpoint in ``folder``, else one already on this machine
    (:func:`~gptcourse.ch05_gpt2.find_gpt2_checkpoint`); returns None when there is none. Never downloads.
    """
    from gptcourse.ch05_bpe import load_gpt2_bpe
    from gptcourse.ch05_gpt2 import find_gpt2_checkpoint, load_gpt2

    folder = folder or find_gpt2_checkpoint(name)
    if folder is None:
        return None
    return evaluate(load_gpt2(folder), load_gpt2_bpe(), sets, tasks=RELEASED_GPT2_TASKS, batch_size=batch_size)


# ---------------------------------------------------------------------------------------------
# 4. The models: GPT-2 (chapter 5) at four sizes, pre-trained on mini-WebText
# ---------------------------------------------------------------------------------------------

N_MERGES = 800  # chapter 4's BPE on the mini-WebText training text: most words become one token
N_CTX = 128

#: The four sizes (layers and width grow together, as in the paper's Table 2).
SIZES = {
    "tiny": dict(n_layers=1, n_heads=2, d_model=32),
    "small": dict(n_layers=2, n_heads=2, d_model=48),
    "medium": dict(n_layers=3, n_heads=4, d_model=64),
    "large": dict(n_layers=4, n_heads=4, d_model=96),
}
#: How the shipped checkpoints were trained (every size the same data, steps and schedule).
TRAIN_SETTINGS = {"steps": 3000, "batch_size": 16, "seq_len": N_CTX, "max_lr": 3e-3, "warmup": 100, "seed": 0}
CHECKPOINT_DIR = Path(__file__).with_name("checkpoints") / "ch06"


def model_config(size, vocab_size):
    """The :class:`~gptcourse.ch05_gpt2.GPT2Config` of one of :data:`SIZES` (no dropout: the models underfit)."""
    return GPT2Config(vocab_size=vocab_size, n_ctx=N_CTX, dropout=0.0, **SIZES[size])


def build_tokenizer(n_merges=N_MERGES):
    """Chapter 4's BPE, learned on the mini-WebText training text."""
    return BPETokenizer(*learn_bpe([mw.training_text()], n_merges))


def train_model(size, tok, stream, progress=True, device="cpu", **overrides):
    """A GPT-2 of ``size`` pre-trained with L1 on ``stream`` (chapter 4's loop) on ``device``; returns
    (model on the CPU, info)."""
    s = {**TRAIN_SETTINGS, **overrides}
    torch.manual_seed(s["seed"])
    model = GPT2(model_config(size, tok.vocab_size)).to(device)
    t0 = time.perf_counter()
    losses = pretrain(model, stream, s["steps"], s["batch_size"], s["seq_len"], s["max_lr"], s["warmup"], s["seed"],
                      progress, log_every=10)
    return model.cpu().eval(), {"size": size, "settings": s, "losses": losses, "seconds": time.perf_counter() - t0,
                                "device": str(device),
                          "parameters": sum(p.numel() for p in model.parameters()), "torch": str(torch.__version__),
                          "threads": torch.get_num_threads()}


def train_all(out=CHECKPOINT_DIR, sizes=None, progress=True, device="cpu", **overrides):
    """Train every size and save ``tokenizer.json`` and ``<size>.pt`` (weights in float16) to ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer()
    (out / "tokenizer.json").write_text(json.dumps(tok.to_dict()))
    stream = torch.tensor(tok.encode(mw.training_text()), dtype=torch.long)
    for size in sizes or SIZES:
        model, info = train_model(size, tok, stream, progress, device, **overrides)
        state = {k: v.half() for k, v in model.state_dict().items()}
        torch.save({"config": asdict(model.config), "state_dict": state, "info": info}, out / f"{size}.pt")
        print(f"{size}: {info['parameters']:,} parameters, final loss {sum(info['losses'][-10:]) / 10:.3f}, "
              f"{info['seconds']:.0f} s", flush=True)


def load_tokenizer(folder=CHECKPOINT_DIR):
    return BPETokenizer.from_dict(json.loads((Path(folder) / "tokenizer.json").read_text()))


def load_model(size, folder=CHECKPOINT_DIR):
    """(model, info) of a shipped checkpoint: float32, eval mode."""
    ckpt = torch.load(Path(folder) / f"{size}.pt", map_location="cpu", weights_only=True)
    model = GPT2(GPT2Config(**ckpt["config"]))
    model.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    return model.eval(), ckpt["info"]


def load_models(folder=CHECKPOINT_DIR):
    """{size: (model, info)} for every shipped size, smallest first, and the tokenizer."""
    return {size: load_model(size, folder) for size in SIZES}, load_tokenizer(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m gptcourse.ch06_zeroshot", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train every size on mini-WebText and save the checkpoints")
    p.add_argument("--out", default=str(CHECKPOINT_DIR))
    p.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--device", default=None, help="cpu, cuda, mps... (default: the best one PyTorch sees)")
    for key, value in TRAIN_SETTINGS.items():
        p.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    device = args.device or default_device()
    print(f"training on {device}", flush=True)
    train_all(args.out, args.sizes, True, device, **{k: getattr(args, k) for k in TRAIN_SETTINGS})


if __name__ == "__main__":
    main()
