import math

import pytest
import torch

from gptcourse.ch00_lm import (
    GPT_FAMILY,
    TINY_TEXT,
    CountLM,
    context_window,
    format_count,
    log_likelihood,
    softmax,
    tokenize,
)


def test_softmax_matches_torch_and_is_stable():
    torch.manual_seed(0)
    x = torch.randn(3, 4) * 50
    assert torch.allclose(softmax(x, dim=0), torch.softmax(x, dim=0), atol=1e-6)
    assert torch.allclose(softmax(torch.tensor([1000.0, 1000.0])), torch.tensor([0.5, 0.5]))
    assert softmax(torch.tensor([0.0, float("-inf")])).tolist() == [1.0, 0.0]


def test_context_window_and_l1():
    u = tokenize("a b c d")
    assert context_window(u, 0, 2) == () and context_window(u, 3, 2) == ("b", "c") and context_window(u, 3, 0) == ()
    assert log_likelihood(u, 2, lambda c, t: 0.5) == pytest.approx(4 * math.log(0.5))


def test_count_lm_is_a_distribution_and_context_helps_on_training_text():
    u = tokenize(TINY_TEXT)
    for k in range(4):
        lm = CountLM(u, k, alpha=0.1)
        for context in [(), ("the",), ("sat", "on", "the")]:
            assert sum(lm.prob(context, w) for w in lm.vocab) == pytest.approx(1.0)
    ll = [log_likelihood(u, k, CountLM(u, k, alpha=0.1).prob) for k in range(4)]
    assert ll == sorted(ll), ll


def test_count_lm_rejects_bad_arguments():
    with pytest.raises(ValueError, match="k must be >= 0"):
        CountLM(["a"], k=-1)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        CountLM(["a"], k=1, alpha=0)


def test_gpt_family_facts_are_the_corrected_ones():
    by_name = {m.name: m for m in GPT_FAMILY}
    assert by_name["GPT-3"].parameters == 175_000_000_000
    assert by_name["GPT-4"].parameters is None
    assert "BooksCorpus" in by_name["GPT-1"].data and "WebText" in by_name["GPT-2"].data
    assert [format_count(n) for n in (117_000_000, 1_542_000_000, 175_000_000_000, None)] == [
        "117 M",
        "1.54 B",
        "175 B",
        "not disclosed",
    ]


def test_progress_bars_are_text_on_the_book_pages(monkeypatch, capsys):
    import tqdm.auto
    import tqdm.std

    from gptcourse import progress

    monkeypatch.delenv("GPTCOURSE_TEXT_PROGRESS", raising=False)
    assert type(progress(range(3), disable=True)) is tqdm.auto.tqdm  # a widget in Jupyter, text elsewhere
    monkeypatch.setenv("GPTCOURSE_TEXT_PROGRESS", "1")  # what the book's build sets
    bar = progress(range(3), desc="steps")
    assert isinstance(bar, tqdm.std.tqdm) and not isinstance(bar, tqdm.auto.tqdm)
    bar.set_postfix(loss="0.5")
    assert list(bar) == [0, 1, 2]
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("steps: 100%") and "3/3" in lines[0], out  # the final state
    assert "\r" not in out.out and not out.err
