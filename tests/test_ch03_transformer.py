"""Chapter 3's package module, checked against PyTorch's own attention and the paper's formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gptcourse.ch01_seq2seq import greedy_decode
from gptcourse.ch03_transformer import (
    DecoderLayer,
    EncoderLayer,
    FeedForward,
    MultiHeadAttention,
    PositionalEncoding,
    Transformer,
    TransformerConfig,
    causal_mask,
    load_torch_decoder_layer,
    load_torch_encoder_layer,
    load_torch_mha,
    noam_lr,
    noam_optimizer,
    padding_mask,
    positional_encoding,
    scaled_dot_product_attention,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=gen(seed))


# ----- scaled dot-product attention ---------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 4, 8), (2, 3, 6, 7, 16)])
def test_attention_matches_torch_without_mask(shape):
    *batch, lq, lk, d = shape
    q, k, v = randn(*batch, lq, d, seed=1), randn(*batch, lk, d, seed=2), randn(*batch, lk, d + 3, seed=3)
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(*batch, lq))
    assert weights.shape == (*batch, lq, lk)


def test_attention_matches_torch_with_masks():
    q, k, v = randn(2, 4, 6, 8, seed=1), randn(2, 4, 7, 8, seed=2), randn(2, 4, 7, 8, seed=3)
    random_mask = torch.rand(2, 1, 6, 7, generator=gen(4)) > 0.4
    random_mask[..., 0] = True  # no row fully masked
    src = torch.tensor([[5, 6, 7, 0, 0, 0, 0], [5, 6, 7, 8, 9, 10, 11]])
    for mask in (random_mask, padding_mask(src, 0), causal_mask(7)[:6]):
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-5, rtol=1e-5)
        assert (weights.masked_select(~mask.expand_as(weights)) == 0).all()


def test_attention_would_fail_without_scaling():
    """The comparison above can fail: dropping 1/sqrt(d_k) changes the output."""
    q, k, v = randn(3, 5, 64, seed=1), randn(3, 5, 64, seed=2), randn(3, 5, 64, seed=3)
    unscaled = torch.softmax(q @ k.transpose(-2, -1), -1) @ v
    assert not torch.allclose(unscaled, F.scaled_dot_product_attention(q, k, v), atol=1e-3)


def test_causal_and_padding_masks():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    pm = padding_mask(torch.tensor([[4, 5, 0], [4, 0, 0]]), pad_id=0)
    assert pm.shape == (2, 1, 1, 3) and pm.dtype == torch.bool
    assert pm[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]


# ----- multi-head attention -------------------------------------------------------------------


@pytest.mark.parametrize("d_model,n_heads", [(16, 4), (24, 3), (8, 1)])
def test_mha_matches_torch_multihead_attention(d_model, n_heads):
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(d_model, n_heads, batch_first=True).eval()
    mine = load_torch_mha(MultiHeadAttention(d_model, n_heads), theirs)
    x, mem = randn(3, 5, d_model, seed=1), randn(3, 7, d_model, seed=2)
    torch.testing.assert_close(mine(x, mem, mem), theirs(x, mem, mem)[0], atol=1e-5, rtol=1e-5)
    src = torch.tensor([[3, 4, 5, 0, 0, 0, 0], [1, 2, 3, 4, 5, 6, 7], [6, 7, 0, 0, 0, 0, 0]])
    pm = padding_mask(src, 0)
    expected, expected_weights = theirs(x, mem, mem, key_padding_mask=~pm[:, 0, 0], average_attn_weights=False)
    torch.testing.assert_close(mine(x, mem, mem, pm), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mine.weights, expected_weights, atol=1e-6, rtol=1e-5)
    # torch's boolean attn_mask means "may NOT attend": the opposite of ours
    cm = causal_mask(5)
    torch.testing.assert_close(mine(x, x, x, cm), theirs(x, x, x, attn_mask=~cm)[0], atol=1e-5, rtol=1e-5)


def test_mha_comparison_can_fail():
    torch.manual_seed(0)
    theirs = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    mine = load_torch_mha(MultiHeadAttention(16, 4), theirs)
    with torch.no_grad():
        mine.W_k.weight[0, 0] += 0.5
    x = randn(2, 5, 16)
    assert not torch.allclose(mine(x, x, x), theirs(x, x, x)[0], atol=1e-4)
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4)


def test_mha_heads_are_independent_slices():
    """Head i only sees features i*d_k ... (i+1)*d_k - 1 of the projected queries and keys."""
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).eval()
    x = randn(1, 4, 8)
    mha(x, x, x)
    before = mha.weights.clone()
    with torch.no_grad():
        mha.W_q.weight[4:] *= 2  # only head 1's query projection
    mha(x, x, x)
    torch.testing.assert_close(mha.weights[:, 0], before[:, 0])
    assert not torch.allclose(mha.weights[:, 1], before[:, 1])


# ----- positional encoding --------------------------------------------------------------------


def test_positional_encoding_matches_the_formula():
    d = 64
    pe = positional_encoding(200, d)
    assert pe.shape == (200, d) and pe.dtype == torch.float32
    rng = torch.Generator().manual_seed(0)
    for _ in range(200):
        pos = int(torch.randint(0, 200, (1,), generator=rng))
        dim = int(torch.randint(0, d, (1,), generator=rng))
        i = dim // 2
        f = math.sin if dim % 2 == 0 else math.cos
        assert abs(pe[pos, dim].item() - f(pos / 10000 ** (2 * i / d))) < 1e-6, (pos, dim)
    assert pe[0, 0::2].abs().max() == 0 and (pe[0, 1::2] == 1).all()
    with pytest.raises(ValueError):
        positional_encoding(10, 7)


def test_positional_encoding_module_adds_the_table():
    pe_module = PositionalEncoding(16, max_len=50).eval()
    x = randn(2, 9, 16)
    torch.testing.assert_close(pe_module(x), x + positional_encoding(9, 16))
    assert not any(True for _ in pe_module.parameters())  # nothing learned
    pe_module(randn(1, 50, 16))  # exactly max_len positions is fine
    with pytest.raises(ValueError, match="max_len"):
        pe_module(randn(1, 51, 16))


def test_pe_dot_product_depends_only_on_the_offset():
    pe = positional_encoding(120, 32).double()
    for k in (1, 5, 17):
        dots = (pe[: 120 - k] * pe[k:]).sum(-1)
        assert dots.std() < 1e-4
        expected = sum(math.cos(k / 10000 ** (2 * i / 32)) for i in range(16))
        assert abs(dots[0].item() - expected) < 1e-4


# ----- layers ---------------------------------------------------------------------------------


def test_feed_forward_is_position_wise():
    torch.manual_seed(0)
    ffn = FeedForward(8, 32)
    x = randn(2, 5, 8)
    torch.testing.assert_close(ffn(x)[:, 3], ffn(x[:, 3:4])[:, 0])
    torch.testing.assert_close(ffn(x), ffn.W_2(torch.clamp(ffn.W_1(x), min=0)))


def test_encoder_layer_matches_torch_post_ln():
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True).eval()
    assert not theirs.norm_first
    mine = load_torch_encoder_layer(EncoderLayer(16, 4, 32, dropout=0.0), theirs).eval()
    src = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    x, pm = randn(2, 5, 16), padding_mask(src, 0)
    torch.testing.assert_close(mine(x, pm), theirs(x, src_key_padding_mask=~pm[:, 0, 0]), atol=1e-5, rtol=1e-5)
    # a pre-LN layer is a different function: the comparison can fail
    pre = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True, norm_first=True).eval()
    pre.load_state_dict(theirs.state_dict())
    assert not torch.allclose(mine(x, pm), pre(x, src_key_padding_mask=~pm[:, 0, 0]), atol=1e-3)


def test_decoder_layer_matches_torch_post_ln():
    torch.manual_seed(0)
    theirs = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True).eval()
    mine = load_torch_decoder_layer(DecoderLayer(16, 4, 32, dropout=0.0), theirs).eval()
    src = torch.tensor([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    y, memory, pm, cm = randn(2, 6, 16, seed=1), randn(2, 5, 16, seed=2), padding_mask(src, 0), causal_mask(6)
    expected = theirs(y, memory, tgt_mask=~cm, memory_key_padding_mask=~pm[:, 0, 0])
    torch.testing.assert_close(mine(y, memory, cm, pm), expected, atol=1e-5, rtol=1e-5)


def test_loaders_name_the_missing_attribute():
    class Wrong(nn.Module):
        def __init__(self):
            super().__init__()
            self.q_proj = nn.Linear(8, 8)

    with pytest.raises(AttributeError, match="W_q"):
        load_torch_mha(Wrong(), nn.MultiheadAttention(8, 2, batch_first=True))


# ----- the model ------------------------------------------------------------------------------


def tiny_model(seed=0, **kw):
    torch.manual_seed(seed)
    cfg = TransformerConfig(
        src_vocab_size=12, tgt_vocab_size=11, d_model=16, n_heads=4, n_layers=2, d_ff=32, dropout=0.0, max_len=40, **kw
    )
    return Transformer(cfg).eval()


def test_config_defaults_are_the_base_model():
    c = TransformerConfig(100, 100)
    assert (c.d_model, c.n_layers, c.n_heads, c.d_ff, c.dropout) == (512, 6, 8, 2048, 0.1)


def test_decoder_is_causal():
    model = tiny_model()
    src = torch.randint(4, 12, (3, 7), generator=gen(1))
    tgt = torch.randint(4, 11, (3, 9), generator=gen(2))
    logits = model(src, tgt)
    changed = tgt.clone()
    changed[:, 5:] = torch.randint(4, 11, (3, 4), generator=gen(3))
    logits2 = model(src, changed)
    torch.testing.assert_close(logits[:, :5], logits2[:, :5], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(logits[:, 5:], logits2[:, 5:], atol=1e-3)  # the future does change the future


def test_padding_does_not_change_real_positions():
    model = tiny_model()
    src = torch.tensor([[5, 6, 7, 0, 0, 0], [5, 6, 7, 8, 9, 10]])
    tgt = torch.tensor([[1, 4, 5, 6], [1, 7, 8, 9]])
    src_mask = padding_mask(src, 0)
    memory = model.encoder(src, src_mask)
    logits = model.decode(tgt, memory, src_mask)
    torch.testing.assert_close(model(src, tgt), logits)
    # what sits in the padded slots must not matter, if the mask says they are padding
    memory2 = model.encoder(torch.tensor([[5, 6, 7, 9, 9, 9], [5, 6, 7, 8, 9, 10]]), src_mask)
    torch.testing.assert_close(memory2[0, :3], memory[0, :3], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(model.decode(tgt, memory2, src_mask), logits, atol=1e-5, rtol=1e-5)
    # a shorter batch (no padding at all) gives the same results for the short sentence
    alone = model(src[:1, :3], tgt[:1])
    torch.testing.assert_close(alone, logits[:1], atol=1e-5, rtol=1e-5)
    # and padding in the target does not change the real target positions
    padded_tgt = torch.tensor([[1, 4, 5, 6, 0, 0], [1, 7, 8, 9, 10, 10]])
    torch.testing.assert_close(model(src, padded_tgt)[:1, :4], logits[:1], atol=1e-5, rtol=1e-5)


def test_step_interface_matches_the_parallel_decoder():
    """Chapter 1's encode/step interface gives the same logits, one position at a time."""
    model = tiny_model()
    src = torch.randint(4, 12, (3, 7), generator=gen(1))
    src_lengths = torch.full((3,), 7)
    tgt = torch.randint(4, 11, (3, 5), generator=gen(2))
    parallel = model(src, tgt)
    state = model.encode(src, src_lengths)
    for t in range(5):
        logits, state = model.step(tgt[:, t], state)
        torch.testing.assert_close(logits, parallel[:, t], atol=1e-5, rtol=1e-5)


def test_chapter1_greedy_decode_works_on_the_transformer():
    model = tiny_model()
    src = torch.randint(4, 12, (4, 5), generator=gen(1))
    out = greedy_decode(model, src, torch.full((4,), 5), max_len=8, sos_id=1, eos_id=2)
    assert out.shape[0] == 4 and out.shape[1] <= 8
    first = model(src, torch.ones(4, 1, dtype=torch.long))[:, 0].argmax(-1)
    assert (out[:, 0] == first).all()  # the first greedy token is the argmax after <sos>


# ----- the learning-rate schedule -----------------------------------------------------------


def test_noam_schedule_and_adam_settings():
    assert noam_lr(4000, 512, 4000) == pytest.approx(512**-0.5 * 4000**-0.5)
    assert noam_lr(100, 512, 4000) == pytest.approx(512**-0.5 * 100 * 4000**-1.5)
    assert noam_lr(16000, 512, 4000) == pytest.approx(512**-0.5 * 16000**-0.5)
    assert noam_lr(0, 512) == noam_lr(1, 512)
    peak = max(range(1, 10000), key=lambda s: noam_lr(s, 512, 4000))
    assert peak == 4000
    model = nn.Linear(2, 2)
    opt, sched = noam_optimizer(model, 512, warmup=4000, factor=2.0)
    group = opt.param_groups[0]
    assert group["betas"] == (0.9, 0.98) and group["eps"] == 1e-9
    assert group["lr"] == pytest.approx(2 * noam_lr(1, 512, 4000))
    for _ in range(9):
        opt.step()
        sched.step()
    assert group["lr"] == pytest.approx(2 * noam_lr(10, 512, 4000))


# ----- training on the toy task -------------------------------------------------------------


def test_training_on_the_toy_task_lowers_the_loss():
    from gptcourse.ch03_transformer import TrainConfig, build_and_train, small_config
    from gptcourse.data.translation_task import make_task

    task = make_task(n_train=400, n_valid=10, n_test=10, n_long=10)
    model, losses = build_and_train(
        task,
        small_config(task, d_model=32, d_ff=64),
        TrainConfig(steps=30, batch_size=32, warmup=10),
        show_progress=False,
    )
    assert len(losses) == 30 and not model.training
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5


def test_speed_verdict_follows_the_ratio():
    from gptcourse.ch03_transformer import speed_verdict

    assert speed_verdict(3.0, 1.0) == "the Transformer trained 3.0 times as fast"
    assert speed_verdict(1.0, 1.0) == "the Transformer trained 1.0 times as fast"
    assert speed_verdict(1.0, 2.5).startswith("the Transformer was 2.5 times slower: on a CPU")


def test_the_korean_speed_verdict_has_both_branches_and_the_same_numbers():
    import re

    from gptcourse.ch03_transformer import speed_verdict

    assert speed_verdict(3.0, 1.0, language="ko") == "트랜스포머가 3.0배 빠르게 학습했습니다"
    slower = speed_verdict(1.0, 2.5, language="ko")
    assert slower.startswith("트랜스포머가 2.5배 느렸습니다. CPU에서") and slower.endswith("비용이 더 듭니다")
    for seconds in [(3.0, 1.0), (1.0, 2.5)]:
        assert re.findall(r"\d+", speed_verdict(*seconds)) == re.findall(r"\d+", speed_verdict(*seconds, language="ko"))
    assert speed_verdict(3.0, 1.0, language="en") == speed_verdict(3.0, 1.0)
    with pytest.raises(ValueError, match="'en' or 'ko'"):
        speed_verdict(3.0, 1.0, language="KO")
