"""Chapter 6's evaluation: the Table-3-shaped comparison of models on mini-WebText, few-shot, TL;DR.

Built on the scores of :mod:`gptcourse.ch06_zeroshot`, on the evaluation sets of
:mod:`gptcourse.data.mini_webtext`:

- :func:`evaluate`: the Table-3-shaped row of one model (columns :data:`COLUMNS`), :func:`chance_row`;
- :func:`few_shot_curve`, :func:`few_shot_accuracy`, :func:`qa_confusions`: k solved examples in the
  prompt (GPT-3's in-context learning);
- :func:`tldr_experiment`: summaries after ``TL;DR:`` (:func:`summarise`, :func:`rouge1`, against
  :func:`random_sentences_baseline`);
- :func:`evaluate_released_gpt2`: the same row for the real GPT-2 (it never downloads).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from itertools import pairwise
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

from gptcourse.ch05_bpe import load_gpt2_bpe
from gptcourse.ch05_checkpoints import find_gpt2_checkpoint, load_gpt2
from gptcourse.ch06_zeroshot import (
    BATCH,
    batched_perplexity,
    cloze_requests,
    few_shot_prompt,
    greedy_continuations,
    last_word_scores,
    score_choices,
)
from gptcourse.data import mini_webtext as mw

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


def demonstrations_for(task: mw.PromptTask, k: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """The ``k`` demonstrations each query's prompt gets: drawn at random (seeded) from the pool."""
    rng = random.Random(seed)
    return [rng.sample(task.demonstrations, k) if k else [] for _ in task.queries]


def prompt_task_items(
    task: mw.PromptTask, k: int = 0, seed: int = 0, instruction: str | None = None
) -> list[tuple[str, list[str]]]:
    """(prompt, continuations) for every query of a :class:`~gptcourse.data.mini_webtext.PromptTask`, with
    ``k`` demonstrations per prompt (:func:`demonstrations_for`)."""
    return [
        (few_shot_prompt(shots, x, task.template, instruction=instruction), [" " + c for c in candidates])
        for (x, candidates, _), shots in zip(task.queries, demonstrations_for(task, k, seed), strict=True)
    ]


def qa_confusions(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    task: mw.PromptTask,
    k: int,
    seed: int = 0,
    batch_size: int = BATCH,
) -> tuple[int, int, float]:
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


def few_shot_curve(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    task: mw.PromptTask,
    shots: Sequence[int],
    seed: int = 0,
    instruction: str | None = None,
    batch_size: int = BATCH,
) -> list[float]:
    """Accuracy on ``task`` with k examples in every prompt, for each k in ``shots`` (k = 0: zero-shot)."""
    items = [item for k in shots for item in prompt_task_items(task, k, seed, instruction)]
    scores = score_choices(model, tokenizer, items, batch_size)
    n, answers = len(task.queries), [a for _, _, a in task.queries]
    return [_accuracy(scores[i * n : (i + 1) * n], answers) for i in range(len(shots))]


def few_shot_accuracy(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    task: mw.PromptTask,
    k: int,
    seed: int = 0,
    instruction: str | None = None,
    batch_size: int = BATCH,
) -> float:
    """Accuracy on ``task`` with ``k`` examples in every prompt (k = 0: zero-shot)."""
    return few_shot_curve(model, tokenizer, task, [k], seed, instruction, batch_size)[0]


def sentiment_items(items: Iterable[tuple[str, int]]) -> list[tuple[str, list[str]]]:
    """(prompt, continuations) for the sentiment set: every positive, then every negative word."""
    words = [" " + w for w in mw.POSITIVE + mw.NEGATIVE]
    return [(prompt, words) for prompt, _ in items]


def sentiment_accuracy_from_scores(scores: Iterable[Sequence[float]], items: Sequence[tuple[str, int]]) -> float:
    """Zero-shot sentiment: is P(a positive word | review + prompt) > P(a negative word | ...)?

    Each class is the set of its words (:data:`~gptcourse.data.mini_webtext.POSITIVE`,
    :data:`~gptcourse.data.mini_webtext.NEGATIVE`); a class's probability is the sum over its words,
    so the model is not penalised for preferring ``superb`` to ``good``.
    """
    n = len(mw.POSITIVE)
    correct = 0
    for s, (_, label) in zip(scores, items, strict=True):
        s = torch.tensor(s)
        positive = torch.logsumexp(s[:n], 0) > torch.logsumexp(s[n:], 0)
        correct += int(bool(positive) == bool(label))
    return correct / len(items)


def perplexity_of_documents(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    docs: Iterable[mw.Document],
    window: int,
    stride: int,
    batch_size: int = BATCH,
) -> float:
    """Perplexity over held-out documents joined as in training (:func:`batched_perplexity`)."""
    ids = tokenizer.encode(f" {mw.EOT} ".join(d.text for d in docs))
    return batched_perplexity(model, ids, window, stride, batch_size)


def evaluate(
    model: torch.nn.Module,
    tokenizer: Any,
    sets: dict[str, Any] | None = None,
    window: int = 128,
    stride: int = 96,
    batch_size: int = BATCH,
    tasks: Sequence[str] | None = None,
) -> dict[str, float]:
    """One row of the chapter's table: every metric of :data:`COLUMNS` (or those in ``tasks``).

    ``sets`` are :func:`gptcourse.data.mini_webtext.evaluation_sets` (computed if None). Accuracies are
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


def chance_row(sets: dict[str, Any] | None = None) -> dict[str, float]:
    """What guessing scores: 1 / (number of candidates) for the choice tasks (None for the rest)."""
    sets = sets or mw.evaluation_sets()
    mean = lambda xs: sum(xs) / len(xs)
    return {
        "cbt_cn": mean([1 / len(it.candidates) for it in sets["cbt_cn"]]),
        "cbt_ne": mean([1 / len(it.candidates) for it in sets["cbt_ne"]]),
        "sentiment": 0.5,
        "translation": mean([1 / len(c) for _, c, _ in sets["translation"].queries]),
        "qa": mean([1 / len(c) for _, c, _ in sets["qa"].queries]),
    }


def summarise(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    articles: Sequence[str],
    hint: str | Sequence[str] = "TL;DR:",
    max_new_tokens: int = 14,
    stop: str = ".",
) -> list[str]:
    """Greedy continuations of each news article + newline + ``hint``, each cut after its first ``stop``.

    ``hint`` is one string or one per article; ``""`` continues the bare article (the paper's
    ablation without the task hint).
    """
    hints = [hint] * len(articles) if isinstance(hint, str) else list(hint)
    prompts = [f"local news : {a}" + (f"\n{h}" if h else "") for a, h in zip(articles, hints, strict=True)]
    n_ctx = getattr(getattr(model, "config", None), "n_ctx", None)
    stop_ids = tokenizer.encode(f" {stop}")
    out = []
    for ids in greedy_continuations(
        model, tokenizer, prompts, max_new_tokens, n_ctx, stop_ids[0] if len(stop_ids) == 1 else None
    ):
        words = tokenizer.decode(ids).split()
        out.append(" ".join(words[: words.index(stop) + 1] if stop in words else words))
    return out


def rouge1(candidate: str, reference: str) -> float:
    """ROUGE-1 F1: the harmonic mean of unigram precision and recall (clipped counts), 0 ... 1."""
    c, r = Counter(candidate.split()), Counter(reference.split())
    overlap = sum((c & r).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / sum(c.values()), overlap / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def key_facts(item: mw.NewsItem) -> dict[str, str]:
    """The three facts a summary of a :class:`~gptcourse.data.mini_webtext.NewsItem` must get right."""
    return {"town": item.town, "event": item.event, "host": item.host}


def summary_scores(items: Sequence[mw.NewsItem], summaries: Sequence[str]) -> dict[str, float | list[str]]:
    """Mean ROUGE-1 F1 and the fraction of the key facts (town, event, host) the summaries name."""
    rouge = sum(rouge1(summary, item.summary) for item, summary in zip(items, summaries, strict=True)) / len(items)
    facts = sum(
        sum(f" {v} " in f" {summary} " for v in key_facts(item).values()) / 3
        for item, summary in zip(items, summaries, strict=True)
    ) / len(items)
    return {"rouge1": rouge, "facts": facts, "summaries": list(summaries)}


def tldr_scores(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    items: Sequence[mw.NewsItem],
    hint: str | Sequence[str] = "TL;DR:",
) -> dict[str, float | list[str]]:
    """:func:`summary_scores` of the model's summaries of ``items`` after ``hint``."""
    return summary_scores(items, summarise(model, tokenizer, [item.article for item in items], hint))


def tldr_experiment(
    model: Callable[[torch.Tensor], torch.Tensor],
    tokenizer: Any,
    items: Sequence[mw.NewsItem],
    tricky: Sequence[mw.NewsItem],
) -> dict[str, dict[str, float | list[str]]]:
    """The chapter's three TL;DR runs in one batch: ``items`` with and without the hint, ``tricky`` with it."""
    articles = [it.article for it in items] * 2 + [it.article for it in tricky]
    hints = ["TL;DR:"] * len(items) + [""] * len(items) + ["TL;DR:"] * len(tricky)
    out = summarise(model, tokenizer, articles, hints)
    n = len(items)
    return {
        "hint": summary_scores(items, out[:n]),
        "no_hint": summary_scores(items, out[n : 2 * n]),
        "distractor": summary_scores(tricky, out[2 * n :]),
    }


def random_sentences_baseline(items: Sequence[mw.NewsItem], n: int = 3, seed: int = 0) -> float:
    """The paper's baseline: n random sentences of the article as the 'summary' (mean ROUGE-1 F1)."""
    rng = random.Random(seed)
    total = 0.0
    for item in items:
        sentences = [s.strip() + " ." for s in item.article.split(" .") if s.strip()]
        total += rouge1(" ".join(rng.sample(sentences, min(n, len(sentences)))), item.summary)
    return total / len(items)


#: The paper's Table 3 (zero-shot results; as in the source slides). Columns: (dataset, metric);
#: rows: the previous state of the art, then the four GPT-2 sizes (named by the paper's counts).
PAPER_TABLE3_COLUMNS = [
    ("LAMBADA", "PPL"),
    ("LAMBADA", "ACC"),
    ("CBT-CN", "ACC"),
    ("CBT-NE", "ACC"),
    ("WikiText2", "PPL"),
    ("PTB", "PPL"),
    ("enwik8", "BPB"),
    ("text8", "BPC"),
    ("WikiText103", "PPL"),
    ("1BW", "PPL"),
]
PAPER_TABLE3 = {
    "SOTA": [99.8, 59.23, 85.7, 82.3, 39.14, 46.54, 0.99, 1.08, 18.3, 21.8],
    "117M": [35.13, 45.99, 87.65, 83.4, 29.41, 65.85, 1.16, 1.17, 37.50, 75.20],
    "345M": [15.60, 55.48, 92.35, 87.1, 22.76, 47.33, 1.01, 1.06, 26.37, 55.72],
    "762M": [10.87, 60.12, 93.45, 88.0, 19.93, 40.31, 0.97, 1.02, 22.05, 44.575],
    "1542M": [8.63, 63.24, 93.30, 89.05, 18.34, 35.76, 0.93, 0.98, 17.48, 42.16],
}


def higher_is_better(metric: str) -> bool:
    """Accuracy: higher is better; perplexity, bits per byte / character: lower is better."""
    return metric == "ACC"


def beats(a: float, b: float, metric: str) -> bool:
    return a > b if higher_is_better(metric) else a < b


#: The tasks that make sense for the released GPT-2: they need no mini-WebText facts or Lumic.
RELEASED_GPT2_TASKS = ["lambada_ppl", "lambada_acc", "cbt_cn", "cbt_ne", "sentiment"]


def evaluate_released_gpt2(
    name: str = "gpt2", sets: dict[str, Any] | None = None, folder: str | Path | None = None, batch_size: int = 8
) -> dict[str, float] | None:
    """The same evaluation on a released GPT-2 (chapter 5's loader and byte-level tokenizer).

    Uses the checkpoint in ``folder``, else one already on this machine
    (:func:`~gptcourse.ch05_gpt2.find_gpt2_checkpoint`); returns None when there is none. Never downloads.
    """
    folder = folder or find_gpt2_checkpoint(name)
    if folder is None:
        return None
    return evaluate(load_gpt2(folder), load_gpt2_bpe(), sets, tasks=RELEASED_GPT2_TASKS, batch_size=batch_size)


# ---------------------------------------------------------------------------------------------
# The verdicts the chapter's prose states: about the paper's Table 3, and about the four models' table
# ---------------------------------------------------------------------------------------------


def table3_dataset(column: str) -> str:
    """The dataset a column of the paper's Table 3 belongs to: CBT-CN and CBT-NE are two tests of one, CBT."""
    return "CBT" if column.startswith("CBT") else column


def paper_best_row(j: int) -> str:
    """The row (``"SOTA"`` or a GPT-2 size) with the best value in column ``j`` of the paper's Table 3."""
    metric = PAPER_TABLE3_COLUMNS[j][1]
    sign = 1 if higher_is_better(metric) else -1
    return max(PAPER_TABLE3, key=lambda row: PAPER_TABLE3[row][j] * sign)


def paper_columns_won(row: str) -> list[str]:
    """The columns of the paper's Table 3, as ``"dataset (metric)"``, where ``row`` beats the previous state of the art."""
    T3 = PAPER_TABLE3
    return [f"{d} ({m})" for j, (d, m) in enumerate(PAPER_TABLE3_COLUMNS) if beats(T3[row][j], T3["SOTA"][j], m)]


def paper_datasets(row: str = "1542M") -> tuple[list[str], list[str]]:
    """(won, lost): the datasets of the paper's Table 3 on which ``row`` beats the previous state of the art in
    every column, and the others, in the table's order (:func:`table3_dataset` counts CBT's two tests as one)."""
    T3, cols = PAPER_TABLE3, PAPER_TABLE3_COLUMNS
    names = [table3_dataset(d) for d, _ in cols]
    datasets = sorted(set(names), key=names.index)
    won = [
        d
        for d in datasets
        if all(beats(T3[row][j], T3["SOTA"][j], m) for j, (dd, m) in enumerate(cols) if table3_dataset(dd) == d)
    ]
    return won, [d for d in datasets if d not in won]


def paper_columns_improving(sizes: Sequence[str] = ("117M", "345M", "762M", "1542M")) -> list[str]:
    """The columns of the paper's Table 3, as ``"dataset (metric)"``, whose score improves with every step in size."""
    T3 = PAPER_TABLE3
    return [
        f"{d} ({m})"
        for j, (d, m) in enumerate(PAPER_TABLE3_COLUMNS)
        if all(beats(T3[b][j], T3[a][j], m) for a, b in pairwise(sizes))
    ]


def item_counts(sets: dict[str, Any]) -> dict[str, int]:
    """How many test items each accuracy column of :data:`COLUMNS` is measured on."""
    return {
        "lambada_acc": len(sets["lambada"]),
        "cbt_cn": len(sets["cbt_cn"]),
        "cbt_ne": len(sets["cbt_ne"]),
        "sentiment": len(sets["sentiment"]),
        "translation": len(sets["translation"].queries),
        "qa": len(sets["qa"].queries),
    }


def binomial_se(accuracy: float, n: int) -> float:
    """The standard error of an accuracy measured on ``n`` items (binomial): sqrt(p (1 - p) / n)."""
    return math.sqrt(accuracy * (1 - accuracy) / n)


def gain_is_clear(smallest: float, largest: float, n: int) -> bool:
    """Whether the largest model's accuracy beats the smallest's by more than two standard errors of the difference."""
    return largest - smallest > 2 * math.sqrt(binomial_se(largest, n) ** 2 + binomial_se(smallest, n) ** 2)


def improves_at_every_step(values: Sequence[float], kind: str) -> bool:
    """Whether a column's values, smallest model first, improve at every step in size (``kind``: "ppl" or "acc")."""
    return all((b < a) if kind == "ppl" else (b > a) for a, b in pairwise(values))


def best_size(results: dict[str, dict[str, float]], key: str, kind: str) -> str:
    """The model with the best value of column ``key``: the lowest perplexity or the highest accuracy."""
    return (min if kind == "ppl" else max)(results, key=lambda size: results[size][key])


def items_in_training(sets: dict[str, Any], train_text: str) -> int:
    """How many test items of :func:`gptcourse.data.mini_webtext.evaluation_sets` occur verbatim in the training text
    (each as the training text would show it: a story with its last word, a cloze filled in, a review, a
    glossary line, a question, an article)."""
    found = sum(f"{it.context} {it.target}" in train_text for it in sets["lambada"])
    found += sum(
        it.text.replace(mw.BLANK, it.candidates[it.answer]) in train_text
        for k in ("cbt_ne", "cbt_cn")
        for it in sets[k]
    )
    found += sum(p.split(" : ", 1)[1] in train_text for p, _ in sets["sentiment"])
    found += sum(f"{x} = {c[a]}" in train_text for x, c, a in sets["translation"].queries)
    found += sum(f"Q: {x}" in train_text for x, _, _ in sets["qa"].queries)
    found += sum(it.article in train_text for it in sets["tldr"])
    return found


def sentiment_prompt_in_training(train_text: str) -> bool:
    """Whether the training text ever shows the sentiment prompt's phrase (the part before the review's verdict)."""
    return mw.SENTIMENT_PROMPT.split(" {")[0] in train_text


def facts_missed(item: mw.NewsItem, summary: str) -> int:
    """How many of the item's :func:`key_facts` the summary does not name."""
    return sum(f" {v} " not in f" {summary} " for v in key_facts(item).values())


def most_facts_missed(items: Sequence[mw.NewsItem], summaries: Sequence[str]) -> int:
    """The index of the item whose summary misses the most key facts (the first of them on a tie)."""
    return max(range(len(items)), key=lambda i: facts_missed(items[i], summaries[i]))


def hint_rate(summaries: Sequence[str], hint: str = "TL;DR:") -> float:
    """The fraction of continuations that start with ``hint``: a model writing the hint itself."""
    return sum(out.startswith(hint) for out in summaries) / len(summaries)
