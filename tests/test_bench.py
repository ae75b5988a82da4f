"""The benchmark scripts run and their comparisons are fair (same outputs), at a tiny size."""

import importlib.util
import shutil
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent

#: torch.compile (the benchmark's --compile) needs a C++ compiler; without one that part is left out
COMPILE = ["--compile"] if shutil.which("g++") or shutil.which("clang++") else []

pytestmark = pytest.mark.slow  # it runs a benchmark script end to end (seconds, even at this size)


def load(script):
    spec = importlib.util.spec_from_file_location(script, ROOT / "bench" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpt2_speed_compares_equal_models(tmp_path, capsys):
    bench = load("gpt2_speed")
    out = tmp_path / "gpt2.json"
    threads = torch.get_num_threads()
    try:
        results = bench.main(
            [
                "--vocab",
                "300",
                "--layers",
                "2",
                "--heads",
                "2",
                "--d-model",
                "32",
                "--block",
                "16",
                "--batch",
                "2",
                "--new-tokens",
                "6",
                "--repeat",
                "1",
                "--threads",
                "1",
                *COMPILE,
                "--profile",
                "--json",
                str(out),
            ]
        )
    finally:
        torch.set_num_threads(threads)  # the script sets it for the whole process
    assert out.exists()
    assert results["config_name"] == "gpt2-vocab" and results["config"]["vocab_size"] == 300  # flags override it
    train = results["train"]
    assert train["loss_difference"] < 1e-5, "the two models must compute the same loss"
    keys = ["ours_tokens_per_s", "hf_tokens_per_s", "fp32_matmul_peak", "flops_per_s"]
    if COMPILE:
        keys.append("compiled_logits_path_speedup")
    for key in keys:
        assert train[key] > 0, key
    for model, ms in train["profile_ms_per_step"].items():  # --profile: the groups add up to the step
        assert sum(ms.values()) == pytest.approx(train["step_ms"][model]), model
        assert ms["matrix products"] > 0 and ms["attention (SDPA)"] > 0, (model, ms)
    assert train["profile_ms_per_step"]["ours"]["GELU (the course's kernel)"] > 0
    for key in ("cache", "no_cache"):
        assert results["generate"][key]["same_tokens"], f"greedy generation ({key}) must give the same tokens"
    printed = capsys.readouterr().out
    assert "ratio" in printed and "target >= 1.7x" in printed
    assert "where the step goes" in printed and "leaves" in printed
