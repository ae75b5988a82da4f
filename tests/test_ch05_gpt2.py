"""GPT-2 (gptcourse.ch05_gpt2): sizes, the pre-LN block, equivalence with Hugging Face, the loader, generation."""

import json
import os
from dataclasses import replace

import pytest
import torch
from torch import nn
from torch.nn import functional as F

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gptcourse.ch05_checkpoints import (
    convert_hf_state_dict,
    find_gpt2_checkpoint,
    hf_to_course_key,
    load_gpt2,
    save_tiny_hf_checkpoint,
)
from gptcourse.ch05_generation import decode_step, generate, next_token, top_k_filter, top_p_filter
from gptcourse.ch05_gpt2 import (
    GPT1_VOCAB_SIZE,
    GPT2,
    GPT2_SIZES,
    PAPER_PARAMETERS,
    RELEASED_PARAMETERS,
    Block,
    GPT2Config,
    KVCache,
    count_parameters,
)
from gptcourse.ch05_tied_loss import tied_head_cross_entropy, tied_head_workspace_size

TINY = GPT2Config(vocab_size=50, n_ctx=32, n_layers=2, n_heads=4, d_model=16, dropout=0.0)


@pytest.fixture(scope="module")
def tiny_hf(tmp_path_factory):
    """(folder, the transformers model) of a tiny random GPT2LMHeadModel saved locally."""
    from transformers import GPT2LMHeadModel

    folder = save_tiny_hf_checkpoint(tmp_path_factory.mktemp("tiny-gpt2"))
    return folder, GPT2LMHeadModel.from_pretrained(folder).eval()


# ---- sizes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GPT2_SIZES))
def test_count_parameters_reproduces_the_released_checkpoints(name):
    assert count_parameters(GPT2_SIZES[name]) == RELEASED_PARAMETERS[name]


@pytest.mark.parametrize("name", list(GPT2_SIZES))
def test_the_papers_counts_are_the_same_formula_with_gpt1s_vocabulary(name):
    counted = count_parameters(replace(GPT2_SIZES[name], vocab_size=GPT1_VOCAB_SIZE))
    assert round(counted / 1e6) * 1_000_000 == PAPER_PARAMETERS[name]


def test_the_count_verdicts_the_page_states(monkeypatch):
    from gptcourse import ch05_gpt2

    assert all(ch05_gpt2.count_is_released(n) and ch05_gpt2.paper_count_explained(n) for n in GPT2_SIZES)
    monkeypatch.setitem(ch05_gpt2.RELEASED_PARAMETERS, "gpt2", RELEASED_PARAMETERS["gpt2"] + 1)
    monkeypatch.setitem(ch05_gpt2.PAPER_PARAMETERS, "gpt2", 124_000_000)
    assert not ch05_gpt2.count_is_released("gpt2") and not ch05_gpt2.paper_count_explained("gpt2")


@pytest.mark.parametrize(
    "sizes",
    [
        dict(n_layers=1, n_heads=1, d_model=8, vocab_size=11, n_ctx=5),
        dict(n_layers=3, n_heads=2, d_model=12, d_ff=20, vocab_size=30, n_ctx=7),
    ],
)
def test_count_parameters_counts_the_model(sizes):
    config = GPT2Config(**sizes)
    assert count_parameters(config) == sum(p.numel() for p in GPT2(config).parameters())


def test_count_parameters_agrees_with_hugging_face():
    from transformers import GPT2Config as HFConfig
    from transformers import GPT2LMHeadModel

    hf = GPT2LMHeadModel(
        HFConfig(vocab_size=77, n_positions=19, n_embd=24, n_layer=3, n_head=4, bos_token_id=76, eos_token_id=76)
    )
    assert (
        count_parameters(GPT2Config(vocab_size=77, n_ctx=19, d_model=24, n_layers=3, n_heads=4)) == hf.num_parameters()
    )


def test_config_rejects_heads_that_do_not_divide_d_model():
    with pytest.raises(ValueError, match="divisible"):
        GPT2Config(d_model=10, n_heads=3)


# ---- the model -------------------------------------------------------------------------------


def torch_pre_ln_layer(block: Block, d_model, n_heads, d_ff):
    """PyTorch's own pre-LN encoder layer (norm_first=True) holding the block's weights."""
    layer = nn.TransformerEncoderLayer(
        d_model,
        n_heads,
        d_ff,
        dropout=0.0,
        batch_first=True,
        norm_first=True,
        activation=lambda x: F.gelu(x, approximate="tanh"),
    )
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(block.attn.W_qkv.weight)
        layer.self_attn.in_proj_bias.copy_(block.attn.W_qkv.bias)
        layer.self_attn.out_proj.weight.copy_(block.attn.W_o.weight)
        layer.self_attn.out_proj.bias.copy_(block.attn.W_o.bias)
        layer.linear1.load_state_dict(block.mlp.W_1.state_dict())
        layer.linear2.load_state_dict(block.mlp.W_2.state_dict())
        layer.norm1.load_state_dict(block.ln_1.state_dict())
        layer.norm2.load_state_dict(block.ln_2.state_dict())
    return layer.eval()


def test_block_is_pytorchs_pre_ln_layer_with_a_causal_mask():
    torch.manual_seed(0)
    block = Block(16, 4, 40).eval()
    for p in block.parameters():
        nn.init.normal_(p, std=0.3)
    layer = torch_pre_ln_layer(block, 16, 4, 40)
    x = torch.randn(3, 9, 16)
    mask = nn.Transformer.generate_square_subsequent_mask(9)
    assert torch.allclose(block(x), layer(x, src_mask=mask, is_causal=True), atol=1e-5)
    layer.norm_first = False  # the post-LN arrangement computes something else
    assert not torch.allclose(block(x), layer(x, src_mask=mask, is_causal=True), atol=1e-3)


def test_model_is_causal_and_shapes_are_right():
    torch.manual_seed(0)
    model = GPT2(TINY).eval()
    idx = torch.randint(0, 50, (2, 10))
    changed = idx.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 50
    logits, logits_changed = model(idx), model(changed)
    assert logits.shape == (2, 10, 50)
    assert torch.allclose(logits[:, :6], logits_changed[:, :6], atol=1e-6)
    assert not torch.allclose(logits[:, 6:], logits_changed[:, 6:], atol=1e-3)
    assert torch.allclose(model(idx, last_only=True)[:, 0], logits[:, -1], atol=1e-6)
    with pytest.raises(ValueError, match="n_ctx=32"):
        model(torch.zeros(1, 33, dtype=torch.long))


@pytest.mark.parametrize("rows, cols", [(1, 1), (7, 9), (64, 64), (30, 50)])
@pytest.mark.parametrize("ignore_some", [False, True])
def test_tied_head_cross_entropy_equals_cross_entropy_of_the_logits(rows, cols, ignore_some):
    g = torch.Generator().manual_seed(rows + cols)
    h = torch.randn(30, 8, dtype=torch.float64, generator=g, requires_grad=True)
    W = torch.randn(50, 8, dtype=torch.float64, generator=g, requires_grad=True)
    y = torch.randint(0, 50, (30,), generator=g)
    if ignore_some:
        y[::4] = -100
    expected = F.cross_entropy(h @ W.t(), y)
    got = tied_head_cross_entropy(h, W, y, rows=rows, cols=cols)
    torch.testing.assert_close(got, expected)
    # a weight other than 1 on the loss (here 3) must scale both gradients
    torch.testing.assert_close(torch.autograd.grad(3 * got, (h, W)), torch.autograd.grad(3 * expected, (h, W)))


def test_tied_head_cross_entropy_with_no_valid_target_is_nan_and_checks_shapes():
    h, W = torch.randn(4, 8), torch.randn(10, 8)
    assert torch.isnan(tied_head_cross_entropy(h, W, torch.full((4,), -100)))
    W.requires_grad_()
    empty = tied_head_cross_entropy(torch.randn(0, 8), W, torch.zeros(0, dtype=torch.long))
    assert torch.isnan(empty) and torch.equal(torch.autograd.grad(empty, W)[0], torch.zeros_like(W))
    with pytest.raises(ValueError, match="targets"):
        tied_head_cross_entropy(h, W, torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids in \[0, 10\).*from -1 to 3"):
        tied_head_cross_entropy(h, W, torch.tensor([0, 3, -1, -100]))


def test_tied_head_cross_entropy_reuses_a_workspace_and_refuses_a_wrong_one():
    g = torch.Generator().manual_seed(1)
    h, W = torch.randn(10, 8, generator=g), torch.randn(40, 8, generator=g)
    y1, y2 = torch.randint(0, 40, (10,), generator=g), torch.randint(0, 40, (10,), generator=g)
    size = tied_head_workspace_size(10, 40, rows=4, cols=16)
    assert size == 4 * (40 + 16)
    space = torch.full((size,), float("nan"))  # leftovers from an earlier call must not matter
    for y in (y1, y2):
        got = tied_head_cross_entropy(h, W, y, rows=4, cols=16, workspace=space)
        torch.testing.assert_close(got, F.cross_entropy(h @ W.t(), y))
    with pytest.raises(ValueError, match=f"workspace: expected at least {size} numbers"):
        tied_head_cross_entropy(h, W, y1, rows=4, cols=16, workspace=space[:-1])
    with pytest.raises(ValueError, match="workspace.*torch.float64"):
        tied_head_cross_entropy(h.double(), W.double(), y1, rows=4, cols=16, workspace=space)


def test_tied_head_cross_entropy_is_stable_for_large_logits_in_float32():
    # logits of about +-1000: exp overflows unless every slice subtracts its maximum
    g = torch.Generator().manual_seed(0)
    h = (100 * torch.randn(40, 16, generator=g)).requires_grad_()
    W = torch.randn(300, 16, generator=g).requires_grad_()
    y = torch.randint(0, 300, (40,), generator=g)
    expected = F.cross_entropy(h @ W.t(), y)
    got = tied_head_cross_entropy(h, W, y, rows=16, cols=64)
    assert torch.isfinite(got)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-3)
    for ours, theirs in zip(torch.autograd.grad(got, (h, W)), torch.autograd.grad(expected, (h, W)), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)


def test_model_loss_is_the_cross_entropy_of_its_logits_with_the_same_gradients():
    torch.manual_seed(0)
    model = GPT2(TINY)
    idx, targets = torch.randint(0, 50, (3, 10)), torch.randint(0, 50, (3, 10))
    expected = F.cross_entropy(model(idx).reshape(-1, 50), targets.reshape(-1))
    expected_grads = torch.autograd.grad(expected, list(model.parameters()))
    got = model.loss(idx, targets)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    for g_got, g_expected in zip(torch.autograd.grad(got, list(model.parameters())), expected_grads, strict=True):
        torch.testing.assert_close(g_got, g_expected, rtol=1e-4, atol=1e-6)


def test_initialisation_scales_the_residual_projections_by_one_over_sqrt_n():
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=100, n_ctx=16, n_layers=8, n_heads=4, d_model=128)
    model = GPT2(config)
    residual = torch.cat([torch.cat([b.attn.W_o.weight.flatten(), b.mlp.W_2.weight.flatten()]) for b in model.blocks])
    others = torch.cat([torch.cat([b.attn.W_qkv.weight.flatten(), b.mlp.W_1.weight.flatten()]) for b in model.blocks])
    assert residual.std().item() == pytest.approx(0.02 / 4, rel=0.02)  # N = 2 * 8 = 16 residual layers
    assert others.std().item() == pytest.approx(0.02, rel=0.02)
    assert model.W_e.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert all(float(b.attn.W_qkv.bias.detach().abs().max()) == 0 for b in model.blocks)


# ---- Hugging Face --------------------------------------------------------------------------------


def test_loaded_tiny_checkpoint_gives_hugging_faces_logits(tiny_hf):
    folder, hf = tiny_hf
    model = load_gpt2(folder)
    idx = torch.randint(0, 96, (3, 40), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (model(idx) - hf(idx).logits).abs().max().item() < 1e-5


def test_greedy_tokens_match_hugging_face_generate(tiny_hf):
    folder, hf = tiny_hf
    model = load_gpt2(folder)
    prompt = torch.tensor([[5, 17, 42, 8], [90, 1, 2, 3]])
    theirs = hf.generate(
        prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=20, do_sample=False, pad_token_id=95
    )
    for use_cache in (True, False):
        ours = generate(model, prompt, 20, temperature=0, use_cache=use_cache)
        assert ours.tolist() == theirs.tolist()
    assert len(set(ours[0, 4:].tolist())) > 3, "greedy decoding stalled: the test would prove little"


def hub_layout(folder, out):
    """The checkpoint as the hub stores the real gpt2: no 'transformer.' prefix, causal-mask buffers, no lm_head."""
    from safetensors.torch import load_file, save_file

    state = load_file(folder / "model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    n = config["n_positions"]
    hub = {k.removeprefix("transformer."): v for k, v in state.items() if k != "lm_head.weight"}
    for layer in range(config["n_layer"]):
        hub[f"h.{layer}.attn.bias"] = torch.ones(n, n).tril().view(1, 1, n, n)
    out.mkdir()
    save_file(hub, out / "model.safetensors")
    (out / "config.json").write_text(json.dumps(config))
    return out


def test_loader_reads_the_hubs_file_layout(tiny_hf, tmp_path):
    folder, hf = tiny_hf
    model = load_gpt2(hub_layout(folder, tmp_path / "hub"))
    idx = torch.arange(30)[None] % 96
    with torch.no_grad():
        assert (model(idx) - hf(idx).logits).abs().max().item() < 1e-5


def test_key_mapping_and_transposes():
    assert hf_to_course_key("transformer.h.3.attn.c_attn.weight") == "blocks.3.attn.W_qkv.weight"
    assert hf_to_course_key("h.11.mlp.c_proj.bias") == "blocks.11.mlp.W_2.bias"
    assert hf_to_course_key("transformer.wte.weight") == "W_e.weight"
    assert hf_to_course_key("wpe.weight") == "W_p.weight"
    assert hf_to_course_key("ln_f.bias") == "ln_f.bias"
    for ignored in ("lm_head.weight", "h.0.attn.bias", "transformer.h.2.attn.masked_bias"):
        assert hf_to_course_key(ignored) is None
    with pytest.raises(KeyError, match="not a GPT-2 tensor name"):
        hf_to_course_key("h.0.attn.q_proj.weight")
    w = torch.randn(4, 12)
    converted = convert_hf_state_dict({"h.0.attn.c_attn.weight": w, "h.0.ln_1.weight": torch.ones(4)})
    assert torch.equal(converted["blocks.0.attn.W_qkv.weight"], w.t())
    assert converted["blocks.0.ln_1.weight"].shape == (4,)


def test_missing_weights_say_what_to_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_gpt2") as err:
        load_gpt2(tmp_path / "nowhere")
    assert "model.safetensors" in str(err.value) and "GPTCOURSE_GPT2_DIR" in str(err.value)


def test_a_checkpoint_with_a_missing_tensor_is_refused(tiny_hf, tmp_path):
    from safetensors.torch import load_file, save_file

    folder, _ = tiny_hf
    state = load_file(folder / "model.safetensors")
    del state["transformer.h.1.mlp.c_fc.bias"]
    (tmp_path / "broken").mkdir()
    save_file(state, tmp_path / "broken" / "model.safetensors")
    (tmp_path / "broken" / "config.json").write_text((folder / "config.json").read_text())
    with pytest.raises(RuntimeError, match="blocks.1.mlp.W_1.bias"):
        load_gpt2(tmp_path / "broken")


def test_find_checkpoint_never_downloads(tiny_hf, tmp_path, monkeypatch):
    folder, _ = tiny_hf
    monkeypatch.delenv("GPTCOURSE_GPT2_DIR", raising=False)
    assert find_gpt2_checkpoint(cache_dir=tmp_path) is None
    monkeypatch.setenv("GPTCOURSE_GPT2_DIR", str(folder))
    assert find_gpt2_checkpoint(cache_dir=tmp_path) == folder


# ---- generation ----------------------------------------------------------------------------------


def test_kv_cache_gives_the_same_logits_as_recomputing():
    torch.manual_seed(0)
    model = GPT2(TINY).eval()
    idx = torch.randint(0, 50, (2, 12))
    full = model(idx)
    with torch.no_grad():
        cache = model.new_cache(2)
        parts = [model(idx[:, :5], cache), model(idx[:, 5:6], cache), model(idx[:, 6:12], cache)]  # 5, 1, 6 tokens
    assert cache.length == 12
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    past = None
    for t in range(12):
        logits, past = decode_step(model, idx[:, t : t + 1], past)
        assert torch.allclose(logits, full[:, t], atol=1e-5)
    assert past[0][0].shape == (2, 4, 12, 4)


def test_kv_cache_refuses_to_overflow():
    cache = KVCache(1, 1, 1, 3, 2)
    cache.update(0, torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    cache.length = 3
    with pytest.raises(ValueError, match="holds 3 positions"):
        cache.update(0, torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2))
    model = GPT2(TINY)
    with pytest.raises(ValueError, match="use_cache=False"):
        generate(model, torch.zeros(1, 30, dtype=torch.long), 5)
    assert generate(model, torch.zeros(1, 30, dtype=torch.long), 5, use_cache=False).shape == (1, 35)


def test_filters_agree_with_hugging_faces_warpers():
    from transformers.generation.logits_process import TopKLogitsWarper, TopPLogitsWarper

    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        logits = torch.randn(4, 30, generator=g) * 3
        for k in (1, 5, 30, 50):
            assert torch.equal(top_k_filter(logits, k), TopKLogitsWarper(k)(None, logits))
        for p in (0.1, 0.5, 0.9, 0.99):
            assert torch.equal(
                top_p_filter(logits, p) == float("-inf"), TopPLogitsWarper(p)(None, logits) == float("-inf")
            )


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert (top_p_filter(logits, 0.7) > float("-inf")).tolist() == [[True, True, False, False]]
    assert (top_p_filter(logits, 0.85) > float("-inf")).tolist() == [[True, True, True, False]]
    assert (top_p_filter(logits, 0.01) > float("-inf")).tolist() == [[True, False, False, False]]
    shuffled = logits[:, [2, 0, 3, 1]]
    assert (top_p_filter(shuffled, 0.7) > float("-inf")).tolist() == [[False, True, False, True]]


def test_next_token_greedy_temperature_and_top_k():
    logits = torch.tensor([[0.0, 3.0, 1.0], [2.0, 0.0, 1.0]])
    assert next_token(logits, temperature=0).tolist() == [[1], [0]]
    g = torch.Generator().manual_seed(0)
    assert next_token(logits, top_k=1, generator=g).tolist() == [[1], [0]]
    draws = torch.cat([next_token(logits[:1], temperature=100.0, generator=g) for _ in range(300)])
    assert set(draws.flatten().tolist()) == {0, 1, 2}, "a high temperature flattens the distribution"
    draws = torch.cat([next_token(logits[:1], temperature=0.05, generator=g) for _ in range(100)])
    assert set(draws.flatten().tolist()) == {1}


def test_sampling_is_reproducible_with_a_generator_and_cache_does_not_change_it():
    torch.manual_seed(0)
    model = GPT2(TINY)
    prompt = torch.tensor([[1, 2, 3]])
    a = generate(model, prompt, 15, top_k=10, top_p=0.9, generator=torch.Generator().manual_seed(3))
    b = generate(model, prompt, 15, top_k=10, top_p=0.9, generator=torch.Generator().manual_seed(3), use_cache=False)
    assert a.tolist() == b.tolist() and a.shape == (1, 18)


# ---- the small GPT-2, the experiment ---------------------------------------------------------------


def test_gpt1_has_gpt2s_block_parameters_and_no_final_layernorm():
    """The book counts GPT-1 with count_parameters minus the final LayerNorm; chapter 4's model agrees."""
    from gptcourse.ch04_gpt1 import GPT1, GPT1Config
    from gptcourse.ch04_gpt1 import count_model_parameters as count_model

    gpt1 = GPT1Config(vocab_size=101, n_ctx=17, d_model=24, n_layers=3, n_heads=4, d_ff=96)
    same_sizes = GPT2Config(vocab_size=101, n_ctx=17, n_layers=3, n_heads=4, d_model=24, d_ff=96)
    assert count_model(GPT1(gpt1)) == count_parameters(same_sizes) - 2 * 24


def test_save_gpt2_is_readable_by_hugging_face_and_by_the_course(tmp_path):
    from transformers import GPT2LMHeadModel

    from gptcourse.ch05_checkpoints import save_gpt2

    torch.manual_seed(0)
    model = GPT2(TINY).eval()
    save_gpt2(model, tmp_path / "saved")
    idx = torch.randint(0, 50, (2, 9))
    with torch.no_grad():
        assert (GPT2LMHeadModel.from_pretrained(tmp_path / "saved")(idx).logits - model(idx)).abs().max() < 1e-5
        assert torch.equal(load_gpt2(tmp_path / "saved")(idx), model(idx))


def test_toy_corpus_uses_few_of_gpt2s_tokens():
    from gptcourse.ch05_experiments import toy_corpus
    from gptcourse.data.gpt1_data import unlabelled_corpus

    stream, tok = toy_corpus()
    assert 100 < tok.vocab_size < 1000 and int(stream.max()) == tok.vocab_size - 1
    assert " ".join(unlabelled_corpus()).startswith(tok.decode(stream[:40].tolist()))
    assert tok.decode(tok.encode("the dog wagged its tail .")) == " the dog wagged its tail ."
    with pytest.raises(KeyError, match="never saw"):
        tok.encode("quantum chromodynamics")


def test_shipped_small_gpt2_is_trained_and_in_hugging_faces_layout():
    from transformers import GPT2LMHeadModel

    from gptcourse.ch05_experiments import TOY_GPT2_DIR, load_toy_gpt2, toy_corpus

    model, tok, info = load_toy_gpt2()
    stream, corpus_tok = toy_corpus()
    assert tok.gpt2_ids == corpus_tok.gpt2_ids and model.config.vocab_size == tok.vocab_size
    windows = torch.stack([stream[i : i + 64] for i in range(0, 64 * 32, 64)])
    with torch.no_grad():
        logits = model(windows)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, tok.vocab_size), windows[:, 1:].reshape(-1)).item()
        hf = GPT2LMHeadModel.from_pretrained(TOY_GPT2_DIR).eval()
        assert (hf(windows).logits - logits).abs().max() < 1e-4
    assert loss < 1.2, f"the shipped model's loss on its corpus is {loss:.2f} nats: is it trained?"
    out = generate(model, torch.tensor([tok.encode("tom has a beagle .")]), 10, temperature=0)
    assert tok.decode(out[0].tolist()).startswith(" tom has a beagle . the dog")


@pytest.mark.slow  # two small trainings: about 3 s on an idle 2-core machine
def test_pre_ln_trains_where_post_ln_stalls_and_why():
    from gptcourse.ch05_experiments import deep_narrow_models, toy_corpus, train_recording_gradients

    stream, tok = toy_corpus()
    counts = torch.bincount(stream).double()
    p = counts[counts > 0] / counts.sum()
    unigram = float(-(p * p.log()).sum())
    models = deep_narrow_models(tok.vocab_size, n_layers=8, d_model=16, n_heads=2, n_ctx=16)
    pre, post = (train_recording_gradients(m, stream, 60, 1e-2, batch_size=8, seq_len=16) for m in models.values())
    loss_pre, loss_post = (sum(run["loss"][-10:]) / 10 for run in (pre, post))
    assert abs(loss_post - unigram) < 0.1, (loss_post, unigram)
    assert loss_pre < loss_post - 0.2, (loss_pre, loss_post)
    g_pre, g_post = pre["grad_norms"][-1], post["grad_norms"][-1]
    assert g_post[0] < 0.01 * g_post[-1], g_post  # post-LN: the gradient vanishes on its way down
    assert 0.1 < g_pre[0] / g_pre[-1] < 10, g_pre  # pre-LN: every block gets a similar gradient
    assert len(pre["loss"]) == 60 and len(pre["grad_norms"][0]) == 8
