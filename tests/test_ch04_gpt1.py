"""Chapter 4's package module: the GPT-1 model, its objectives, BPE and the input transformations."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gptcourse.ch03_transformer import load_torch_encoder_layer
from gptcourse.ch04_bpe import BPETokenizer, bpe_merge_step, learn_bpe, merge_pair, pair_counts, word_symbols
from gptcourse.ch04_finetune import (
    accuracy,
    classification_input,
    encode_task,
    entailment_input,
    finetune,
    multiple_choice_inputs,
    new_classifier,
    pad_batch,
    similarity_inputs,
)
from gptcourse.ch04_gpt1 import (
    GPT1,
    Block,
    GPT1Classifier,
    GPT1Config,
    count_model_parameters,
    l3_loss,
    lm_loss,
    multiple_choice_logits,
    sample,
    similarity_logits,
)
from gptcourse.ch04_pretraining import PRETRAINED_DIR, gpt1_lr, load_pretrained


def small_config(**kw):
    return GPT1Config(
        **{"vocab_size": 37, "n_ctx": 16, "d_model": 16, "n_layers": 2, "n_heads": 4, "d_ff": 32, "dropout": 0.0, **kw}
    )


def seeded_model(seed=0, **kw):
    torch.manual_seed(seed)
    return GPT1(small_config(**kw)).eval()


# ----- the model ------------------------------------------------------------------------------


def test_paper_model_has_117M_parameters():
    with torch.device("meta"):
        model = GPT1(GPT1Config())
    # 40,478 x 768 tokens + 512 x 768 positions + 12 x 7,087,872 per block; no output matrix (tied)
    assert count_model_parameters(model) == 116_534_784


def test_block_is_torch_post_ln_encoder_layer_with_causal_mask_and_gelu():
    torch.manual_seed(0)
    config = small_config()
    block = Block(config).eval()
    ref = nn.TransformerEncoderLayer(
        16, 4, 32, dropout=0.0, activation=lambda x: F.gelu(x, approximate="tanh"), batch_first=True, norm_first=False
    ).eval()
    load_torch_encoder_layer(block, ref)
    x = torch.randn(3, 7, 16)
    expected = ref(x, src_mask=nn.Transformer.generate_square_subsequent_mask(7), is_causal=True)
    assert torch.allclose(block(x), expected, atol=1e-5)


def test_future_tokens_do_not_change_earlier_logits():
    model = seeded_model()
    U = torch.randint(0, 37, (2, 10), generator=torch.Generator().manual_seed(1))
    V = U.clone()
    V[:, 6:] = (V[:, 6:] + 5) % 37
    a, b = model(U), model(V)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)
    assert not torch.allclose(a[:, 6:], b[:, 6:], atol=1e-3)


def test_output_layer_is_the_token_embedding():
    model = seeded_model(n_layers=0)
    U = torch.tensor([[3, 1, 4, 1, 5]])
    h0 = model.W_e.weight[U] + model.W_p.weight[:5]
    assert torch.allclose(model(U), h0 @ model.W_e.weight.T, atol=1e-6)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes.count((37, 16)) == 1, "one vocab x d matrix: W_e, used twice"
    with torch.no_grad():
        model.W_e.weight[2] += 1.0  # the output score of token 2 moves with its embedding
    assert torch.allclose(model(U)[..., 2], (h0 @ model.W_e.weight.T)[..., 2], atol=1e-6)


def test_init_is_normal_0_02():
    torch.manual_seed(0)
    model = GPT1(GPT1Config(vocab_size=500, n_ctx=64, d_model=128, n_layers=2, n_heads=4, d_ff=512))
    assert abs(model.W_e.weight.std().item() - 0.02) < 1e-3
    assert model.blocks[0].ffn.W_1.bias.abs().max() == 0


def test_lm_loss_is_shifted_cross_entropy_and_ignores_pad():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 7)
    U = torch.tensor([[1, 2, 3, 4, 5], [6, 5, 4, 0, 0]])
    logp = torch.log_softmax(logits, -1)
    terms = [-logp[b, i, U[b, i + 1]] for b in range(2) for i in range(4) if U[b, i + 1] != 0]
    assert torch.allclose(lm_loss(logits, U, pad_id=0), torch.stack(terms).mean(), atol=1e-6)
    assert lm_loss(torch.zeros(1, 4, 7), torch.tensor([[1, 2, 3, 4]])).item() == pytest.approx(math.log(7))


def test_sample_greedy_is_deterministic_and_extends_the_prompt():
    model = seeded_model()
    out = sample(model, [1, 2], 5, temperature=0)
    assert out[:2] == [1, 2] and len(out) == 7 and out == sample(model, [1, 2], 5, temperature=0)
    g = torch.Generator().manual_seed(0)
    assert len(sample(model, [1], 20, generator=g)) == 21  # longer than n_ctx is cropped


# ----- fine-tuning ----------------------------------------------------------------------------


def test_classifier_reads_the_extract_position_and_l3_adds_lambda_l1():
    lm = seeded_model()
    clf = GPT1Classifier(lm, 3).eval()
    X = torch.tensor([[5, 6, 7, 0, 0], [5, 8, 9, 10, 11]])
    last = torch.tensor([2, 4])
    logits, lm_logits = clf(X, last)
    h = lm.hidden(X)
    assert torch.allclose(logits, clf.W_y(h[[0, 1], [2, 4]]), atol=1e-6)
    assert torch.allclose(lm_logits, lm(X), atol=1e-6)
    X2 = X.clone()
    X2[0, 3:] = 9  # what follows the extract token does not matter
    assert torch.allclose(clf(X2, last)[0], logits, atol=1e-6)
    y = torch.tensor([2, 0])
    for lam in (0.0, 0.5, 2.0):
        expected = F.cross_entropy(logits, y) + lam * lm_loss(lm_logits, X, pad_id=0)
        assert torch.allclose(l3_loss(logits, y, lm_logits, X, lam, pad_id=0), expected)


def test_similarity_adds_both_orders_and_multiple_choice_softmaxes_over_answers():
    lm = seeded_model()
    clf = GPT1Classifier(lm, 2).eval()
    X = torch.randint(1, 37, (4, 2, 6), generator=torch.Generator().manual_seed(0))
    last = torch.full((4, 2), 5)
    logits, _ = similarity_logits(clf, X, last)
    h = lm.hidden(X[:, 0])[:, 5] + lm.hidden(X[:, 1])[:, 5]
    assert torch.allclose(logits, clf.W_y(h), atol=1e-5)
    swapped, _ = similarity_logits(clf, X.flip(1), last)
    assert torch.allclose(swapped, logits, atol=1e-5), "the order of the pair must not matter"
    scorer = GPT1Classifier(lm, 1).eval()
    scores, _ = multiple_choice_logits(scorer, X, last)
    assert scores.shape == (4, 2)
    assert torch.allclose(scores[:, 1], scorer(X[:, 1], last[:, 1])[0][:, 0], atol=1e-6)


def test_lr_schedule_warms_up_then_decays_to_zero():
    assert gpt1_lr(0, 1.0, 10, 100) == pytest.approx(0.1)
    assert gpt1_lr(9, 1.0, 10, 100) == pytest.approx(1.0)
    assert gpt1_lr(99, 1.0, 10, 100) == pytest.approx(0.0, abs=1e-12)
    assert gpt1_lr(54, 1.0, 10, 100, "linear") == pytest.approx(0.5)
    assert gpt1_lr(54, 1.0, 10, 100, "cosine") == pytest.approx(0.5)


# ----- BPE and the input transformations ------------------------------------------------------


def test_bpe_step_counts_pairs_and_merges_the_most_frequent():
    vocab = {word_symbols("low"): 5, word_symbols("lower"): 2, word_symbols("newest"): 6, word_symbols("widest"): 3}
    counts = pair_counts(vocab)
    assert counts[("l", "o")] == 7 and counts[("e", "s")] == 9 and counts[("s", "t</w>")] == 9
    pair, new = bpe_merge_step(vocab)
    assert pair == ("e", "s")  # ties (e,s) / (s,t</w>) go to the smaller tuple
    assert new[("n", "e", "w", "es", "t</w>")] == 6 and sum(new.values()) == sum(vocab.values())
    assert merge_pair({("a", "a", "a"): 1}, ("a", "a")) == {("aa", "a"): 1}
    assert bpe_merge_step({("x</w>",): 3}) == (None, {("x</w>",): 3})


def test_tokenizer_round_trips_and_applies_merges_in_learned_order():
    texts = ["low lower lowest newest widest", "the lowest newest"] * 3
    base, merges = learn_bpe(texts, 12)
    tok = BPETokenizer(base, merges)
    for text in texts + ["wet low"]:
        assert tok.decode(tok.encode(text)) == text
    assert len(tok.encode("lowest")) < len("lowest")
    assert tok.encode("zzz") == [tok.unk_id] * 3
    assert tok.vocab_size == len(base) + len(merges) + 5


def test_input_transformations_match_figure_1():
    tok = BPETokenizer(*learn_bpe(["a b c d"], 0))
    s, d, e = tok.start_id, tok.delim_id, tok.extract_id
    A, B, C = tok.encode("a"), tok.encode("b"), tok.encode("c")
    assert classification_input(tok, "a b") == [s, *A, *B, e]
    assert entailment_input(tok, "a", "b c") == [s, *A, d, *B, *C, e]
    assert similarity_inputs(tok, "a", "b") == [[s, *A, d, *B, e], [s, *B, d, *A, e]]
    assert multiple_choice_inputs(tok, "a", ["b", "c d"]) == [[s, *A, d, *B, e], [s, *A, d, *C, *tok.encode("d"), e]]
    X, last = pad_batch([[1, 2, 3], [4]], pad_id=0)
    assert X.tolist() == [[1, 2, 3], [4, 0, 0]] and last.tolist() == [2, 0]


def test_encode_task_shapes():
    tok = BPETokenizer(*learn_bpe(["a b c d e"], 3))
    mc = encode_task(tok, "multiple_choice", [("a", ["b", "c d", "e"], 1), ("b", ["a", "c", "d"], 2)])
    assert mc.X.shape[:2] == (2, 3) and mc.last.shape == (2, 3) and mc.y.tolist() == [1, 2] and mc.n_classes == 1
    cl = encode_task(tok, "classification", [("a b", 0), ("c", 1)])
    assert cl.X.shape[0] == 2 and cl.X[1, cl.last[1]] == tok.extract_id


def test_finetuning_fits_a_toy_task():
    tok = BPETokenizer(*learn_bpe(["a b c d"], 0))
    examples = [("a b", 0), ("c d", 1), ("a a", 0), ("d c", 1)] * 4
    data = encode_task(tok, "classification", examples)
    config = small_config(vocab_size=tok.vocab_size, dropout=0.1)
    clf = new_classifier(None, config, 2, tok, seed=0)
    losses = finetune(clf, data, lam=0.0, epochs=30, batch_size=8, max_lr=3e-3, pad_id=tok.pad_id)
    assert losses[-1] < 0.3 < 0.6 < losses[0]
    assert accuracy(clf, data) == 1.0


def test_new_classifier_copies_the_pretrained_weights_and_redraws_the_task_tokens():
    tok = BPETokenizer(*learn_bpe(["a b c d"], 0))
    lm = seeded_model(vocab_size=tok.vocab_size)
    clf = new_classifier(lm, lm.config, 2, tok, seed=1)
    assert clf.lm is not lm and torch.equal(clf.lm.W_p.weight, lm.W_p.weight)
    same = torch.isclose(clf.lm.W_e.weight, lm.W_e.weight).all(-1)
    assert same[: tok.start_id].all() and not same[[tok.start_id, tok.delim_id, tok.extract_id]].any()


# ----- the shipped checkpoint -----------------------------------------------------------------


def test_shipped_checkpoint_loads_is_small_and_knows_the_corpus():
    assert sum(f.stat().st_size for f in PRETRAINED_DIR.iterdir()) < 400_000
    model, tok, info = load_pretrained()
    assert info["losses"][-1] < info["losses"][0] / 3
    U = torch.tensor([tok.encode("mia was thirsty , so mia drank some water .")])
    assert lm_loss(model(U), U).item() < 1.5


# --- the verdicts the chapter's prose states --------------------------------------------------------------------


def test_half_spread_is_half_the_range_in_points():
    from gptcourse.ch04_finetune import half_spread

    assert half_spread([0.70, 0.80]) == pytest.approx(5.0)
    assert half_spread([0.5, 0.5, 0.5]) == 0
    assert half_spread([0.9, 0.6, 0.8]) == pytest.approx(15.0)


def test_auxiliary_lm_effect_counts_only_a_difference_beyond_the_seed_spreads():
    from gptcourse.ch04_finetune import auxiliary_lm_effect

    assert auxiliary_lm_effect([0.80, 0.82], [0.70, 0.72]) == "helps"  # 10 points apart, spreads 1 + 1
    assert auxiliary_lm_effect([0.70, 0.72], [0.80, 0.82]) == "hurts"
    assert auxiliary_lm_effect([0.70, 0.90], [0.75, 0.77]) == "no clear difference"  # 4 points, spreads 10 + 1
    assert auxiliary_lm_effect([0.7, 0.7], [0.7, 0.7]) == "no clear difference"
    assert auxiliary_lm_effect([0.75, 0.75], [0.70, 0.70]) == "helps"  # 5 points, no spread at all
    assert auxiliary_lm_effect([0.60, 0.80], [0.65, 0.65]) == "no clear difference"  # 5 points, spreads 10 + 0
    assert auxiliary_lm_effect([0.5, 0.5], [0.25, 0.75]) == "no clear difference"  # the difference must exceed them


def test_likelihood_beats_finetuning_needs_more_than_the_margin():
    from gptcourse.ch04_finetune import likelihood_beats_finetuning

    assert likelihood_beats_finetuning(0.80, [0.60, 0.70])
    assert not likelihood_beats_finetuning(0.66, [0.60, 0.62])  # 5 points: not more than 5
    assert not likelihood_beats_finetuning(0.50, [0.60, 0.70])
    assert likelihood_beats_finetuning(0.66, [0.60, 0.62], margin=4)
    assert isinstance(likelihood_beats_finetuning(0.8, [0.6]), bool)
