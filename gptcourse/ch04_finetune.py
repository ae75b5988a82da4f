"""Chapter 4: discriminative fine-tuning with L3 = L2 + lam * L1, and the chapter's few-label experiments.

- Input transformations (Figure 1), each returning token-id lists: :func:`classification_input`,
  :func:`entailment_input`, :func:`similarity_inputs` (both orders), :func:`multiple_choice_inputs` (one
  sequence per answer); :func:`pad_batch` right-pads them;
- :func:`encode_task` (examples -> :class:`TaskTensors`), :func:`task_logits`, :func:`new_classifier`
  (pre-trained or from scratch), :func:`finetune` (L3, GPT-1's linear schedule), :func:`accuracy`;
- :func:`few_label_runs`: the chapter's experiment, with the recipe :data:`FINETUNE_SETTINGS`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Iterable, Sequence

import numpy as np
import torch

from gptcourse import progress
from gptcourse.ch04_bpe import BPETokenizer
from gptcourse.ch04_gpt1 import GPT1, GPT1Classifier, GPT1Config, l3_loss, multiple_choice_logits, similarity_logits
from gptcourse.ch04_pretraining import gpt1_lr
from gptcourse.training import fit, pad_sequences


def classification_input(tok: BPETokenizer, text: str) -> list[int]:
    """Classification: ``[start] text [extract]``."""
    return [tok.start_id] + tok.encode(text) + [tok.extract_id]


def entailment_input(tok: BPETokenizer, premise: str, hypothesis: str) -> list[int]:
    """Entailment: ``[start] premise [delim] hypothesis [extract]``."""
    return [tok.start_id] + tok.encode(premise) + [tok.delim_id] + tok.encode(hypothesis) + [tok.extract_id]


def similarity_inputs(tok: BPETokenizer, a: str, b: str) -> list[list[int]]:
    """Similarity: no natural order, so both, ``[start] a [delim] b [extract]`` and ``[start] b [delim] a [extract]``."""
    return [entailment_input(tok, a, b), entailment_input(tok, b, a)]


def multiple_choice_inputs(tok: BPETokenizer, context: str, answers: Iterable[str]) -> list[list[int]]:
    """Multiple choice: ``[start] context [delim] answer_k [extract]`` for each answer k (a list of k lists)."""
    return [[tok.start_id] + tok.encode(context) + [tok.delim_id] + tok.encode(a) + [tok.extract_id] for a in answers]


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists to one length: returns X (N, L) and last (N,), the index of each one's last token."""
    return pad_sequences(seqs, pad_id), torch.tensor([len(s) - 1 for s in seqs])


@dataclass
class TaskTensors:
    """A labelled set, encoded: X (N, L) or (N, k, L) token ids, last (N,) or (N, k), labels y (N,)."""

    kind: str  # "classification" | "entailment" | "similarity" | "multiple_choice"
    X: torch.Tensor
    last: torch.Tensor
    y: torch.Tensor
    n_classes: int

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: torch.Tensor | slice) -> TaskTensors:
        """The examples at ``index``, without the padding columns none of them needs."""
        X, last = self.X[index], self.last[index]
        L = int(last.max()) + 1 if last.numel() else X.size(-1)
        return TaskTensors(self.kind, X[..., :L], last, self.y[index], self.n_classes)


def encode_task(tok: BPETokenizer, kind: str, examples: Sequence[tuple], n_classes: int = 2) -> TaskTensors:
    """Apply the input transformation of ``kind`` to ``examples`` and pad; see :mod:`gptcourse.data.gpt1_data`.

    classification: (text, label); entailment and similarity: (a, b, label);
    multiple_choice: (context, [answer_1 ... answer_k], index of the right answer).
    """
    if kind == "classification":
        seqs = [[classification_input(tok, text)] for text, _ in examples]
    elif kind == "entailment":
        seqs = [[entailment_input(tok, a, b)] for a, b, _ in examples]
    elif kind == "similarity":
        seqs = [similarity_inputs(tok, a, b) for a, b, _ in examples]
    elif kind == "multiple_choice":
        seqs = [multiple_choice_inputs(tok, context, answers) for context, answers, _ in examples]
    else:
        raise ValueError(f"unknown task kind {kind!r}")
    flat_X, flat_last = pad_batch([s for group in seqs for s in group], tok.pad_id)
    per = len(seqs[0])
    X, last = flat_X.view(len(seqs), per, -1), flat_last.view(len(seqs), per)
    if kind in ("classification", "entailment"):
        X, last = X[:, 0], last[:, 0]
    y = torch.tensor([ex[-1] for ex in examples])
    return TaskTensors(kind, X, last, y, 1 if kind == "multiple_choice" else n_classes)


def task_logits(
    clf: GPT1Classifier, kind: str, X: torch.Tensor, last: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Class logits (or answer scores) and LM logits for a batch of any task kind; also the flat inputs."""
    if kind == "similarity":
        logits, lm_logits = similarity_logits(clf, X, last)
    elif kind == "multiple_choice":
        logits, lm_logits = multiple_choice_logits(clf, X, last)
    else:
        logits, lm_logits = clf(X, last)
    return logits, lm_logits, X.reshape(-1, X.size(-1))


def new_classifier(
    pretrained: GPT1 | None, config: GPT1Config, n_classes: int, tok: BPETokenizer, seed: int
) -> GPT1Classifier:
    """A classifier on a copy of ``pretrained`` (or, if None, on a freshly initialised GPT1 of ``config``).

    As in the paper, ``[start]``, ``[delim]`` and ``[extract]`` are new at fine-tuning: their rows
    of W_e are drawn afresh from N(0, 0.02), whatever pre-training did to them.
    """
    torch.manual_seed(seed)
    lm = GPT1(config)
    if pretrained is not None:
        lm.load_state_dict(pretrained.state_dict())
        with torch.no_grad():
            for i in (tok.start_id, tok.delim_id, tok.extract_id):
                lm.W_e.weight[i].normal_(0.0, config.init_std)
    return GPT1Classifier(lm, n_classes)


def finetune(
    clf: GPT1Classifier,
    data: TaskTensors,
    lam: float = 0.5,
    epochs: int = 10,
    batch_size: int = 16,
    max_lr: float = 1e-3,
    warmup_frac: float = 0.1,
    min_steps: int = 0,
    pad_id: int | None = None,
    seed: int = 0,
) -> list[float]:
    """Fine-tune on ``data`` by minimising -L3 = -(L2 + lam * L1); returns the loss of every update.

    Adam, linear warm-up over ``warmup_frac`` of the updates, then linear decay to 0 (section 4.1).
    ``min_steps``: repeat epochs until at least this many updates (tiny label budgets).
    """
    g = torch.Generator().manual_seed(seed)
    n = len(data)
    per_epoch = math.ceil(n / batch_size)
    epochs = max(epochs, math.ceil(min_steps / per_epoch))
    total = epochs * per_epoch
    warmup = max(1, int(warmup_frac * total))

    def batches():
        for _ in range(epochs):
            order = torch.randperm(n, generator=g)
            for i in range(0, n, batch_size):
                yield data.subset(order[i : i + batch_size])

    def loss_of(clf, batch):
        logits, lm_logits, flat_X = task_logits(clf, data.kind, batch.X, batch.last)
        return l3_loss(logits, batch.y, lm_logits, flat_X, lam, pad_id)

    optimizer = torch.optim.Adam(clf.parameters(), lr=max_lr)
    return fit(
        clf,
        batches(),
        loss_of,
        optimizer,
        total,
        lr_at=lambda step: gpt1_lr(step, max_lr, warmup, total, "linear"),
        show_progress=False,
    )


@torch.no_grad()
def accuracy(clf: GPT1Classifier, data: TaskTensors, batch_size: int = 512) -> float:
    """The fraction of ``data`` whose arg-max class (or answer) is the label."""
    clf.eval()
    correct = 0
    for i in range(0, len(data), batch_size):
        batch = data.subset(slice(i, i + batch_size))
        logits, _, _ = task_logits(clf, data.kind, batch.X, batch.last)
        correct += int((logits.argmax(-1) == batch.y).sum())
    return correct / len(data)


#: The fine-tuning recipe of the chapter's experiments, the same with and without pre-training. The
#: paper's (lr 6.25e-5, batch 32, 3 epochs) is for a large model and thousands of labels; a tiny model
#: and a few dozen labels need a larger rate and a minimum number of updates (a randomly initialised
#: model needs about 60 to leave its initial plateau; fewer would handicap the baseline).
@dataclass(frozen=True)
class FinetuneSettings:
    """The recipe of :func:`finetune` (see its arguments)."""

    epochs: int = 3
    min_steps: int = 60
    batch_size: int = 16
    max_lr: float = 5e-3
    warmup_frac: float = 0.1


FINETUNE_SETTINGS = FinetuneSettings()


def few_label_runs(
    pretrained: GPT1,
    tok: BPETokenizer,
    pool: TaskTensors,
    test: TaskTensors,
    budgets: Sequence[int],
    seeds: Sequence[int],
    inits: Sequence[str] = ("pre-trained", "from scratch"),
    lams: Sequence[float] = (0.5,),
    show_progress: bool = True,
    settings: FinetuneSettings = FINETUNE_SETTINGS,
    **changes: float,
) -> list[dict]:
    """Fine-tune on ``budget`` examples drawn from ``pool`` for every (init, lam, budget, seed); test accuracy.

    Returns a list of dicts with keys init, lam, budget, seed, accuracy. The seed picks the labelled
    examples (a random subset of the pool), the new weights and the order of the batches; the same
    architecture, recipe (``settings`` with ``changes``, e.g. ``max_lr=1e-3``) and seeds are used
    with and without pre-training.
    """
    recipe = asdict(replace(settings, **changes))
    jobs = [(init, lam, b, s) for init in inits for lam in lams for b in budgets for s in seeds]
    rows = []
    for init, lam, budget, seed in progress(
        jobs, desc=f"fine-tuning ({pool.kind})", disable=not show_progress, mininterval=1.0
    ):
        g = torch.Generator().manual_seed(1000 + seed)
        train = pool.subset(torch.randperm(len(pool), generator=g)[:budget])
        clf = new_classifier(
            pretrained if init == "pre-trained" else None, pretrained.config, pool.n_classes, tok, seed
        )
        finetune(clf, train, lam=lam, pad_id=tok.pad_id, seed=seed, **recipe)
        rows.append({"init": init, "lam": lam, "budget": budget, "seed": seed, "accuracy": accuracy(clf, test)})
    return rows


# ---------------------------------------------------------------------------------------------
# The verdicts the chapter's prose states, from the experiments' accuracies
# ---------------------------------------------------------------------------------------------


def half_spread(accuracies: Sequence[float]) -> float:
    """Half the range of a few runs' accuracies (fractions), in percentage points: the ± of the ablation table."""
    return 100 * (max(accuracies) - min(accuracies)) / 2


def auxiliary_lm_effect(with_lm: Sequence[float], without_lm: Sequence[float]) -> str:
    """What the auxiliary LM objective does to a task's accuracy: ``"helps"``, ``"hurts"`` or ``"no clear difference"``.

    ``with_lm`` and ``without_lm`` are the accuracies (fractions) of the seeds with lam = 0.5 and with lam = 0.
    A difference of the means counts as clear only when it exceeds the two variants' seed spreads
    (:func:`half_spread`) together.
    """
    diff = 100 * (np.mean(with_lm) - np.mean(without_lm))
    noise = half_spread(with_lm) + half_spread(without_lm)
    return "helps" if diff > noise else "hurts" if diff < -noise else "no clear difference"


def likelihood_beats_finetuning(zero_shot: float, finetuned: Sequence[float], margin: float = 5.0) -> bool:
    """Whether scoring answers by likelihood (accuracy ``zero_shot``) beats fine-tuning (the mean accuracy of the
    ``finetuned`` runs) by more than ``margin`` percentage points; accuracies are fractions."""
    return bool(100 * zero_shot > np.mean(finetuned) * 100 + margin)
