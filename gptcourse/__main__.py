"""The course's command line: ``python -m gptcourse pretrain ch04|ch05|ch06`` remakes a shipped checkpoint.

Each chapter's settings are a frozen dataclass (:class:`gptcourse.ch04_pretraining.PretrainSettings`);
every field is a flag (``--steps 100``), defaulting to how the shipped checkpoint was made.
"""

from __future__ import annotations

import argparse
from dataclasses import fields, replace

from gptcourse import default_device
from gptcourse.ch04_gpt1 import count_model_parameters
from gptcourse.ch04_pretraining import PRETRAINED_DIR, TOY_GPT1, run_pretraining, save_pretrained
from gptcourse.ch05_experiments import TOY_GPT2_DIR, TOY_TRAINING, save_toy_gpt2, train_toy_gpt2
from gptcourse.ch06_models import CHECKPOINT_DIR, SIZES, TRAINING, train_all


def _saved(out: str, model, vocab_size: int, final_loss: float, seconds: float) -> None:
    print(
        f"saved {out}: {count_model_parameters(model):,} parameters, vocabulary {vocab_size}, "
        f"final loss {final_loss:.3f}, {seconds:.0f} s"
    )


def _pretrain_ch04(settings, args) -> None:
    model, tok, info = run_pretraining(settings, device=args.device)
    save_pretrained(args.out, model, tok, info)
    _saved(args.out, model, tok.vocab_size, sum(info["losses"][-50:]) / 50, info["seconds"])


def _pretrain_ch05(settings, args) -> None:
    model, tok, info = train_toy_gpt2(settings, device=args.device)
    save_toy_gpt2(args.out, model, tok, info)
    _saved(args.out, model, tok.vocab_size, info["final_loss"], info["seconds"])


def _pretrain_ch06(settings, args) -> None:
    train_all(args.out, args.sizes, settings, device=args.device)


#: chapter -> (what it makes, its settings, where the shipped one lives, the function that makes it)
CHECKPOINTS = {
    "ch04": ("the toy GPT-1 of chapter 4", TOY_GPT1, PRETRAINED_DIR, _pretrain_ch04),
    "ch05": ("the small GPT-2 of chapter 5", TOY_TRAINING, TOY_GPT2_DIR, _pretrain_ch05),
    "ch06": ("the four GPT-2s of chapter 6", TRAINING, CHECKPOINT_DIR, _pretrain_ch06),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gptcourse", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pretrain = commands.add_parser("pretrain", help="pre-train a shipped model again and save it")
    chapters = pretrain.add_subparsers(dest="chapter", required=True)
    for chapter, (what, settings, out, _) in CHECKPOINTS.items():
        p = chapters.add_parser(chapter, help=f"pre-train {what}")
        p.add_argument("--out", default=str(out), help="the checkpoint folder to write (default: the shipped one)")
        p.add_argument("--device", default=None, help="cpu, cuda, mps... (default: the best one PyTorch sees)")
        if chapter == "ch06":
            p.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
        for field in fields(settings):
            default = getattr(settings, field.name)
            p.add_argument(f"--{field.name.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args(argv)
    _, settings, _, run = CHECKPOINTS[args.chapter]
    settings = replace(settings, **{f.name: getattr(args, f.name) for f in fields(settings)})
    args.device = args.device or default_device()
    print(f"pre-training on {args.device}", flush=True)
    run(settings, args)


if __name__ == "__main__":
    main()
