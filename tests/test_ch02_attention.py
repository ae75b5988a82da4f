"""Chapter 2's attention: scores, masking, the context vector, the attention decoder, training."""

import math

import pytest
import torch

from gptcourse import ch01_seq2seq as c1
from gptcourse import ch02_attention as c2
from gptcourse.data.translation_task import make_task


@pytest.fixture(scope="module")
def task():
    return make_task(seed=0, n_train=3000, n_valid=60, n_test=120, n_long=60)


def small_model(task, score="additive", seed=0):
    torch.manual_seed(seed)
    return c2.AttentionSeq2Seq(
        c2.AttentionConfig(len(task.src_vocab), len(task.tgt_vocab), d_emb=8, d_hidden=16, d_attn=12, score=score)
    )


def test_soft_lookup_blends_towards_the_matching_key():
    keys = torch.eye(3) * 20.0
    values = torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])
    torch.testing.assert_close(
        c2.soft_lookup(torch.tensor([0.0, 1.0, 0.0]), keys, values), torch.tensor([0.0, 1.0]), atol=1e-6, rtol=0
    )
    # a query that matches no key returns the plain average
    torch.testing.assert_close(c2.soft_lookup(torch.zeros(3), keys, values), values.mean(0))


def test_dot_and_additive_scores_match_their_formulas():
    torch.manual_seed(0)
    q, k = torch.randn(2, 5), torch.randn(2, 4, 5)
    torch.testing.assert_close(c2.dot_score(q, k), torch.einsum("bh,bsh->bs", q, k))
    add = c2.AdditiveScore(5, 5, 7)
    expected = torch.stack(
        [
            torch.stack(
                [add.v.weight[0] @ torch.tanh(add.W_q.weight @ q[b] + add.W_k.weight @ k[b, i]) for i in range(4)]
            )
            for b in range(2)
        ]
    )
    torch.testing.assert_close(add(q, k), expected)


def test_masked_softmax_gives_padding_zero_weight():
    torch.manual_seed(0)
    scores = torch.randn(3, 6) * 5
    mask = c2.source_mask(torch.tensor([6, 2, 1]), 6)
    assert mask.tolist()[1] == [True, True, False, False, False, False]
    w = c2.masked_softmax(scores, mask)
    torch.testing.assert_close(w.sum(-1), torch.ones(3))
    assert (w[~mask] == 0).all()
    torch.testing.assert_close(w[1, :2], torch.softmax(scores[1, :2], -1))
    assert w[2, 0] == 1.0


def test_context_vector_is_the_weighted_average():
    torch.manual_seed(0)
    values = torch.randn(2, 4, 3)
    w = torch.softmax(torch.randn(2, 4), -1)
    torch.testing.assert_close(c2.context_vector(w, values), (w.unsqueeze(-1) * values).sum(1))
    onehot = torch.tensor([[0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    torch.testing.assert_close(c2.context_vector(onehot, values), torch.stack([values[0, 2], values[1, 0]]))


@pytest.mark.parametrize("score", ["additive", "dot"])
def test_attention_model_ignores_padding(task, score):
    model = small_model(task, score)
    b = task.collate(task.test[:3])
    logits = c1.teacher_forcing_logits(model, b.src, b.src_lengths, b.tgt_in)
    padded = torch.cat([b.src, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    logits_padded = c1.teacher_forcing_logits(model, padded, b.src_lengths, b.tgt_in)
    torch.testing.assert_close(logits, logits_padded)
    state = model.encode(b.src, b.src_lengths)
    _, state = model.step(b.tgt_in[:, 0], state)
    alpha = state[3]
    torch.testing.assert_close(alpha.sum(-1), torch.ones(3))
    assert (alpha[~c2.source_mask(b.src_lengths, b.src.size(1))] == 0).all()


def test_greedy_decode_with_attention_agrees_with_greedy_decode(task):
    model = small_model(task)
    b = task.collate(task.test[:6])
    ids, weights = c2.greedy_decode_with_attention(model, b.src, b.src_lengths, max_len=8)
    assert torch.equal(ids, c1.greedy_decode(model, b.src, b.src_lengths, max_len=8))
    assert weights.shape == (6, ids.size(1), b.src.size(1))
    words, w = c2.alignment(model, task, task.test[0][0])
    assert w.shape == (len(words) + 1, len(task.test[0][0]))


def test_attention_trains_faster_than_it_starts(task):
    model = small_model(task)
    losses = c1.train(model, task, c1.TrainConfig(steps=60, batch_size=32, lr=1e-2), show_progress=False)
    assert losses[0] == pytest.approx(math.log(len(task.tgt_vocab)), rel=0.2)
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10


def test_plot_attention_draws_a_translation_cut_off_without_eos():
    import matplotlib

    matplotlib.use("Agg")
    from gptcourse.ch02_attention import plot_attention

    source = ["fox", "helps", "horses"]
    for words, n_rows in ((["vulpo", "helpas"], 3), (["vulpo", "helpas", "vulpo", "vulpo"], 4)):
        weights = torch.softmax(torch.randn(n_rows, len(source)), -1)
        ax = plot_attention(weights, source, words)  # 4 words and 4 rows: cut off, no <eos> row
        labels = [t.get_text() for t in ax.get_yticklabels()]
        assert labels == (words + ["<eos>"])[:n_rows]


def test_the_page_verdicts_follow_the_numbers():
    assert c2.length_verdict(0.05, 0.6) == "barely moves"
    assert c2.length_verdict(0.2, 0.6) == "falls too, by 20 percentage points, but far less than seq2seq's 60"
    assert c2.length_verdict(0.6, 0.5) == "falls by 60 percentage points, no less than seq2seq's"
    assert c2.beyond_verdict(0.5, 0.4) == "attention degrades more gracefully"
    assert c2.beyond_verdict(0.4, 0.4) == "attention does no better"


def test_the_korean_verdicts_have_every_branch_and_the_same_numbers():
    import re

    assert c2.length_verdict(0.05, 0.6, language="ko") == "거의 변하지 않습니다"
    assert c2.length_verdict(0.2, 0.6, language="ko") == (
        "역시 20퍼센트포인트 떨어지지만, seq2seq의 60퍼센트포인트보다는 훨씬 덜 떨어집니다"
    )
    assert c2.length_verdict(0.6, 0.5, language="ko") == "60퍼센트포인트 떨어집니다. seq2seq보다 덜 떨어지지 않습니다"
    assert c2.beyond_verdict(0.5, 0.4, language="ko") == "어텐션 모델의 성능이 더 완만하게 떨어집니다"
    assert c2.beyond_verdict(0.4, 0.4, language="ko") == "어텐션 모델도 더 낫지 않습니다"
    # the Korean page shows the Korean verdict where the English page shows the English one: same numbers
    for drops in [(0.05, 0.6), (0.2, 0.6), (0.6, 0.5)]:
        en, ko = c2.length_verdict(*drops), c2.length_verdict(*drops, language="ko")
        assert re.findall(r"\d+", en) == re.findall(r"\d+", ko)
    for verdict in (c2.length_verdict, c2.beyond_verdict):
        assert verdict(0.2, 0.6, language="en") == verdict(0.2, 0.6)
        with pytest.raises(ValueError, match="'en' or 'ko'"):
            verdict(0.2, 0.6, language="english")
    assert c2.wrong_length_fraction([["a"], ["a", "b"], []], [["x"], ["x"], ["x"]]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="as many"):
        c2.wrong_length_fraction([["a"]], [])


def test_alignment_accuracy_counts_the_peaks_on_the_translated_word(task, monkeypatch):
    pairs = [p for p in task.test if len(p[0]) == 5][:3]
    calls = []

    def decode(model, src, src_lengths, max_len):
        """Weights that peak on the word each output word translates, but for the very first output word,
        whose peak is on a neighbour of it."""
        weights = torch.zeros(src.size(0), max_len, src.size(1))
        for row in range(src.size(0)):
            source = [task.src_vocab.itos[i] for i in src[row].tolist() if i != 0]
            for t, a in enumerate(c2.reference_alignment(source)):
                weights[row, t, a] = 1.0
            if not calls and row == 0:
                a = int(weights[0, 0].argmax())
                weights[0, 0] = 0.0
                weights[0, 0, a + 1 if a + 1 < len(source) else a - 1] = 1.0
        calls.append(src.size(0))
        return None, weights

    monkeypatch.setattr(c2, "greedy_decode_with_attention", decode)
    total = sum(len(t) for _, t in pairs)
    exact, near = c2.alignment_accuracy(None, task, pairs, batch_size=2)
    assert calls == [2, 1]
    assert exact == pytest.approx((total - 1) / total) and near == 1.0


def test_attention_heatmap_marks_each_rows_peak():
    import matplotlib

    matplotlib.use("Agg")
    weights = torch.tensor([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    ax = c2.plot_attention(weights, ["a", "b", "c"], ["x"])
    (dots,) = ax.get_lines()
    assert list(dots.get_xdata()) == [1, 0] and list(dots.get_ydata()) == [0, 1]
    matplotlib.pyplot.close("all")
