"""The shared plumbing: padding, random windows, the training loop, the training cache's key, the one
checkpoint format and the command line that remakes the shipped checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gptcourse import __main__ as cli
from gptcourse import ch01_seq2seq, ch03_transformer, training
from gptcourse.ch04_pretraining import PRETRAINED_DIR, load_pretrained
from gptcourse.ch05_experiments import TOY_GPT2_DIR, load_toy_gpt2
from gptcourse.ch06_models import CHECKPOINT_DIR, SIZES
from gptcourse.saving import read_checkpoint, save_checkpoint

PACKAGE = Path(training.__file__).parent


def test_pad_sequences_right_pads_with_the_value():
    got = training.pad_sequences([[1, 2, 3], [4], []], value=9)
    assert got.tolist() == [[1, 2, 3], [4, 9, 9], [9, 9, 9]] and got.dtype == torch.long


def test_random_windows_depend_only_on_the_generator():
    stream = torch.arange(100)
    a = training.random_windows(stream, 4, 10, torch.Generator().manual_seed(3))
    b = training.random_windows(stream, 4, 10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.shape == (4, 10)
    assert all(torch.equal(row, torch.arange(int(row[0]), int(row[0]) + 10)) for row in a), "contiguous windows"
    assert int(a.max()) < 100


def test_fit_steps_the_schedule_clips_and_logs():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    seen = []

    def lr_at(step):
        seen.append(step)
        return 0.1 / (step + 1)

    batches = iter(lambda: torch.randn(8, 3), None)
    losses = training.fit(
        model,
        batches,
        lambda m, x: m(x).pow(2).mean(),
        optimizer,
        6,
        lr_at=lr_at,
        clip=0.5,
        log_every=2,
        show_progress=False,
    )
    assert seen == list(range(6)) and len(losses) == 3 and not model.training
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / 6)


def test_fit_calls_after_backward_with_the_gradients_before_each_step():
    """The hook sees this step's gradients before the optimizer uses them (chapter 5 records gradient norms)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    seen = []

    def record(m):
        seen.append((m.weight.grad.clone(), m.weight.detach().clone()))

    batches = iter(lambda: torch.randn(8, 3), None)
    training.fit(
        model, batches, lambda m, x: m(x).pow(2).mean(), optimizer, 3, after_backward=record, show_progress=False
    )
    assert len(seen) == 3
    for (grad, weight), (_, next_weight) in zip(seen, seen[1:], strict=False):
        assert torch.allclose(next_weight, weight - 0.1 * grad), "the step after the hook used the gradient it saw"


def test_the_training_cache_is_keyed_on_the_code_it_depends_on():
    """A model of chapter 3 depends on chapter 3, chapter 1 (its loss), the task and the plumbing; not on chapter 5."""
    names = {p.relative_to(PACKAGE).as_posix() for p in training.code_files(ch03_transformer.train)}
    assert {"ch03_transformer.py", "ch01_seq2seq.py", "data/translation_task.py", "training.py"} <= names
    assert "ch05_gpt2.py" not in names and "ch06_zeroshot.py" not in names
    chapter1 = {p.relative_to(PACKAGE).as_posix() for p in training.code_files(ch01_seq2seq.Seq2Seq)}
    assert "ch01_seq2seq.py" in chapter1 and "ch03_transformer.py" not in chapter1
    assert training.code_files(lambda: None) == [], "code outside the course adds nothing"


def test_a_change_to_a_module_the_model_uses_changes_the_key(tmp_path, monkeypatch):
    task = type("Task", (), {"train": [], "test": [], "__repr__": lambda self: "task"})()
    key = training.training_key("m", task, 1, code=(ch03_transformer.train,))
    original = Path(ch01_seq2seq.__file__).read_bytes()
    real_read_bytes = Path.read_bytes

    def edited(path):
        data = real_read_bytes(path)
        return data + b"\n# edited\n" if path.name == "ch01_seq2seq.py" else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert training.training_key("m", task, 1, code=(ch03_transformer.train,)) != key
    assert Path(ch01_seq2seq.__file__).read_bytes() != original  # (the patch was active)


def test_every_shipped_checkpoint_is_one_format():
    folders = [PRETRAINED_DIR, TOY_GPT2_DIR, *(CHECKPOINT_DIR / size for size in SIZES)]
    for folder in folders:
        assert {p.name for p in folder.iterdir()} == {"model.safetensors", "config.json", "course.json"}, folder
    assert not list((PACKAGE / "checkpoints").rglob("*.pt")), "no pickled checkpoints"
    model, _, _ = load_pretrained()
    assert model.W_e.weight.dtype == torch.float32
    model, tok, _ = load_toy_gpt2()
    assert model.config.vocab_size == tok.vocab_size


def test_save_and_read_checkpoint_round_trip(tmp_path):
    state = {"w": torch.randn(3, 2), "steps": torch.tensor([7])}
    save_checkpoint(tmp_path / "c", state, {"d": 2}, {"note": "x"}, dtype=torch.float16)
    got, config, course = read_checkpoint(tmp_path / "c")
    assert (tmp_path / "c" / "model.safetensors").stat().st_mode & 0o044 == 0o044, "readable by every user"
    assert config == {"d": 2} and course == {"note": "x"}
    assert got["w"].dtype == torch.float32 and torch.equal(got["w"], state["w"].half().float())
    assert torch.equal(got["steps"], state["steps"])
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_checkpoint(tmp_path / "nowhere")


@pytest.mark.slow  # learns the BPE merges and pre-trains a few steps
def test_the_command_line_remakes_a_checkpoint(tmp_path, capsys):
    cli.main(["pretrain", "ch04", "--out", str(tmp_path / "gpt1"), "--steps", "3", "--device", "cpu"])
    model, tok, info = load_pretrained(tmp_path / "gpt1")
    assert info["settings"]["steps"] == 3 and len(info["losses"]) == 3
    assert model.config.vocab_size == tok.vocab_size
    assert "saved" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["pretrain", "ch07"])
    assert json.loads((tmp_path / "gpt1" / "config.json").read_text())["model"] == "GPT1"


def test_markdown_table_aligns_numbers_and_escapes_bars():
    from gptcourse.tables import markdown_table

    got = markdown_table(["model", "accuracy"], [["a|b", 0.5], ["c", 1]])
    assert got.splitlines() == ["| model | accuracy |", "|---|---:|", "| a\\|b | 0.5 |", "| c | 1 |"]
    assert markdown_table(["x"], [["y"]], align="c").splitlines()[1] == "|:---:|"
    with pytest.raises(ValueError, match="row 0 has 1 cells"):
        markdown_table(["a", "b"], [["only one"]])
    with pytest.raises(ValueError, match="align"):
        markdown_table(["a"], [["b"]], align="x")
