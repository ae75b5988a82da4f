"""Every checkpoint the course ships, in one format: a folder with ``model.safetensors`` and ``config.json``.

``model.safetensors`` holds the weights (safetensors: no code runs when a file is read, unlike a pickle),
``config.json`` the model's sizes and ``course.json`` (optional) what else the course keeps with the model:
its tokenizer, how it was trained. A GPT-2 is stored in Hugging Face's own layout (its parameter names and
its ``config.json``: :func:`gptcourse.ch05_checkpoints.save_gpt2`), so ``GPT2LMHeadModel.from_pretrained``
reads every GPT-2 the course ships; chapter 4's GPT-1 uses the course's parameter names.
:func:`save_checkpoint` writes such a folder, :func:`read_checkpoint` reads one back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS, CONFIG, COURSE = "model.safetensors", "config.json", "course.json"


def save_checkpoint(
    folder: str | Path,
    state: dict[str, torch.Tensor],
    config: dict,
    course: dict | None = None,
    dtype: torch.dtype | None = None,
) -> Path:
    """Write ``state`` (stored as ``dtype`` if given, e.g. float16 to halve the file), ``config`` and
    ``course`` into ``folder`` (created if needed); returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if dtype is not None else v).contiguous() for k, v in state.items()}
    save_file(state, folder / WEIGHTS, metadata={"format": "pt"})
    (folder / WEIGHTS).chmod(0o644)  # safetensors writes it owner-only; a shipped model is for every user to read
    (folder / CONFIG).write_text(json.dumps(config, indent=1) + "\n")
    if course is not None:
        (folder / COURSE).write_text(json.dumps(course) + "\n")
    return folder


def read_checkpoint(folder: str | Path, missing_hint: str = "") -> tuple[dict[str, torch.Tensor], dict, dict]:
    """(weights as float32, config, course) of a checkpoint folder (course is {} if it has no ``course.json``).

    A folder without the two files raises FileNotFoundError naming it, followed by ``missing_hint``.
    """
    folder = Path(folder)
    if not ((folder / WEIGHTS).is_file() and (folder / CONFIG).is_file()):
        raise FileNotFoundError(missing_hint or f"{folder} is not a checkpoint: it needs {WEIGHTS} and {CONFIG}")
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(folder / WEIGHTS).items()}
    course = json.loads((folder / COURSE).read_text()) if (folder / COURSE).is_file() else {}
    return state, json.loads((folder / CONFIG).read_text()), course
