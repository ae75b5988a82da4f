"""The course runs on whatever device it is given, and says which: CUDA or Apple's MPS when present, else the CPU."""

from __future__ import annotations

import re

import pytest
import torch

import gptcourse
from conftest import ROOT

#: Every literal "cpu" in the course's code, with why it does not mean "the default device".
CPU_ON_PURPOSE = {
    ("gptcourse/__init__.py", 'return "cpu"'): "default_device's own last resort",
    ("gptcourse/ch06_zeroshot.py", 'return torch.device("cpu")'): "the device of a model without parameters",
    ("gptcourse/ch06_models.py", 'device: str = "cpu"'): "library default: the pages' numbers come from CPU runs; "
    "the command line passes the best device",
    ("gptcourse/ch04_pretraining.py", 'device: str = "cpu"'): "as above",
    ("gptcourse/ch05_experiments.py", 'device: str = "cpu"'): "as above",
    ("gptcourse/training.py", 'map_location="cpu"'): "a kept model loads into host memory first",
    ("solutions/ch03-transformer/ch03-transformer.ipynb", "device='cpu'"): "a test that causal_mask honours device",
    ("solutions/ch03-transformer/ch03-transformer.ipynb", 'device=\\"cpu\\"'): "as above",
    ("solutions/ch03-transformer/ch03-transformer.ipynb", 'm6.device.type == \\"cpu\\"'): "as above",
    ("bench/gpt2_speed.py", 'torch.autocast("cpu"'): "the benchmark measures the CPU",
}


def test_no_code_hard_codes_the_cpu_where_it_means_the_default_device():
    files = [
        *(ROOT / "gptcourse").glob("*.py"),
        *(ROOT / "book").glob("*.md"),
        *(ROOT / "solutions").glob("*/*.ipynb"),
        *(ROOT / "bench").glob("*.py"),
        *(ROOT / "autograder").glob("*.py"),
    ]
    found = []
    for path in files:
        for line in path.read_text().splitlines():
            if (
                re.search(r"""["']cpu["']|\\"cpu\\\"""", line)
                and not line.strip().startswith(('"""', "#"))
                and "``" not in line
            ):
                rel = str(path.relative_to(ROOT))
                if not any(rel == f and pattern in line for f, pattern in CPU_ON_PURPOSE):
                    found.append(f"{rel}: {line.strip()}")
    assert not found, "use gptcourse.default_device() (or say why the CPU is meant, in CPU_ON_PURPOSE):\n" + "\n".join(
        found
    )


def test_default_device_can_be_forced(monkeypatch):
    monkeypatch.setenv("GPTCOURSE_DEVICE", "meta")
    assert gptcourse.default_device() == "meta"
    monkeypatch.setenv("GPTCOURSE_DEVICE", "not-a-device")
    with pytest.raises(RuntimeError, match="not-a-device"):
        gptcourse.default_device()
    monkeypatch.delenv("GPTCOURSE_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert gptcourse.default_device() == expected


@pytest.mark.slow
def test_the_training_commands_use_and_name_the_device(monkeypatch, tmp_path, capsys):
    """Forced to the CPU (the only device here), each command trains there and says so."""
    from gptcourse import __main__ as cli
    from gptcourse.saving import read_checkpoint

    monkeypatch.setenv("GPTCOURSE_DEVICE", "cpu")
    cli.main(["pretrain", "ch04", "--steps", "2", "--out", str(tmp_path / "gpt1")])
    cli.main(["pretrain", "ch05", "--steps", "2", "--out", str(tmp_path / "gpt2")])
    cli.main(["pretrain", "ch06", "--steps", "2", "--sizes", "tiny", "--out", str(tmp_path / "ch06")])
    out = capsys.readouterr().out
    assert out.count("on cpu") == 3, out
    for folder in (tmp_path / "gpt1", tmp_path / "gpt2", tmp_path / "ch06" / "tiny"):
        assert read_checkpoint(folder)[2]["info"]["device"] == "cpu", folder
