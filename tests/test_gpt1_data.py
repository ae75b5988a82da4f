"""Chapter 4's toy data: deterministic, self-consistent, and built so that pre-training can matter."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gptcourse.data import gpt1_data as D


def test_corpus_is_deterministic_and_large_enough():
    a, b = D.unlabelled_corpus(), D.unlabelled_corpus()
    assert a == b and len(a) == 9000
    assert D.unlabelled_corpus(30, seed=1) != D.unlabelled_corpus(30, seed=2)
    assert sum(len(doc.split()) for doc in a) > 100_000


def test_corpus_reveals_every_key_word_but_carries_no_label():
    words = Counter(w for doc in D.unlabelled_corpus() for w in doc.split())
    for word in D.POSITIVE + D.NEGATIVE + list(D.KIND_OF) + list(D.STATES):
        assert words[word] >= 20, word
    # a positive adjective never shares a review with a negative verdict, and vice versa
    for doc in D.unlabelled_corpus()[:3000:3]:
        tokens = set(doc.split())
        if tokens & set(D.POSITIVE):
            assert not tokens & set(D.NEGATIVE), doc
            assert not any(v in doc for v in D.VERDICTS[0]), doc
        assert "[start]" not in doc and "[extract]" not in doc


@pytest.mark.parametrize("name", ["sentiment", "entailment", "story_ending"])
def test_tasks_are_deterministic_disjoint_and_balanced(name):
    pool, test = D.labelled_task(name)
    assert (pool, test) == D.labelled_task(name) and len(pool) == 512 and len(test) == 400
    keys = {repr(ex[:-1]) for ex in test}
    assert not [ex for ex in pool if repr(ex[:-1]) in keys], "a pool example is also a test example"
    labels = Counter(ex[-1] for ex in test)
    n_classes = 3 if name == "story_ending" else 2
    assert set(labels) == set(range(n_classes)) and min(labels.values()) > len(test) / n_classes * 0.7


def test_labels_are_right():
    for text, label in D.labelled_task("sentiment")[1][:100]:
        adjective = text.split()[-2]
        assert label == int(adjective in D.POSITIVE)
    for premise, hypothesis, label in D.labelled_task("entailment")[1][:100]:
        item, kind = premise.split()[3], hypothesis.split()[3]
        assert label == int(D.KIND_OF[item] == kind)
    for context, answers, right in D.labelled_task("story_ending")[1][:100]:
        state = context.split()[2]
        action = lambda answer: " ".join(answer.split()[1:-1])  # "ana drank some water ." -> "drank some water"
        assert all(a.split()[0] == context.split()[0] for a in answers)
        assert action(answers[right]) in D.STATES[state]
        assert all(action(a) not in D.STATES[state] for i, a in enumerate(answers) if i != right)


def test_key_words_are_zipf_distributed_so_few_labels_cover_few_words():
    pool, _ = D.labelled_task("sentiment")
    adjectives = Counter(text.split()[-2] for text, _ in pool)
    ranking = D.zipf_ranking(D.POSITIVE + D.NEGATIVE, D.SEED + 1)
    assert adjectives[ranking[0]] > 5 * adjectives[ranking[-1]]
    rng = random.Random(0)
    first16 = {text.split()[-2] for text, _ in rng.sample(pool, 16)}
    assert len(first16) < 16
