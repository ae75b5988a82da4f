"""Chapter 1's encoder-decoder: shapes, padding, the masked loss, greedy decoding, and that training learns."""

import pytest
import torch
import torch.nn.functional as F

from gptcourse import ch01_seq2seq as c1
from gptcourse.data.translation_task import make_task


@pytest.fixture(scope="module")
def task():
    return make_task(seed=0, n_train=3000, n_valid=60, n_test=120, n_long=60)


def small_model(task, seed=0):
    torch.manual_seed(seed)
    return c1.Seq2Seq(c1.Seq2SeqConfig(len(task.src_vocab), len(task.tgt_vocab), d_emb=8, d_hidden=16))


def test_encoder_context_is_the_state_after_the_last_real_word():
    torch.manual_seed(0)
    enc = c1.Encoder(20, 8, 16)
    src = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 10, 11, 12]])
    states, context = enc(src, torch.tensor([3, 5]))
    assert states.shape == (2, 5, 16) and context.shape == (2, 16)
    assert torch.equal(context[0], states[0, 2]) and torch.equal(context[1], states[1, 4])
    # an independent peer: run the same GRU weights on the unpadded sentence, step by step
    gru = torch.nn.GRUCell(8, 16)
    gru.load_state_dict({k.replace("_l0", ""): v for k, v in enc.rnn.state_dict().items()})
    h = torch.zeros(1, 16)
    for tok in [5, 6, 7]:
        h = gru(enc.embed(torch.tensor([tok])), h)
    torch.testing.assert_close(context[0:1], h, atol=1e-5, rtol=1e-5)


def test_decoder_step_matches_the_equation():
    torch.manual_seed(0)
    dec = c1.DecoderStep(30, 8, 16, 12)
    y, s, c = torch.tensor([1, 4, 7]), torch.randn(3, 16), torch.randn(3, 12)
    logits, s_new = dec(y, s, c)
    assert logits.shape == (3, 30) and s_new.shape == (3, 16)
    expected_s = dec.cell(torch.cat([dec.embed.weight[y], c], -1), s)
    torch.testing.assert_close(s_new, expected_s)
    torch.testing.assert_close(logits, torch.cat([expected_s, c], -1) @ dec.out.weight.T + dec.out.bias)


def test_masked_cross_entropy_ignores_padding():
    torch.manual_seed(0)
    logits = torch.randn(4, 6, 11)
    targets = torch.randint(3, 11, (4, 6))
    targets[0, 3:] = 0
    targets[2, 1:] = 0
    expected = F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1), ignore_index=0)
    torch.testing.assert_close(c1.masked_cross_entropy(logits, targets), expected)
    changed = logits.clone()
    changed[0, 4] += 100.0  # a padded position: must not matter
    torch.testing.assert_close(c1.masked_cross_entropy(changed, targets), expected)


def test_teacher_forcing_feeds_the_reference(task):
    model = small_model(task)
    b = task.collate(task.test[:5])
    logits = c1.teacher_forcing_logits(model, b.src, b.src_lengths, b.tgt_in)
    assert logits.shape == (5, b.tgt_in.size(1), len(task.tgt_vocab))
    # step 3's logits depend on the reference word at input position 2, not on the model's guesses
    state = model.encode(b.src, b.src_lengths)
    for t in range(3):
        lt, state = model.step(b.tgt_in[:, t], state)
    torch.testing.assert_close(logits[:, 2], lt)
    loss = c1.seq2seq_loss(model, b)
    assert loss.item() == pytest.approx(
        F.cross_entropy(logits.reshape(-1, logits.size(-1)), b.tgt_out.reshape(-1), ignore_index=0).item(), rel=1e-5
    )


class Scripted:
    """A fake model that emits a fixed id sequence per row (to test decoding alone)."""

    def __init__(self, rows, vocab=10):
        self.rows, self.vocab = rows, vocab

    def encode(self, src, src_lengths):
        return 0

    def step(self, y_prev, t):
        logits = torch.zeros(len(self.rows), self.vocab)
        for i, row in enumerate(self.rows):
            logits[i, row[min(t, len(row) - 1)]] = 1.0
        return logits, t + 1


def test_greedy_decode_stops_at_eos():
    src, lengths = torch.zeros(2, 3, dtype=torch.long), torch.tensor([3, 3])
    out = c1.greedy_decode(Scripted([[5, 2, 6, 6], [7, 8, 9, 2]]), src, lengths, max_len=10)
    assert out.tolist() == [[5, 2, 2, 2], [7, 8, 9, 2]]  # early stop once both ended; <eos> after the end
    out = c1.greedy_decode(Scripted([[5, 6, 7, 8]]), src[:1], lengths[:1], max_len=3)
    assert out.tolist() == [[5, 6, 7]]  # max_len caps a sentence that never ends


def test_training_lowers_the_loss_and_translator_returns_words(task):
    model = small_model(task)
    losses = c1.train(model, task, c1.TrainConfig(steps=60, batch_size=32, lr=1e-2), show_progress=False)
    assert len(losses) == 60
    assert sum(losses[-10:]) / 10 < 0.75 * sum(losses[:10]) / 10
    preds = c1.translator(model, task)([s for s, _ in task.test[:4]])
    assert len(preds) == 4 and all(isinstance(w, str) for p in preds for w in p)
    assert all(len(p) <= len(s) + 5 for p, (s, _) in zip(preds, task.test[:4], strict=True))


def test_training_is_deterministic(task):
    a = c1.train(small_model(task), task, c1.TrainConfig(steps=5, batch_size=16), show_progress=False)
    b = c1.train(small_model(task), task, c1.TrainConfig(steps=5, batch_size=16), show_progress=False)
    assert a == b


def test_the_page_verdicts_follow_the_numbers():
    from gptcourse import ch01_evaluation as ev

    assert ev.bottleneck_verdict(0.9, 0.2) == "falls by 70 percentage points: the bottleneck is plain to see"
    assert ev.bottleneck_verdict(0.9, 0.7) == "falls by 20 percentage points: the bottleneck is plain to see"
    assert ev.bottleneck_verdict(0.9, 0.8).startswith("changes by only 10 percentage points")
    assert ev.bottleneck_verdict(0.5, 0.5).startswith("changes by only 0 percentage points")
    assert ev.bottleneck_verdict(0.4, 0.7) == "rises by 30 percentage points"
    # the wrong words of a translation in bold: a wrong word, an extra word, and nothing at all
    assert ev.mark_errors(["a", "x", "c", "d"], ["a", "b", "c"]) == "a **x** c **d**"
    assert ev.mark_errors([], ["a"]) == "(nothing)"
    rows = [{"bucket": "3-5", "n": 1}, {"bucket": "all", "n": 2}]
    assert ev.bucket_row(rows, (3, 5)) is rows[0]
    with pytest.raises(KeyError, match="6-8"):
        ev.bucket_row(rows, (6, 8))


def test_the_korean_verdict_has_every_branch_and_the_same_numbers():
    import re

    from gptcourse import ch01_evaluation as ev

    assert ev.bottleneck_verdict(0.9, 0.2, language="ko") == "70퍼센트포인트 떨어집니다. 병목이 뚜렷이 보입니다"
    assert ev.bottleneck_verdict(0.9, 0.8, language="ko") == "10퍼센트포인트밖에 달라지지 않습니다"
    assert ev.bottleneck_verdict(0.4, 0.7, language="ko") == "오히려 30퍼센트포인트 오릅니다"
    # the Korean page shows the Korean verdict where the English page shows the English one: same numbers
    for short, long in [(0.9, 0.2), (0.9, 0.8), (0.4, 0.7)]:
        en, ko = ev.bottleneck_verdict(short, long), ev.bottleneck_verdict(short, long, language="ko")
        assert re.findall(r"\d+", en) == re.findall(r"\d+", ko)
    assert ev.bottleneck_verdict(0.9, 0.2, language="en") == ev.bottleneck_verdict(0.9, 0.2)
    with pytest.raises(ValueError, match="'en' or 'ko'"):
        ev.bottleneck_verdict(0.9, 0.2, language="de")


def test_the_accuracy_plot_tells_models_apart_without_colour():
    import matplotlib

    matplotlib.use("Agg")
    from gptcourse import ch01_evaluation as ev

    rows = [{"bucket": "3-5", "lo": 3, "hi": 5, "mid": 4.0, "exact_match": 0.5, "token_accuracy": 0.7}]
    ax = ev.plot_accuracy_by_length({"one": rows, "two": rows, "three": rows})
    styles = [(line.get_marker(), line.get_linestyle()) for line in ax.get_lines()]
    assert len(set(styles)) == 3, styles
    matplotlib.pyplot.close("all")
