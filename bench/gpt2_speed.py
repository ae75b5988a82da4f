"""Speed of the course's GPT-2 against Hugging Face's ``GPT2LMHeadModel``, ratios measured in one run.

    python bench/gpt2_speed.py [--config gpt2-vocab|nanogpt] [--vocab 50257] [--threads N] [--repeat 5]
                               [--compile] [--profile] [--json out.json]

Both models have the same config, the same weights (the Hugging Face model's, loaded into the course
model with the course loader), the same inputs and the same number of threads. ``--config`` picks one
of :data:`CONFIGS`, and ``--vocab``, ``--layers``, ``--heads``, ``--d-model``, ``--block``, ``--batch``
override its sizes:

- ``gpt2-vocab`` (the default): 4 layers, 4 heads, d_model 128, GPT-2's vocabulary of 50,257 tokens,
  context 64, batch 12, dropout 0: the output head is most of the work;
- ``nanogpt``: nanoGPT's own CPU config (its README's ``train_shakespeare_char`` on a CPU): the same
  sizes with the 65 characters of tiny Shakespeare: the blocks are most of the work.

1. **training step** (forward, cross-entropy, backward, AdamW step) on a batch of 12 x 64 tokens:
   tokens/s of each model and their ratio (the course model through ``GPT2.loss``, which computes the
   loss and its gradients in cache-sized slices of the logits; Hugging Face's through its logits and
   ``F.cross_entropy``; the course model through its logits is reported too); the course model's
   FLOP/s (6 N + 12 L T d per token, N the parameters that multiply activations, including the tied
   output head) as a fraction of the fp32 matmul peak that this run measures (a 2048 x 2048 x 2048
   product); and the same step under bf16 autocast where the CPU supports it, reported on its own.
   Both models use PyTorch's fused AdamW (``fused=True``), so the optimizer, which is the same for
   both, takes a few milliseconds of the step instead of about a tenth of it. The steps are
   timed in turns, ``--repeat`` rounds, best of each, and the peak after them.
   With ``--compile``, the course model's step through its logits is also timed under ``torch.compile``
   (Inductor, which fuses the elementwise operations; it needs a C++ compiler and takes a minute to
   compile), for reference: what a compiler gains over eager PyTorch at this config. No target.
   With ``--profile``, where each model's step goes: ``torch.profiler``'s time of each operation, in
   :data:`CATEGORIES` (matrix products, attention, LayerNorm, GELU, optimizer, the rest), as shares of
   the profiled steps scaled to the step time measured without the profiler, and what a ratio target
   leaves for everything but the matrix products and attention, which both models compute alike.
2. **generation**: greedy, batch 1, an 8-token prompt and 256 new tokens (context 512), with
   and without the KV cache; the course's ``generate`` against Hugging Face's ``generate`` at the
   same settings.

Targets (printed as met / missed): training step >= 1.7x Hugging Face's tokens/s through ``GPT2.loss``
at ``gpt2-vocab``, >= 1.6x both through ``GPT2.loss`` and through the logits at ``nanogpt`` (:data:`TARGETS`),
and >= 70 % of the measured peak; generation >= Hugging Face's tokens/s, with and without the cache. Absolute
numbers depend on the machine and on whatever else runs on it; compare the ratios. On a machine shared
with other jobs, run it as ``OMP_WAIT_POLICY=PASSIVE python bench/gpt2_speed.py``: with more busy threads
than cores, OpenMP's default of spinning while it waits makes every small operation of either model tens of
times slower, and the benchmark then measures the other jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from torch.nn import functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gptcourse.ch05_checkpoints import load_gpt2, save_tiny_hf_checkpoint
from gptcourse.ch05_generation import generate

#: The sizes of each ``--config`` (the model's dropout is 0 in both).
CONFIGS = {
    "gpt2-vocab": dict(vocab=50257, layers=4, heads=4, d_model=128, block=64, batch=12),
    "nanogpt": dict(vocab=65, layers=4, heads=4, d_model=128, block=64, batch=12),
}
#: Training-step targets of each config: the least ratio to Hugging Face's tokens/s, through
#: ``GPT2.loss`` ("loss") and through the logits and ``F.cross_entropy`` ("logits"), and the least fraction
#: of the measured fp32 matmul peak ("peak"); None: no target.
TARGETS = {
    "gpt2-vocab": {"loss": 1.7, "logits": None, "peak": 0.7},
    # nanoGPT's model is small: its steps are many small operations, far from the matmul peak
    "nanogpt": {"loss": 1.6, "logits": 1.6, "peak": None},
}


#: ``--profile``'s groups of PyTorch operations: (label, substrings of the operation's name); an operation
#: goes to the first group that one of its substrings matches, else to "everything else".
CATEGORIES = (
    ("matrix products", ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")),
    ("attention (SDPA)", ("scaled_dot_product",)),
    ("LayerNorm", ("layer_norm",)),
    ("GELU (the course's kernel)", ("aten::gelu",)),
    ("optimizer (AdamW)", ("Optimizer.", "_fused_adam", "aten::_foreach")),
)
OTHER = "everything else (elementwise, copies, sums, Python)"


def profile_step(step, repeat):
    """The share of each of :data:`CATEGORIES` (and :data:`OTHER`) in ``repeat`` runs of ``step``.

    Each operation counts its own time (``self_cpu_time_total``: not the operations it calls), so the
    groups add up to the profiled time; an operation's time includes its work on every thread. ``step``
    is warm already: :func:`main` profiles it after the timed rounds.
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(repeat):
            step()
    times = dict.fromkeys([label for label, _ in CATEGORIES] + [OTHER], 0.0)
    for event in prof.key_averages():
        label = next((label for label, keys in CATEGORIES if any(k in event.key for k in keys)), OTHER)
        times[label] += event.self_cpu_time_total
    total = sum(times.values())
    return {label: t / total for label, t in times.items()}


def timed(fns, repeat, warmup=1):
    """The best (smallest) seconds of each function of the dict ``fns`` over ``repeat`` runs.

    The functions take turns (one run of each, ``repeat`` times), so that a change in the machine's
    load during the benchmark slows all of them alike instead of the one that happens to run then;
    the minimum, as ``timeit`` recommends, because the slower runs measure the other jobs.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def matmul(n=2048):
    """A function that multiplies two n x n matrices, and its FLOPs (its time gives the fp32 peak)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return (lambda: a @ b), 2 * n**3


def flops_per_token(config, T):
    L, d, f, V = config.n_layers, config.d_model, config.d_ff, config.vocab_size
    n_matmul = L * (3 * d * d + d * d + 2 * d * f) + V * d  # the blocks' matrices and the tied head
    return 6 * n_matmul + 12 * L * T * d


def logits_loss(logits_of, vocab_size):
    """The loss the usual way: all (B, T, V) logits, then ``F.cross_entropy``."""
    return lambda idx, targets: F.cross_entropy(logits_of(idx).reshape(-1, vocab_size), targets.reshape(-1))


def train_step_fn(model, loss_of, idx, targets):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)

    def step():
        loss = loss_of(idx, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--config", choices=sorted(CONFIGS), default="gpt2-vocab", help="the sizes (the flags below override them)"
    )
    for name in ("vocab", "layers", "heads", "d-model", "block", "batch"):
        parser.add_argument(f"--{name}", type=int)
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeat", type=int, default=5, help="timed training steps per model (best is kept)")
    parser.add_argument(
        "--compile", action="store_true", help="also time the course model under torch.compile (for reference)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also show where each model's training step goes (torch.profiler)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    for name, value in CONFIGS[args.config].items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    goals = TARGETS[args.config]
    torch.set_num_threads(args.threads)
    from transformers import GPT2LMHeadModel

    sizes = dict(
        vocab_size=args.vocab,
        n_embd=args.d_model,
        n_layer=args.layers,
        n_head=args.heads,
        initializer_range=0.02,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    results = {
        "threads": args.threads,
        "config_name": args.config,
        "targets": goals,
        "config": {**sizes, "block": args.block, "batch": args.batch},
    }
    print(
        f"config {args.config}: {args.layers} layers, {args.heads} heads, d_model {args.d_model}, vocab {args.vocab}, "
        f"block {args.block}, batch {args.batch}, {args.threads} threads, torch {torch.__version__}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        # ---- training step -----------------------------------------------------------------
        folder = save_tiny_hf_checkpoint(Path(tmp) / "train", n_positions=args.block, **sizes)
        hf = GPT2LMHeadModel.from_pretrained(folder).train()
        ours = load_gpt2(folder).train()
        g = torch.Generator().manual_seed(0)
        idx = torch.randint(0, args.vocab, (args.batch, args.block), generator=g)
        targets = torch.randint(0, args.vocab, (args.batch, args.block), generator=g)
        tokens = args.batch * args.block
        with torch.no_grad():
            same_loss = abs(
                ours.loss(idx, targets).item() - logits_loss(lambda x: hf(x).logits, args.vocab)(idx, targets).item()
            )
        steps = {
            "ours": train_step_fn(ours, ours.loss, idx, targets),
            "hf": train_step_fn(hf, logits_loss(lambda x: hf(x).logits, args.vocab), idx, targets),
            "ours_logits": train_step_fn(ours, logits_loss(ours, args.vocab), idx, targets),
        }
        bf16 = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        if bf16:

            def autocast_loss(x, y):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    h = ours.hidden(x)
                return F.cross_entropy(F.linear(h, ours.W_e.weight).float().reshape(-1, args.vocab), y.reshape(-1))

            steps["bf16"] = train_step_fn(ours, autocast_loss, idx, targets)
        if args.compile:
            compiled = torch.compile(ours)
            steps["compiled"] = train_step_fn(ours, logits_loss(compiled, args.vocab), idx, targets)
            steps["compiled"]()  # compiles forward and backward, outside the timed rounds
        t = timed(steps, args.repeat)
        # timed apart: a large product evicts the caches and slows whichever step would follow it in turn
        product, peak_flops = matmul()
        peak = peak_flops / timed({"peak": product}, args.repeat)["peak"]
        model_flops = flops_per_token(ours.config, args.block) * tokens
        results["train"] = {
            "ours_tokens_per_s": tokens / t["ours"],
            "hf_tokens_per_s": tokens / t["hf"],
            "speedup": t["hf"] / t["ours"],
            "loss_difference": same_loss,
            "ours_logits_path_tokens_per_s": tokens / t["ours_logits"],
            "logits_path_speedup": t["hf"] / t["ours_logits"],
            "flops_per_s": model_flops / t["ours"],
            "fp32_matmul_peak": peak,
            "fraction_of_peak": model_flops / t["ours"] / peak,
        }
        if args.profile:
            shares = {"ours": profile_step(steps["ours"], args.repeat), "hf": profile_step(steps["hf"], args.repeat)}
            results["train"]["profile_ms_per_step"] = {
                model: {label: 1e3 * share * t[model] for label, share in shares[model].items()} for model in shares
            }
            results["train"]["step_ms"] = {model: 1e3 * t[model] for model in shares}
        if args.compile:
            results["train"]["compiled_logits_path_tokens_per_s"] = tokens / t["compiled"]
            results["train"]["compiled_logits_path_speedup"] = t["hf"] / t["compiled"]
        if bf16:
            results["train"]["bf16_autocast_tokens_per_s"] = tokens / t["bf16"]
            results["train"]["bf16_fraction_of_fp32_peak"] = model_flops / t["bf16"] / peak

        # ---- generation --------------------------------------------------------------------
        n_ctx = 8 + args.new_tokens
        folder = save_tiny_hf_checkpoint(Path(tmp) / "gen", n_positions=max(n_ctx, 512), **sizes)
        hf = GPT2LMHeadModel.from_pretrained(folder).eval()
        ours = load_gpt2(folder).eval()
        prompt = torch.randint(0, args.vocab, (1, 8), generator=g)
        results["generate"] = {}
        for use_cache in (True, False):

            def run_ours(n=args.new_tokens, use_cache=use_cache):
                return generate(ours, prompt, n, temperature=0, use_cache=use_cache)

            def run_hf(n=args.new_tokens, use_cache=use_cache):
                with torch.no_grad():
                    return hf.generate(
                        prompt,
                        attention_mask=torch.ones_like(prompt),
                        max_new_tokens=n,
                        min_new_tokens=n,
                        do_sample=False,
                        use_cache=use_cache,
                        pad_token_id=args.vocab - 1,
                    )

            run_ours(8), run_hf(8)  # warm-up
            same = run_ours().tolist() == run_hf().tolist()
            t = timed({"ours": run_ours, "hf": run_hf}, 2, warmup=0)
            t_o, t_h = t["ours"], t["hf"]
            results["generate"]["cache" if use_cache else "no_cache"] = {
                "ours_tokens_per_s": args.new_tokens / t_o,
                "hf_tokens_per_s": args.new_tokens / t_h,
                "speedup": t_h / t_o,
                "same_tokens": same,
            }
        results["generate"]["cache_speedup_ours"] = (
            results["generate"]["cache"]["ours_tokens_per_s"] / results["generate"]["no_cache"]["ours_tokens_per_s"]
        )

    tr, ge = results["train"], results["generate"]
    met = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    print("\ntraining step (forward + cross-entropy + backward + AdamW)")
    print(f"  course GPT-2      {tr['ours_tokens_per_s']:10,.0f} tokens/s")
    print(f"  Hugging Face      {tr['hf_tokens_per_s']:10,.0f} tokens/s")

    def target(ratio, least):
        return f"target >= {least}x: {met(ratio >= least)}" if least else "no target"

    print(
        f"  ratio             {tr['speedup']:10.2f} x      {target(tr['speedup'], goals['loss'])}"
        f"   (same loss to {tr['loss_difference']:.1e})"
    )
    print(
        f"  course GPT-2 through its logits + F.cross_entropy, like Hugging Face: "
        f"{tr['ours_logits_path_tokens_per_s']:,.0f} tokens/s, ratio {tr['logits_path_speedup']:.2f} x   "
        f"{target(tr['logits_path_speedup'], goals['logits'])}"
    )
    if "compiled_logits_path_tokens_per_s" in tr:
        print(
            f"  course GPT-2 through its logits under torch.compile (reference): "
            f"{tr['compiled_logits_path_tokens_per_s']:,.0f} tokens/s, ratio {tr['compiled_logits_path_speedup']:.2f} x"
        )
    print(
        f"  model FLOP/s      {tr['flops_per_s'] / 1e9:10.1f} GFLOP/s of a measured fp32 matmul peak of "
        f"{tr['fp32_matmul_peak'] / 1e9:.1f} GFLOP/s = {100 * tr['fraction_of_peak']:.0f} %   "
        + (f"target >= {goals['peak']:.0%}: {met(tr['fraction_of_peak'] >= goals['peak'])}" if goals["peak"] else "")
    )
    if "profile_ms_per_step" in tr:
        print_profile(tr, goals["loss"])
    if "bf16_autocast_tokens_per_s" in tr:
        print(
            f"  bf16 autocast     {tr['bf16_autocast_tokens_per_s']:10,.0f} tokens/s "
            f"({100 * tr['bf16_fraction_of_fp32_peak']:.0f} % of the fp32 peak)"
        )
    else:
        print("  bf16 autocast     not supported by this CPU")
    print(f"\ngeneration (greedy, batch 1, 8-token prompt + {args.new_tokens} new tokens)")
    for key, label in (("cache", "with KV cache"), ("no_cache", "without cache")):
        r = ge[key]
        print(
            f"  {label:14s} course {r['ours_tokens_per_s']:8,.0f} tokens/s, Hugging Face {r['hf_tokens_per_s']:8,.0f}"
            f" tokens/s, ratio {r['speedup']:.2f} x (target >= 1: {met(r['speedup'] >= 1)}); "
            f"same tokens: {r['same_tokens']}"
        )
    print(f"  the course's KV cache speed-up: {ge['cache_speedup_ours']:.1f} x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results


def print_profile(train, goal):
    """``--profile``'s table: milliseconds per step of each group, both models; and what ``goal`` leaves."""
    ours, hf = train["profile_ms_per_step"]["ours"], train["profile_ms_per_step"]["hf"]
    step = train["step_ms"]
    print("  where the step goes (ms per step: torch.profiler's shares of the step time measured without it)")
    print(f"    {'':52s} {'course':>8s} {'Hugging Face':>13s}")
    for label in ours:
        print(f"    {label:52s} {ours[label]:8.1f} {hf[label]:13.1f}")
    print(f"    {'the step':52s} {step['ours']:8.1f} {step['hf']:13.1f}")
    if goal:
        shared = ("matrix products", "attention (SDPA)")
        floor = sum(ours[label] for label in shared)
        budget = step["hf"] / goal
        print(
            f"  for {goal}x Hugging Face the step must take at most {budget:.1f} ms; the matrix products and the "
            f"attention, the same operations in both models, take {floor:.1f} ms of the course's step, which "
            f"leaves {budget - floor:.1f} ms for everything else (now {step['ours'] - floor:.1f} ms; "
            f"Hugging Face's {step['hf'] - sum(hf[label] for label in shared):.1f} ms)"
        )


if __name__ == "__main__":
    main()
