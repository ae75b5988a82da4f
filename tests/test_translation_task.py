"""The shared toy translation task of chapters 1-3: rules, splits, batches and metrics."""

import random

import pytest
import torch

from gptcourse import ch01_evaluation as ev
from gptcourse import training
from gptcourse.data import translation_task as tt


@pytest.fixture(scope="module")
def task():
    return tt.make_task(seed=0)


def test_translate_applies_lexicon_reordering_and_agreement():
    assert tt.translate("dogs see cat".split()) == "hundoj katon vidas".split()
    assert tt.translate("big dogs see small cat".split()) == "hundoj grandaj katon etan vidas".split()
    assert tt.translate("fox chases old red birds and frogs like fox".split()) == (
        "vulpo birdojn maljunajn rugajn casas kaj ranoj vulpon satas".split()
    )
    # the verb does not agree in the target: sees/see -> vidas
    assert tt.translate("cat sees dog".split())[-1] == tt.translate("cats see dog".split())[-1] == "vidas"


def test_reference_alignment_points_at_the_translated_word():
    assert tt.reference_alignment("big dogs see small cat".split()) == [1, 0, 4, 3, 2]
    assert tt.reference_alignment("cat sees dog and frogs like old fox".split()) == [0, 2, 1, 3, 4, 7, 6, 5]
    rng = random.Random(2)
    for length in (3, 9, 20):
        source = tt.random_sentence(rng, length)
        align = tt.reference_alignment(source)
        assert sorted(align) == list(range(length))  # a permutation
        for word, pos in zip(tt.translate(source), align, strict=True):
            if source[pos] == "and":
                assert word == "kaj"
            elif source[pos] in tt._VERB_OF:
                assert word == tt._VERB_OF[source[pos]]
            elif source[pos] in tt.ADJECTIVES:
                assert word.startswith(tt.ADJECTIVES[source[pos]] + "a")
            else:
                assert word.startswith(tt._NOUN_OF[source[pos]][0] + "o")


def test_random_sentences_have_the_asked_length_and_grammar():
    rng = random.Random(1)
    for length in range(3, 25):
        for _ in range(20):
            words = tt.random_sentence(rng, length)
            assert len(words) == length
            target = tt.translate(words)
            assert len(target) == length  # the task keeps the length
            clauses = " ".join(target).split(" kaj ")
            assert all(c.split()[-1] in tt.VERBS.values() for c in clauses)  # verb-final
    with pytest.raises(ValueError):
        tt.random_sentence(rng, 2)


def test_make_task_is_deterministic_and_splits_are_disjoint(task):
    again = tt.make_task(seed=0, n_train=len(task.train))
    assert again.train[:50] == task.train[:50] and again.test == task.test and again.long == task.long
    other = tt.make_task(seed=1, n_train=500, n_valid=50, n_test=50, n_long=50)
    assert other.test != task.test[:50]
    train = {tuple(s) for s, _ in task.train}
    assert len(train) == len(task.train)
    assert not train & {tuple(s) for s, _ in task.test + task.valid}
    assert not {tuple(s) for s, _ in task.test} & {tuple(s) for s, _ in task.valid}


def test_lengths_span_3x_and_long_split_is_longer_than_training(task):
    lengths = [len(s) for s, _ in task.train]
    lo, hi = tt.TRAIN_LENGTHS
    assert min(lengths) == lo and max(lengths) == hi and hi >= 3 * lo
    assert min(len(s) for s, _ in task.long) > max(lengths)
    test_lengths = [len(s) for s, _ in task.test]
    assert {n: test_lengths.count(n) for n in set(test_lengths)} == {
        n: len(task.test) // (hi - lo + 1) for n in range(lo, hi + 1)
    }
    covered = [n for a, b in tt.LENGTH_BUCKETS for n in range(a, b + 1)]
    assert covered == list(range(lo, hi + 1))


def test_vocab_specials_encode_decode(task):
    v = task.tgt_vocab
    assert v.itos[:4] == ["<pad>", "<sos>", "<eos>", "<unk>"]
    assert (v.pad_id, v.sos_id, v.eos_id, v.unk_id) == (0, 1, 2, 3)
    words = task.train[0][1]
    ids = v.encode(words, sos=True, eos=True)
    assert ids[0] == 1 and ids[-1] == 2 and v.decode(ids + [0, 0]) == words
    assert v.decode([5, 2, 6]) == [v.itos[5]]  # stops at <eos>
    assert task.src_vocab.encode(["zebra"]) == [3]
    for split in ("train", "test", "long"):
        for s, t in getattr(task, split)[:200]:
            assert 3 not in task.src_vocab.encode(s) and 3 not in v.encode(t)


def test_collate_pads_and_shifts_the_target(task):
    pairs = [task.test[0], task.test[-1]]
    b = task.collate(pairs)
    s_max = max(len(s) for s, _ in pairs)
    assert b.src.shape == (2, s_max) and b.src.dtype == torch.long
    assert b.src_lengths.tolist() == [len(s) for s, _ in pairs]
    assert b.src[0, len(pairs[0][0]) :].eq(0).all()
    assert b.tgt_in.shape == b.tgt_out.shape == (2, max(len(t) for _, t in pairs) + 1)
    assert (b.tgt_in[:, 0] == 1).all()
    n = len(pairs[0][1])
    assert b.tgt_in[0, 1 : n + 1].tolist() == b.tgt_out[0, :n].tolist()
    assert b.tgt_out[0, n] == 2
    assert sum(b.src.size(0) for b in task.batches("valid", 64, shuffle=False)) == len(task.valid)
    first = next(task.batches("train", 8, seed=3)).src
    assert torch.equal(first, next(task.batches("train", 8, seed=3)).src)


def test_metrics():
    refs = [["a", "b", "c"], ["d", "e"]]
    assert ev.exact_match(refs, refs) == 1.0
    assert ev.exact_match([["a", "b", "c"], ["d"]], refs) == 0.5
    # 3 + 1 right out of max(3,3) + max(1,2) = 5
    assert ev.token_accuracy([["a", "b", "c"], ["d"]], refs) == pytest.approx(4 / 5)
    # too long: the extra words count against it
    assert ev.token_accuracy([["a", "b", "c", "x", "y"]], [["a", "b", "c"]]) == pytest.approx(3 / 5)
    with pytest.raises(ValueError):
        ev.exact_match([], [])
    sources = [["w"] * 3, ["w"] * 4, ["w"] * 7]
    rows = ev.accuracy_by_length(sources, [["x"], ["y"], ["z", "q"]], [["x"], ["n"], ["z", "q"]])
    assert [(r["bucket"], r["n"], r["exact_match"]) for r in rows] == [("3-5", 2, 0.5), ("6-8", 1, 1.0)]


def test_evaluate_perfect_and_empty_translators(task):
    perfect = ev.evaluate(lambda xs: [tt.translate(x) for x in xs], task.test)
    assert [r["bucket"] for r in perfect] == [ev.bucket_label(b) for b in tt.LENGTH_BUCKETS] + ["all"]
    assert all(r["exact_match"] == 1.0 and r["token_accuracy"] == 1.0 for r in perfect)
    long = ev.evaluate(lambda xs: [[] for _ in xs], task.long)
    assert [r["bucket"] for r in long] == [ev.bucket_label(tt.LONG_BUCKET), "all"]
    assert all(r["exact_match"] == 0.0 for r in long)


def _tiny_run(task, calls, lr=0.1):
    """A stand-in training run: one linear layer, three SGD steps; counts how often it really trains."""

    def make_model():
        torch.manual_seed(0)
        return torch.nn.Linear(3, 2)

    def train_fn(model):
        calls.append(1)
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        losses = []
        for _ in range(3):
            loss = model(torch.ones(1, 3)).pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    return training.train_cached("tiny", task, make_model, train_fn, {"lr": lr}, reuse=True)


def test_train_cached_trains_once_and_reloads_the_same_model(task, tmp_path, monkeypatch):
    monkeypatch.setenv("GPTCOURSE_CACHE", str(tmp_path))
    calls = []
    first, losses = _tiny_run(task, calls)
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    again, losses_again = _tiny_run(task, calls)
    assert torch.rand(1) == before, "loading must leave the caller's random state as training does"
    assert calls == [1], "the second call should load the kept model, not train again"
    assert losses_again == losses and again.training_seconds == first.training_seconds
    assert torch.equal(again.weight, first.weight) and not torch.equal(again.weight, torch.nn.Linear(3, 2).weight)
    _tiny_run(task, calls, lr=0.2)  # another config is another run
    assert calls == [1, 1]


def test_train_cached_can_be_switched_off_and_survives_a_damaged_file(task, tmp_path, monkeypatch):
    monkeypatch.setenv("GPTCOURSE_CACHE", "off")
    calls = []
    _tiny_run(task, calls)
    _tiny_run(task, calls)
    assert calls == [1, 1]
    monkeypatch.setenv("GPTCOURSE_CACHE", str(tmp_path))
    _tiny_run(task, calls)
    (kept,) = tmp_path.glob("tiny-*.pt")
    kept.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable"):
        model, losses = _tiny_run(task, calls)
    assert calls == [1, 1, 1, 1] and len(losses) == 3


def test_the_key_changes_with_the_task_and_the_configs(task):
    other = tt.make_task(seed=1)
    assert training.training_key("m", task, 1) == training.training_key("m", task, 1)
    assert training.training_key("m", task, 1) != training.training_key("m", task, 2)
    assert training.training_key("m", task, 1) != training.training_key("m", other, 1)


def test_endless_batches_reshuffle_every_pass(task):
    small = tt.TranslationTask(task.src_vocab, task.tgt_vocab, task.train[:10], [], [], [])
    endless = small.endless_batches("train", batch_size=4, seed=3)
    got = [next(endless).src.tolist() for _ in range(6)]  # two passes of 3 batches (4 + 4 + 2)
    expected = [b.src.tolist() for k in (3, 4) for b in small.batches("train", 4, shuffle=True, seed=k)]
    assert got == expected
