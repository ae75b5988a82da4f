"""Training plumbing that every chapter shares, written once.

- :func:`pad_sequences`: id lists -> one right-padded (B, L) tensor (chapters 1-6);
- :func:`random_windows`: a batch of random windows of a token stream (language-model pre-training);
- :func:`fit`: the training loop (batch, loss, backward, optional clipping, step, learning-rate schedule);
- :func:`train_cached`: a trained model kept on disk, keyed on its configs, its data and the course
  code it depends on (:func:`code_files`), so that a later page reuses what an earlier page trained.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import warnings
from pathlib import Path
from types import FunctionType, ModuleType
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

from gptcourse import progress

if TYPE_CHECKING:
    from gptcourse.data.translation_task import TranslationTask


def pad_sequences(sequences: Sequence[Sequence[int]], value: int = 0) -> torch.Tensor:
    """A (B, max length) LongTensor of the id lists, right-padded with ``value``."""
    out = torch.full((len(sequences), max(len(s) for s in sequences)), value, dtype=torch.long)
    for i, s in enumerate(sequences):
        out[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out


def random_windows(stream: torch.Tensor, batch_size: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """A (batch_size, length) batch of windows of the 1-D token ``stream``, each starting at a random
    position (drawn with ``generator``, so the batches depend only on its seed)."""
    starts = torch.randint(0, len(stream) - length, (batch_size,), generator=generator)
    return torch.stack([stream[s : s + length] for s in starts.tolist()])


def fit(
    model: nn.Module,
    batches: Iterator,
    loss_of: Callable[[nn.Module, object], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    steps: int,
    *,
    lr_at: Callable[[int], float] | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    clip: float | None = None,
    after_backward: Callable[[nn.Module], None] | None = None,
    log_every: int = 1,
    desc: str = "training",
    show_progress: bool = True,
) -> list[float]:
    """Train ``model`` for ``steps`` updates; returns the loss every ``log_every`` updates.

    Each update takes the next batch of ``batches``, computes ``loss_of(model, batch)``, backpropagates,
    calls ``after_backward(model)`` (if given: it may read the gradients), clips the gradient norm to
    ``clip`` (if given) and steps the optimizer. The learning rate is set to
    ``lr_at(step)`` before update ``step`` (0-based), or follows ``scheduler`` (stepped after every
    update). The model is in training mode during the loop and in eval mode afterwards.
    """
    losses: list[float] = []
    bar = progress(range(steps), desc=desc, disable=not show_progress, mininterval=1.0)
    model.train()
    for step in bar:
        batch = next(batches)
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
        loss = loss_of(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if after_backward is not None:
            after_backward(model)
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if step % log_every == 0:
            losses.append(loss.item())
            if len(losses) % 50 == 0:
                bar.set_postfix(loss=f"{sum(losses[-50:]) / 50:.3f}")
    model.eval()
    return losses


def training_cache_dir() -> Path | None:
    """``$GPTCOURSE_CACHE``, else ``~/.cache/gptcourse``; None (no caching) if it is ``off``."""
    where = os.environ.get("GPTCOURSE_CACHE", "")
    if where.lower() in ("off", "0", "no", "false"):
        return None
    return Path(where) if where else Path.home() / ".cache" / "gptcourse"


def code_files(*objects: object) -> list[Path]:
    """The source files of the course modules that define ``objects`` and of every course module they
    import, directly or through another one (the code a training run depends on), sorted."""
    seen: dict[str, ModuleType] = {}
    todo = [_module_of(o) for o in objects]
    while todo:
        module = todo.pop()
        if module is None or module.__name__ in seen or not module.__name__.startswith("gptcourse"):
            continue
        seen[module.__name__] = module
        children = module.__name__ + "."  # a package's submodules are its attributes once imported: not its code
        todo += [
            m for m in map(_module_of, vars(module).values()) if m is not None and not m.__name__.startswith(children)
        ]
    return sorted(Path(m.__file__) for m in seen.values() if getattr(m, "__file__", None))


def _module_of(value) -> ModuleType | None:
    if isinstance(value, ModuleType):
        return value
    if isinstance(value, (type, FunctionType)) or callable(getattr(value, "__wrapped__", None)):
        return sys.modules.get(getattr(value, "__module__", None) or "")
    return None


def training_key(name: str, task: TranslationTask, *configs: object, code: Iterable[object] = ()) -> str:
    """A hash of everything a training run depends on: the model's name and configs, the task, the torch
    version and the source of the course modules that ``code`` (the functions that build and train the
    model) comes from, with all they import (:func:`code_files`). Change any of them and the model is
    trained again."""
    digest = hashlib.sha256(f"{name}|{task!r}|{configs!r}|{torch.__version__}".encode())
    digest.update(repr((task.train[:3], task.test[:3])).encode())
    for path in code_files(*code):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def train_cached(
    name: str,
    task: TranslationTask,
    make_model: Callable[[], torch.nn.Module],
    train_fn: Callable[[torch.nn.Module], list[float]],
    *configs: object,
    seed: int | None = None,
    reuse: bool = False,
) -> tuple[nn.Module, list[float]]:
    """``(model, losses)``: ``make_model()`` (after ``torch.manual_seed(seed)``, if a seed is given) trained by
    ``train_fn(model)``, and kept on disk.

    With ``reuse=True``, a model already kept for this very run (same :func:`training_key`, which covers the
    code that builds and trains the model) is loaded instead of trained again. ``model.training_seconds`` is
    the wall time the training took when it ran. Set ``GPTCOURSE_CACHE=off`` to keep nothing. The caller's torch random state is the
    same afterwards either way (training or loading).
    """
    rng_state = torch.get_rng_state()
    try:
        file_name = f"{name}-{training_key(name, task, *configs, code=(make_model, train_fn))}.pt"
        return _train_or_load(file_name, make_model if seed is None else _seeded(make_model, seed), train_fn, reuse)
    finally:
        torch.set_rng_state(rng_state)


def _seeded(make_model, seed):
    def make():
        torch.manual_seed(seed)
        return make_model()

    return make


def _train_or_load(file_name, make_model, train_fn, reuse):
    model = make_model()
    folder = training_cache_dir()
    path = folder / file_name if folder else None
    if reuse and path is not None and path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(saved["state"])
            model.training_seconds = float(saved["seconds"])
            model.eval()
            return model, list(saved["losses"])
        except Exception as error:  # a damaged file: train again and overwrite it
            warnings.warn(f"ignoring the unreadable cached model {path} ({error}); training it again", stacklevel=1)
            model = make_model()
    start = time.perf_counter()
    losses = train_fn(model)
    model.training_seconds = time.perf_counter() - start
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            torch.save({"state": model.state_dict(), "losses": losses, "seconds": model.training_seconds}, partial)
            os.replace(partial, path)
        except OSError as error:  # a read-only home: the run still counts, it is just not kept
            warnings.warn(f"could not keep the trained model in {path.parent} ({error})", stacklevel=1)
    return model, losses
