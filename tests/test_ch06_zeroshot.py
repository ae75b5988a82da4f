"""Chapter 6: scoring by likelihood, its batched twin, the evaluation and the shipped checkpoints."""

from __future__ import annotations

import math
from dataclasses import asdict

import pytest
import torch

from gptcourse import ch06_evaluation as evaluation
from gptcourse import ch06_models, testing
from gptcourse import ch06_zeroshot as z
from gptcourse.ch04_pretraining import PretrainSettings
from gptcourse.ch05_gpt2 import GPT2, GPT2Config
from gptcourse.data import mini_webtext as mw

VOCAB = ["the", "cat", "dog", "sat", "on", "mat", "log", ".", "=", "a", "b"]


@pytest.fixture
def tok():
    return testing.WordTokenizer(VOCAB)


@pytest.fixture
def bigram():
    return testing.BigramLM(len(VOCAB), seed=1)


def closed_form(model, tok, prompt, continuation):
    ids = tok.encode(prompt) + tok.encode(continuation)
    logp = torch.log_softmax(model.table, dim=-1)
    n = len(tok.encode(prompt))
    return sum(logp[ids[t - 1], ids[t]].item() for t in range(n, len(ids)))


def test_continuation_logprob_is_the_sum_of_the_right_token_logprobs(tok, bigram):
    for prompt, cont in [("the", " cat"), ("the cat", " sat on the mat"), ("a b a", " b")]:
        assert z.continuation_logprob(bigram, tok, prompt, cont) == pytest.approx(
            closed_form(bigram, tok, prompt, cont)
        )
    # the chain rule: log P(a b | p) = log P(a | p) + log P(b | p a)
    both = z.continuation_logprob(bigram, tok, "the", " cat sat")
    split = z.continuation_logprob(bigram, tok, "the", " cat") + z.continuation_logprob(bigram, tok, "the cat", " sat")
    assert both == pytest.approx(split)
    assert z.continuation_logprob(bigram, tok, "the", "") == 0.0
    with pytest.raises(ValueError, match="at least one token"):
        z.continuation_logprob(bigram, tok, "", " cat")


def test_cloze_choice_scores_the_words_after_the_gap(tok):
    model = testing.BigramLM(len(VOCAB), seed=0)
    with torch.no_grad():
        model.table.zero_()
        model.table[VOCAB.index("the"), VOCAB.index("cat")] = 1.0  # "cat" slightly likelier after "the"
        model.table[VOCAB.index("dog"), VOCAB.index("sat")] = 8.0  # but only a dog sits
    assert z.cloze_choice(model, tok, "the ___", ["dog", "cat"]) == 1
    assert z.cloze_choice(model, tok, "the ___ sat .", ["dog", "cat"]) == 0
    assert z.cloze_choice(model, tok, "the ___ sat .", ["cat", "dog", "mat"]) == 1


def test_sliding_window_perplexity_of_a_bigram_model_is_the_full_perplexity(bigram):
    ids = torch.randint(0, len(VOCAB), (50,), generator=torch.Generator().manual_seed(0))
    logp = torch.log_softmax(bigram.table, dim=-1)
    full = math.exp(-sum(logp[ids[t - 1], ids[t]].item() for t in range(1, 50)) / 49)
    for window, stride in [(2, 1), (8, 3), (10, 9), (64, 10)]:
        assert z.sliding_window_perplexity(bigram, ids, window, stride) == pytest.approx(full, rel=1e-5)


def test_sliding_window_gives_each_token_the_right_context():
    """PositionLM's prediction depends on where the predicting token sits in its window.

    Token t (t >= 1) is scored by the first window that reaches past it: window k covers
    [k * stride, k * stride + window), so k = max(0, (t - window) // stride + 1), and t is
    predicted from index t - k * stride - 1 of that window.
    """
    V, conf = 8, 3.0
    model = testing.PositionLM(V, conf)
    ids = torch.randint(0, 6, (40,), generator=torch.Generator().manual_seed(0)).tolist()
    norm = math.log(math.exp(conf) + V - 1)
    for window, stride in [(5, 2), (6, 5), (8, 1), (64, 7)]:
        total = 0.0
        for t in range(1, len(ids)):
            k = max(0, (t - window) // stride + 1)
            index = t - k * stride - 1
            total += (conf if ids[t] == min(index, V - 1) else 0.0) - norm
        expected = math.exp(-total / (len(ids) - 1))
        assert z.sliding_window_perplexity(model, ids, window, stride) == pytest.approx(expected)
    for bad in [(4, 4), (4, 0), (4, 5)]:
        with pytest.raises(ValueError, match="stride"):
            z.sliding_window_perplexity(model, ids, *bad)


def test_few_shot_prompt():
    assert z.few_shot_prompt([], "house") == "house ="
    assert z.few_shot_prompt([("tree", "kelo"), ("sun", "tosi")], "house") == "tree = kelo\nsun = tosi\nhouse ="
    assert (
        z.few_shot_prompt([("a?", "b")], "c?", "Q: {x} A: {y}", sep=" | ", instruction="Answer:")
        == "Answer: | Q: a? A: b | Q: c? A:"
    )


def test_batched_scores_equal_the_one_at_a_time_ones(tok, bigram):
    torch.manual_seed(0)
    gpt = GPT2(GPT2Config(vocab_size=len(VOCAB), n_ctx=32, n_layers=2, n_heads=2, d_model=16, dropout=0.0)).eval()
    items = [("the cat", [" sat", " dog", " mat"]), ("a", [" b a", " b"]), ("the dog sat on the", [" log .", " mat"])]
    for model in (bigram, gpt):
        got = z.score_choices(model, tok, items, batch_size=2)
        want = [[z.continuation_logprob(model, tok, p, c) for c in cs] for p, cs in items]
        assert got == [pytest.approx(w, abs=1e-5) for w in want]
        lw = z.last_word_scores(model, tok, [("the cat sat on the", "mat"), ("a b", "a")])
        assert lw[0][0] == pytest.approx(z.continuation_logprob(model, tok, "the cat sat on the", " mat"), abs=1e-5)
    text = "the ___ sat on the mat ."
    prompt, conts = z.cloze_requests(text, ["cat", "dog"])
    assert prompt == "the" and conts == [" cat sat on the mat .", " dog sat on the mat ."]


def test_batched_perplexity_and_evaluation_pieces_agree(tok, bigram):
    ids = torch.randint(0, len(VOCAB), (70,), generator=torch.Generator().manual_seed(1)).tolist()
    for model in (bigram, testing.PositionLM(len(VOCAB))):
        for window, stride in [(8, 3), (16, 15), (100, 10)]:
            assert z.batched_perplexity(model, ids, window, stride, batch_size=3) == pytest.approx(
                z.sliding_window_perplexity(model, ids, window, stride), rel=1e-6
            )
    with pytest.raises(ValueError, match="stride"):
        z.batched_perplexity(bigram, ids, 5, 5)
    task = mw.PromptTask(
        "toy", "{x} = {y}", (("a", ("b", "cat"), 0), ("cat", ("dog", "a b"), 1)), (("the", "cat"), ("dog", "mat"))
    )
    curve = evaluation.few_shot_curve(bigram, tok, task, [0, 1, 2])
    assert curve == [evaluation.few_shot_accuracy(bigram, tok, task, k) for k in (0, 1, 2)]
    items = evaluation.prompt_task_items(task, 1, seed=0)
    expect = [
        int(max(range(2), key=lambda j: z.continuation_logprob(bigram, tok, p, cs[j])) == a)
        for (p, cs), (_, _, a) in zip(items, task.queries, strict=True)
    ]
    assert curve[1] == sum(expect) / 2


def test_batched_greedy_decoding_equals_chapter_5s_generate(tok):
    from gptcourse.ch05_generation import generate

    torch.manual_seed(3)
    gpt = GPT2(GPT2Config(vocab_size=len(VOCAB), n_ctx=32, n_layers=2, n_heads=2, d_model=16, dropout=0.0)).eval()
    prompts = ["the cat", "a b a b a", "the dog sat on the mat ."]
    got = z.greedy_continuations(gpt, tok, prompts, 6)
    for prompt, new in zip(prompts, got, strict=True):
        ids = torch.tensor([tok.encode(prompt)])
        assert new == generate(gpt, ids, 6, temperature=0)[0, ids.size(1) :].tolist()
    # decoding stops once every row has produced the stop token; rows keep what came after theirs
    stop = got[0][2]
    early = z.greedy_continuations(gpt, tok, prompts, 6, stop_id=stop)
    assert all(e == g[: len(e)] for e, g in zip(early, got, strict=True)) and len(early[0]) >= 3
    assert all(stop in e for e in early) or len(early[0]) == 6
    # a long prompt keeps only its last n_ctx - max_new_tokens tokens
    long = " ".join(["a b"] * 20)
    (new,) = z.greedy_continuations(gpt, tok, [long], 4, max_len=32)
    ids = torch.tensor([tok.encode(long)[-28:]])
    assert new == generate(gpt, ids, 4, temperature=0)[0, 28:].tolist()


def test_last_word_greedy_flag(tok):
    model = testing.BigramLM(len(VOCAB), seed=0)
    with torch.no_grad():
        model.table.zero_()
        model.table[VOCAB.index("the"), VOCAB.index("mat")] = 5.0
    (lp_mat, g_mat), (lp_log, g_log) = z.last_word_scores(model, tok, [("on the", "mat"), ("on the", "log")])
    assert g_mat and not g_log and lp_mat > lp_log


def test_rouge_and_key_facts():
    assert evaluation.rouge1("a b c", "a b c") == 1.0
    assert evaluation.rouge1("x y", "a b") == 0.0
    assert evaluation.rouge1("a a b", "a b c d") == pytest.approx(2 * (2 / 3) * (2 / 4) / (2 / 3 + 2 / 4))
    item = mw.tldr_set(1)[0]
    facts = evaluation.key_facts(item)
    assert all(f" {v} " in f" {item.summary} " for v in facts.values())


def test_few_shot_items_never_use_a_query_as_a_demonstration():
    task = mw.translation_task()
    queries = {x for x, _, _ in task.queries}
    for prompt, conts in evaluation.prompt_task_items(task, k=4, seed=3):
        lines = prompt.split("\n")
        assert len(lines) == 5 and lines[-1].endswith(" =")
        assert not {line.split(" = ")[0] for line in lines[:-1]} & queries
        assert all(c.startswith(" ") for c in conts)


def test_training_is_deterministic():
    tok = testing.WordTokenizer(VOCAB)
    stream = torch.randint(0, len(VOCAB), (400,), generator=torch.Generator().manual_seed(0))
    settings = PretrainSettings(steps=3, batch_size=4, seq_len=16, warmup=1)
    states = []
    for _ in range(2):
        model, info = ch06_models.train_model("tiny", tok, stream, settings, show_progress=False)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert info["parameters"] == sum(p.numel() for p in model.parameters())


def test_shipped_checkpoints_load_and_grow():
    models, tok = ch06_models.load_models()
    params = [info["parameters"] for _, info in models.values()]
    assert params == sorted(params) and len(set(params)) == len(params) >= 3
    text = "velmor is a town in dorune ."
    assert tok.decode(tok.encode(text)) == text
    for _, (model, info) in models.items():
        assert model.config.vocab_size == tok.vocab_size and not model.training
        assert info["settings"].items() <= asdict(ch06_models.TRAINING).items(), "trained as TRAINING says"


def test_the_released_gpt2_path_runs_on_a_tiny_random_checkpoint(tmp_path, monkeypatch):
    """Without the real weights: a random GPT-2 with the real vocabulary, saved by transformers."""
    from gptcourse.ch05_checkpoints import save_tiny_hf_checkpoint

    folder = save_tiny_hf_checkpoint(
        tmp_path / "tiny-gpt2", vocab_size=50257, n_positions=256, n_embd=16, n_layer=1, n_head=2
    )
    sets = mw.evaluation_sets()
    small = {
        "lambada": sets["lambada"][:3],
        "cbt_cn": sets["cbt_cn"][:2],
        "cbt_ne": sets["cbt_ne"][:2],
        "sentiment": sets["sentiment"][:4],
    }
    row = evaluation.evaluate_released_gpt2(sets=small, folder=folder)
    assert set(row) == set(evaluation.RELEASED_GPT2_TASKS)
    assert all(0 <= row[k] <= 1 for k in row if k != "lambada_ppl") and row["lambada_ppl"] > 1
    monkeypatch.setattr(evaluation, "find_gpt2_checkpoint", lambda name: None)  # no weights on this machine
    assert evaluation.evaluate_released_gpt2(sets=small) is None


def test_evaluate_matches_the_one_at_a_time_functions_on_a_shipped_model():
    model, _ = ch06_models.load_model("small")
    tok = ch06_models.load_tokenizer()
    full = mw.evaluation_sets()
    sets = {
        "lambada": full["lambada"][:6],
        "cbt_cn": full["cbt_cn"][:5],
        "cbt_ne": full["cbt_ne"][:5],
        "sentiment": full["sentiment"][:6],
        "heldout": full["heldout"][:3],
        "translation": mw.PromptTask("translation", full["translation"].template, full["translation"].queries[:6], ()),
        "qa": mw.PromptTask("qa", full["qa"].template, full["qa"].queries[:6], ()),
    }
    row = evaluation.evaluate(model, tok, sets, batch_size=4)
    for key in ("cbt_cn", "cbt_ne"):
        want = sum(z.cloze_choice(model, tok, it.text, it.candidates) == it.answer for it in sets[key]) / 5
        assert row[key] == pytest.approx(want)
    for key in ("translation", "qa"):
        want = (
            sum(
                max(
                    range(len(c)),
                    key=lambda j: z.continuation_logprob(
                        model, tok, f"{x} =" if key == "translation" else f"Q: {x} A:", " " + c[j]
                    ),
                )
                == a
                for x, c, a in sets[key].queries
            )
            / 6
        )
        assert row[key] == pytest.approx(want)
    lp = [z.continuation_logprob(model, tok, it.context, " " + it.target) for it in sets["lambada"]]
    assert row["lambada_ppl"] == pytest.approx(math.exp(-sum(lp) / 6), rel=1e-4)
    ids = tok.encode(f" {mw.EOT} ".join(d.text for d in sets["heldout"]))
    assert row["heldout_ppl"] == pytest.approx(z.sliding_window_perplexity(model, ids, 128, 96), rel=1e-5)
    assert 0 <= row["sentiment"] <= 1 and 0 <= row["lambada_acc"] <= 1


def test_qa_confusions_counts_answers_taken_from_demonstration_towns():
    model, _ = ch06_models.load_model("small")
    tok = ch06_models.load_tokenizer()
    task = mw.qa_task()
    task = mw.PromptTask(task.name, task.template, task.queries[:12], task.demonstrations)
    wrong, hits, expected = evaluation.qa_confusions(model, tok, task, 0)
    assert hits == 0 and expected == 0.0  # no demonstrations, nothing to confuse
    wrong, hits, expected = evaluation.qa_confusions(model, tok, task, 3)
    assert 0 <= hits <= wrong <= 12 and 0 <= expected <= wrong
    assert wrong == round(12 * (1 - evaluation.few_shot_accuracy(model, tok, task, 3)))


# --- the verdicts the chapter's prose states ------------------------------------------------------------------


def test_paper_table3_verdicts():
    won, lost = evaluation.paper_datasets("1542M")
    assert lost == ["1BW"] and len(won) == 7 and "CBT" in won  # "state of the art on 7 of 8"
    assert evaluation.table3_dataset("CBT-NE") == "CBT" and evaluation.table3_dataset("PTB") == "PTB"
    assert evaluation.paper_best_row(0) == "1542M"  # LAMBADA PPL: lower is better
    assert evaluation.paper_best_row(2) == "762M"  # CBT-CN ACC: 93.45 beats 93.30
    assert evaluation.paper_best_row(9) == "SOTA"  # 1BW
    assert "LAMBADA (PPL)" in evaluation.paper_columns_won("117M")
    assert "1BW (PPL)" not in evaluation.paper_columns_won("1542M")
    improving = evaluation.paper_columns_improving()
    assert "CBT-CN (ACC)" not in improving and "LAMBADA (PPL)" in improving


def test_standard_errors_and_a_clear_gain():
    assert evaluation.binomial_se(0.5, 100) == pytest.approx(0.05)
    assert evaluation.binomial_se(1.0, 10) == 0
    # two standard errors of the difference: 2 * sqrt(2 * 0.05^2) = 0.1414 at p = 0.5, n = 100
    assert evaluation.gain_is_clear(0.4, 0.6, 100)
    assert not evaluation.gain_is_clear(0.45, 0.55, 100)
    assert not evaluation.gain_is_clear(0.6, 0.4, 100)


def test_improves_at_every_step_and_the_best_size():
    assert evaluation.improves_at_every_step([9.0, 5.0, 4.0], "ppl")
    assert not evaluation.improves_at_every_step([9.0, 5.0, 5.0], "ppl")
    assert evaluation.improves_at_every_step([0.1, 0.2, 0.3], "acc")
    assert not evaluation.improves_at_every_step([0.1, 0.3, 0.2], "acc")
    results = {"tiny": {"ppl": 3.0, "acc": 0.5}, "large": {"ppl": 2.0, "acc": 0.4}}
    assert evaluation.best_size(results, "ppl", "ppl") == "large"
    assert evaluation.best_size(results, "acc", "acc") == "tiny"


def test_summary_verdicts():
    sets = mw.evaluation_sets()
    items = sets["tldr"][:3]
    perfect = [it.summary for it in items]
    assert all(evaluation.facts_missed(it, s) == 0 for it, s in zip(items, perfect, strict=True))
    summaries = [perfect[0], "nothing at all .", perfect[2]]
    assert evaluation.facts_missed(items[1], summaries[1]) == 3
    assert evaluation.most_facts_missed(items, summaries) == 1
    assert evaluation.hint_rate(["TL;DR: a", "b", "TL;DR: c", "TL;DR:"]) == 0.75


def test_no_test_item_occurs_in_training():
    sets = mw.evaluation_sets()
    text = mw.training_text()
    assert evaluation.items_in_training(sets, text) == 0
    assert not evaluation.sentiment_prompt_in_training(text)
    assert evaluation.items_in_training(sets, text + " " + sets["tldr"][0].article) == 1
    counts = evaluation.item_counts(sets)
    assert set(counts) == {key for key, _, kind in evaluation.COLUMNS if kind == "acc"}
    assert counts["qa"] == len(sets["qa"].queries)
