"""Mini-WebText: deterministic, every domain present, and the evaluation sets truly held out."""

from __future__ import annotations

import random

import pytest

from gptcourse.data import mini_webtext as mw


@pytest.fixture(scope="module")
def train_text():
    return mw.training_text()


@pytest.fixture(scope="module")
def sets():
    return mw.evaluation_sets()


def test_corpus_is_deterministic_and_seeded():
    a = mw._documents.__wrapped__(300, mw.SEED)
    b = mw._documents.__wrapped__(300, mw.SEED)
    c = mw._documents.__wrapped__(300, mw.SEED + 1)
    assert a == b
    assert a != c
    assert mw.world.__wrapped__() == mw.world()


def test_every_domain_occurs_in_proportion():
    stats = mw.corpus_statistics(mw.training_documents())
    assert sorted(stats) == sorted(mw.MIX)
    n = sum(docs for docs, _ in stats.values())
    for domain, (docs, words) in stats.items():
        assert abs(docs / n - mw.MIX[domain] / sum(mw.MIX.values())) < 0.02, domain
        assert words > 0


def test_text_is_lower_case_words_and_markers(train_text):
    markers = {"Q:", "A:", "TL;DR:", mw.EOT}
    odd = {w for w in set(train_text.split()) if w not in markers and not w.islower() and w not in ".,?:()="}
    assert not odd, sorted(odd)[:10]


def test_tasks_occur_naturally_in_training(train_text):
    """The formats the evaluation uses (or their ingredients) are things the web text shows."""
    w = mw.world()
    assert "TL;DR:" in train_text and "Q: which country is" in train_text
    word = w.glossary_words[0]
    assert f"{word} = {w.lexicon[word]}" in train_text
    assert "overall , it was" in train_text


def test_evaluation_prompts_never_occur_verbatim_in_training(train_text, sets):
    for item in sets["lambada"]:
        assert f"{item.context} {item.target}" not in train_text
    for key in ("cbt_ne", "cbt_cn"):
        for item in sets[key]:
            assert item.text.replace(mw.BLANK, item.candidates[item.answer]) not in train_text
    for prompt, _ in sets["sentiment"]:
        assert prompt.split(" : ", 1)[1] not in train_text
    for x, candidates, answer in sets["translation"].queries:
        assert f"{x} = {candidates[answer]}" not in train_text
    for x, candidates, answer in sets["qa"].queries:
        assert f"Q: {x}" not in train_text and f"{x} A: {candidates[answer]}" not in train_text
    for item in sets["tldr"] + sets["tldr_distractor"]:
        assert item.article not in train_text
    assert "last year" not in train_text  # the distractor sentence is a held-out format
    for item in sets["tldr_distractor"]:
        assert item.article.count(" opened the ") == 2 and f"{item.host} , the" in item.article
    for doc in sets["heldout"]:
        assert doc.text not in train_text


def test_sentiment_prompt_phrase_is_never_seen(train_text):
    phrase = mw.SENTIMENT_PROMPT.split(" {thing}")[0]  # "to sum up , the"
    assert phrase not in train_text
    for answer in mw.POSITIVE + mw.NEGATIVE:  # but the answer words are known
        assert f" {answer} " in train_text


def test_held_out_facts_are_only_in_encyclopedia_articles():
    w = mw.world()
    docs = mw.training_documents()
    qa_text = " ".join(d.text for d in docs if d.domain == "qa")
    articles = " ".join(d.text for d in docs if d.domain == "encyclopedia")
    glossaries = " ".join(d.text for d in docs if d.domain == "wordlist")
    lessons = " ".join(d.text for d in docs if d.domain == "lesson")
    for town in w.test_towns:
        assert f" {town.name} " not in f" {qa_text} "
        assert town.country in articles and f"{town.name} ( town )" in articles
    assert not set(w.qa_towns) & set(w.test_towns)
    for word in w.test_words:
        assert f" {w.lexicon[word]} " not in f" {glossaries} "
        assert f" {w.lexicon[word]} " in f" {lessons} "
    assert sorted(w.test_words + w.glossary_words) == sorted(mw.ENGLISH_WORDS)
    assert len(set(w.lexicon.values())) == len(w.lexicon)


def test_lambada_targets_need_the_distant_context(sets):
    for item in sets["lambada"]:
        words = item.context.split()
        assert item.target in words, "the last word must be introduced earlier"
        assert item.target not in words[-12:], "the last sentence must not give the word away"


def test_cloze_items_are_well_formed(sets):
    for key in ("cbt_ne", "cbt_cn"):
        for item in sets[key]:
            assert item.text.count(mw.BLANK) == 1
            assert len(set(item.candidates)) == len(item.candidates) == 6
            assert 0 <= item.answer < len(item.candidates)
    ne = sets["cbt_ne"][0]
    assert ne.candidates[ne.answer] in mw.PET_NAMES and ne.text.endswith(f" {mw.BLANK}")
    cn = sets["cbt_cn"][0]
    assert cn.candidates[cn.answer] in mw.ANIMALS


def test_prompt_tasks_and_demonstrations(sets):
    w = mw.world()
    qa = sets["qa"]
    assert len(qa.queries) == 3 * len(w.test_towns)
    town = w.test_towns[0]
    x, candidates, answer = qa.queries[0]
    assert town.name in x and candidates[answer] == town.country
    demo_towns = {x.split()[-2] if x.endswith("in ?") else x.split()[-2] for x, _ in qa.demonstrations}
    assert not demo_towns & {t.name for t in w.test_towns}
    tr = sets["translation"]
    assert {x for x, _, _ in tr.queries} == set(w.test_words)
    assert all(x in w.glossary_words for x, _ in tr.demonstrations)
    for x, candidates, answer in tr.queries:
        assert candidates[answer] == w.lexicon[x] and len(set(candidates)) == len(candidates)


def test_labels_are_balanced_and_answers_vary(sets):
    labels = [label for _, label in sets["sentiment"]]
    assert sum(labels) == len(labels) // 2
    answers = [a for _, _, a in sets["translation"].queries]
    assert len(set(answers)) > 3, "the right candidate must not always sit at the same index"


def test_unknown_domain_is_refused():
    with pytest.raises(ValueError, match="unknown domain"):
        mw.document(random.Random(0), "poetry")
    with pytest.raises(ValueError, match="kind must be"):
        mw.cloze_set("XX")
