"""Chapter 5: GPT-2 checkpoints in Hugging Face's layout, both directions, offline.

- :func:`hf_to_course_key`, :func:`convert_hf_state_dict`, :func:`config_from_hf`: Hugging Face's
  ``GPT2LMHeadModel`` weights -> the course's :class:`~gptcourse.ch05_gpt2.GPT2` (names and the
  ``Conv1D`` transposes);
- :func:`load_gpt2`: a folder in Hugging Face's layout (``config.json`` + ``model.safetensors``) -> a
  course GPT-2; :func:`find_gpt2_checkpoint` / :func:`download_gpt2` find or fetch the released ones
  (the course itself never downloads);
- :func:`save_gpt2` (with :func:`course_to_hf_state_dict`, :func:`hf_config_dict`): the other way, so
  ``GPT2LMHeadModel.from_pretrained`` reads a course model; every GPT-2 the course ships is stored so;
- :func:`save_tiny_hf_checkpoint`: a tiny random ``GPT2LMHeadModel``, made locally, that proves the
  architecture and the loader without any download.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from gptcourse.ch05_gpt2 import GPT2, GPT2_SIZES, GPT2_VOCAB_SIZE, GPT2Config
from gptcourse.optional import require
from gptcourse.saving import read_checkpoint, save_checkpoint

#: Hugging Face's names (after an optional ``transformer.`` prefix) -> the course's.
HF_BLOCK_NAMES = {
    "ln_1": "ln_1",
    "attn.c_attn": "attn.W_qkv",
    "attn.c_proj": "attn.W_o",
    "ln_2": "ln_2",
    "mlp.c_fc": "mlp.W_1",
    "mlp.c_proj": "mlp.W_2",
}


HF_TOP_NAMES = {
    "wte.weight": "W_e.weight",
    "wpe.weight": "W_p.weight",
    "ln_f.weight": "ln_f.weight",
    "ln_f.bias": "ln_f.bias",
}


def hf_to_course_key(key: str) -> str | None:
    """A Hugging Face GPT-2 tensor name -> the course's name, or None for what is not a parameter.

    ``"transformer.h.3.attn.c_attn.weight"`` and ``"h.3.attn.c_attn.weight"`` (the hub's file has
    no prefix) both map to ``"blocks.3.attn.W_qkv.weight"``. None for the tied ``lm_head.weight``
    and for the causal-mask buffers ``h.N.attn.bias`` / ``h.N.attn.masked_bias`` of old files.
    """
    key = key.removeprefix("transformer.")
    if key == "lm_head.weight" or key.endswith((".attn.bias", ".attn.masked_bias")):
        return None
    if key in HF_TOP_NAMES:
        return HF_TOP_NAMES[key]
    h, layer, rest = key.split(".", 2)
    module, param = rest.rsplit(".", 1)
    if h != "h" or module not in HF_BLOCK_NAMES:
        raise KeyError(f"{key!r} is not a GPT-2 tensor name")
    return f"blocks.{layer}.{HF_BLOCK_NAMES[module]}.{param}"


def convert_hf_state_dict(hf_state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A Hugging Face GPT-2 state dict -> the course's: names mapped, ``Conv1D`` weights transposed."""
    state = {}
    for key, tensor in hf_state.items():
        name = hf_to_course_key(key)
        if name is None:
            continue
        if key.endswith(HF_CONV1D):
            tensor = tensor.t()
        state[name] = tensor.contiguous()
    return state


def config_from_hf(hf_config: Mapping[str, Any], **overrides: Any) -> GPT2Config:
    """A :class:`GPT2Config` from a Hugging Face ``config.json`` (a dict)."""
    values = dict(
        vocab_size=hf_config["vocab_size"],
        n_ctx=hf_config.get("n_positions", hf_config.get("n_ctx")),
        n_layers=hf_config["n_layer"],
        n_heads=hf_config["n_head"],
        d_model=hf_config["n_embd"],
        d_ff=hf_config.get("n_inner"),
        layer_norm_eps=hf_config.get("layer_norm_epsilon", 1e-5),
        dropout=hf_config.get("resid_pdrop", 0.1),
    )
    values.update(overrides)
    return GPT2Config(**values)


#: Where the real checkpoints live on the Hugging Face hub.
HUB_REPOS = {name: f"openai-community/{name}" for name in GPT2_SIZES}


WEIGHTS_ENV = "GPTCOURSE_GPT2_DIR"


def missing_weights_message(where: str | Path) -> str:
    return (
        f"No GPT-2 checkpoint in {where}.\n"
        "A checkpoint is a folder with config.json and model.safetensors (Hugging Face's layout).\n"
        "The course never downloads weights by itself. With internet, download the smallest\n"
        "GPT-2 once (about 550 MB):\n"
        "    from gptcourse.ch05_checkpoints import download_gpt2\n"
        "    folder = download_gpt2('gpt2')  # or 'gpt2-medium', 'gpt2-large', 'gpt2-xl'\n"
        f"then pass the folder to load_gpt2, or set the environment variable {WEIGHTS_ENV} to it."
    )


def load_gpt2(folder: str | Path, dropout: float = 0.0, with_course: bool = False) -> GPT2 | tuple[GPT2, dict]:
    """A :class:`GPT2` with the weights of a Hugging Face GPT-2 checkpoint folder, in eval mode.

    ``folder`` holds ``config.json`` and ``model.safetensors``, as saved by
    ``GPT2LMHeadModel.save_pretrained`` or downloaded from the hub (:func:`download_gpt2`).
    Every parameter of the course's model must be in the file and every tensor in the file must
    be used (or be one of the ignorable ones, see :func:`hf_to_course_key`). With ``with_course``,
    returns (model, the folder's ``course.json`` as a dict, {} if none).
    """
    state, hf_config, course = read_checkpoint(folder, missing_weights_message(Path(folder)))
    model = GPT2(config_from_hf(hf_config, dropout=dropout))
    model.load_state_dict(convert_hf_state_dict(state), strict=True)
    return (model.eval(), course) if with_course else model.eval()


def find_gpt2_checkpoint(name: str = "gpt2", cache_dir: str | Path | None = None) -> Path | None:
    """The folder of a GPT-2 checkpoint already on this machine, or None. Never downloads.

    Looks at ``$GPTCOURSE_GPT2_DIR``, then in the Hugging Face cache (``cache_dir``, default the
    standard one, where :func:`download_gpt2` and ``from_pretrained`` put it).
    """
    folder = os.environ.get(WEIGHTS_ENV)
    if folder and (Path(folder) / "model.safetensors").is_file():
        return Path(folder)
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = [
        try_to_load_from_cache(HUB_REPOS[name], f, cache_dir=cache_dir) for f in ("config.json", "model.safetensors")
    ]
    if all(isinstance(f, str) for f in found) and Path(found[0]).parent == Path(found[1]).parent:
        return Path(found[1]).parent
    return None


def download_gpt2(name: str = "gpt2") -> Path:
    """Download a released GPT-2 (config.json + model.safetensors) from the Hugging Face hub; return the folder.

    Needs internet (gpt2: about 550 MB; gpt2-xl: about 6.4 GB). Nothing in the course calls it.
    """
    snapshot_download = require("huggingface_hub", "Downloading GPT-2's weights").snapshot_download
    return Path(snapshot_download(HUB_REPOS[name], allow_patterns=["config.json", "model.safetensors"]))


#: The tiny random GPT-2 of the equivalence checks. Its weights are drawn wider than GPT-2's 0.02 so
#: that its next-token distributions are far from uniform and greedy decoding does not stall.
TINY_HF_CONFIG = dict(vocab_size=96, n_positions=64, n_embd=32, n_layer=2, n_head=4, initializer_range=0.3)


def save_tiny_hf_checkpoint(folder: str | Path, seed: int = 0, **sizes: int) -> Path:
    """Build a small random ``transformers.GPT2LMHeadModel`` and save it (config.json, model.safetensors).

    Offline and quiet: nothing is downloaded, no progress bar or warning is printed. ``sizes``
    override :data:`TINY_HF_CONFIG` (Hugging Face's names: vocab_size, n_positions, n_embd,
    n_layer, n_head). Returns the folder.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers = require("transformers", "Building a Hugging Face GPT-2 to check the course's against")
    HFConfig, GPT2LMHeadModel = transformers.GPT2Config, transformers.GPT2LMHeadModel

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    sizes = {**TINY_HF_CONFIG, **sizes}
    end = sizes["vocab_size"] - 1
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(HFConfig(**sizes, bos_token_id=end, eos_token_id=end)).eval()
    model.save_pretrained(folder)
    return Path(folder)


def course_to_hf_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse of :func:`convert_hf_state_dict`: the course's names -> ``transformer.*`` names, Conv1D layout."""
    course_to_hf = {v: k for k, v in HF_TOP_NAMES.items()}
    course_to_hf.update({f".{v}.": f".{k}." for k, v in HF_BLOCK_NAMES.items()})
    out = {}
    for name, tensor in state.items():
        if name in course_to_hf:
            key = course_to_hf[name]
        else:
            _, layer, rest = name.split(".", 2)
            module, param = rest.rsplit(".", 1)
            key = f"h.{layer}.{next(k for k, v in HF_BLOCK_NAMES.items() if v == module)}.{param}"
        if key.endswith(HF_CONV1D):
            tensor = tensor.t()
        out["transformer." + key] = tensor.contiguous()
    return out


def hf_config_dict(config: GPT2Config) -> dict[str, Any]:
    """A Hugging Face ``config.json`` (a dict) for a :class:`GPT2Config`."""
    eot = 50256 if config.vocab_size == GPT2_VOCAB_SIZE else None  # <|endoftext|>, if the vocabulary is GPT-2's
    return {
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": config.vocab_size,
        "n_positions": config.n_ctx,
        "n_embd": config.d_model,
        "n_layer": config.n_layers,
        "n_head": config.n_heads,
        "n_inner": config.d_ff,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": config.layer_norm_eps,
        "resid_pdrop": config.dropout,
        "embd_pdrop": config.dropout,
        "attn_pdrop": config.dropout,
        "initializer_range": 0.02,
        "bos_token_id": eot,
        "eos_token_id": eot,
    }


def save_gpt2(model: GPT2, folder: str | Path, course: dict | None = None, dtype: torch.dtype | None = None) -> Path:
    """Save a course :class:`GPT2` in Hugging Face's layout (config.json + model.safetensors), with the
    course's own ``course`` dict (tokenizer, training info) beside it; ``dtype`` as in
    :func:`gptcourse.saving.save_checkpoint`."""
    return save_checkpoint(
        folder, course_to_hf_state_dict(model.state_dict()), hf_config_dict(model.config), course, dtype
    )


#: The weights OpenAI stored as ``Conv1D``: (in, out), the transpose of ``nn.Linear``'s (out, in).
HF_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
