"""How the translation models of chapters 1-3 are measured: exact match and token accuracy by source length.

Every model of chapters 1-3 is evaluated the same way, on the ``test`` and ``long`` splits of
:func:`gptcourse.data.translation_task.make_task`, so their curves can be drawn on one plot.

- :func:`exact_match`, :func:`token_accuracy`: metrics on word lists;
- :func:`accuracy_by_length`: both, per source-length bucket (:data:`LENGTH_BUCKETS`, :data:`LONG_BUCKET`);
- :func:`evaluate`: run any ``translate_fn(list of source word lists) -> list of predicted word lists`` on
  a split and return the per-bucket table; :func:`plot_accuracy_by_length` draws such tables, one line per model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from gptcourse import style
from gptcourse.data.translation_task import LENGTH_BUCKETS, LONG_BUCKET, Pair

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: The markers and line styles that tell the models of chapters 1-3 apart in their figures, in the order
#: seq2seq, attention, Transformer (the colours follow :data:`gptcourse.style.PALETTE`): colour is never the
#: only difference between two lines.
MARKERS = ("o", "s", "^", "D", "v", "P")
LINESTYLES = ("-", "--", "-.", ":")


def exact_match(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    """The fraction of sentences translated exactly (every word, and the length, right)."""
    _check_lengths(predictions, references)
    return sum(list(p) == list(r) for p, r in zip(predictions, references, strict=True)) / len(references)


def token_accuracy(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> float:
    """The fraction of word positions right: sum_i #{t : p_i[t] = r_i[t]} / sum_i max(|p_i|, |r_i|).

    Position by position (the task keeps the length, so the t-th word should match the t-th);
    a translation that is too long or too short loses the positions it misses or adds.
    """
    _check_lengths(predictions, references)
    # p and r may differ in length (a missing or extra word): the positions past the shorter are wrong
    correct = sum(sum(a == b for a, b in zip(p, r, strict=False)) for p, r in zip(predictions, references, strict=True))
    total = sum(max(len(p), len(r)) for p, r in zip(predictions, references, strict=True))
    return correct / max(total, 1)


def _check_lengths(predictions, references) -> None:
    if len(predictions) != len(references) or not references:
        raise ValueError(f"need as many predictions as references (>0), got {len(predictions)} and {len(references)}")


def bucket_label(bucket: tuple[int, int]) -> str:
    """(3, 5) -> '3-5'."""
    return f"{bucket[0]}-{bucket[1]}"


def accuracy_by_length(
    sources: Sequence[Sequence[str]],
    predictions: Sequence[Sequence[str]],
    references: Sequence[Sequence[str]],
    buckets: Sequence[tuple[int, int]] = LENGTH_BUCKETS,
) -> list[dict]:
    """Exact match and token accuracy per source-length bucket.

    Returns one row per bucket that holds sentences: ``{"bucket": "3-5", "lo": 3, "hi": 5,
    "mid": 4.0, "n": ..., "exact_match": ..., "token_accuracy": ...}``.
    """
    _check_lengths(predictions, references)
    rows = []
    for lo, hi in buckets:
        idx = [i for i, s in enumerate(sources) if lo <= len(s) <= hi]
        if not idx:
            continue
        p, r = [predictions[i] for i in idx], [references[i] for i in idx]
        rows.append(
            {
                "bucket": bucket_label((lo, hi)),
                "lo": lo,
                "hi": hi,
                "mid": (lo + hi) / 2,
                "n": len(idx),
                "exact_match": exact_match(p, r),
                "token_accuracy": token_accuracy(p, r),
            }
        )
    return rows


def evaluate(
    translate_fn: Callable[[list[list[str]]], list[list[str]]],
    pairs: Sequence[Pair],
    buckets: Sequence[tuple[int, int]] | None = None,
    batch_size: int = 500,
) -> list[dict]:
    """Translate ``pairs``' sources with ``translate_fn`` (batches of word lists in, word lists out)
    and return :func:`accuracy_by_length`'s rows plus a last row ``"bucket": "all"``.

    ``buckets`` defaults to :data:`LENGTH_BUCKETS` plus :data:`LONG_BUCKET`, so the same call
    serves the ``test`` and the ``long`` split.
    """
    buckets = buckets if buckets is not None else LENGTH_BUCKETS + (LONG_BUCKET,)
    sources = [list(s) for s, _ in pairs]
    references = [list(t) for _, t in pairs]
    predictions: list[list[str]] = []
    for i in range(0, len(sources), batch_size):
        predictions += [list(p) for p in translate_fn(sources[i : i + batch_size])]
    rows = accuracy_by_length(sources, predictions, references, buckets)
    rows.append(
        {
            "bucket": "all",
            "lo": min(map(len, sources)),
            "hi": max(map(len, sources)),
            "mid": float("nan"),
            "n": len(sources),
            "exact_match": exact_match(predictions, references),
            "token_accuracy": token_accuracy(predictions, references),
        }
    )
    return rows


def plot_accuracy_by_length(
    results: dict[str, list[dict]],
    metric: str = "exact_match",
    ax: Axes | None = None,
    colors: dict[str, str] | None = None,
) -> Axes:
    """Draw accuracy against source length, one line per model, the ``long`` bucket shaded.

    ``results`` maps a model name to the rows of :func:`evaluate` (the test split's and the long
    split's rows may simply be concatenated; ``"all"`` rows are skipped). ``metric`` is
    ``"exact_match"`` or ``"token_accuracy"``. Model ``i`` gets the ``i``-th colour, marker
    (:data:`MARKERS`) and line style (:data:`LINESTYLES`), so the lines differ in more than colour.
    Returns the axes.
    """
    style.use()
    if ax is None:
        _, ax = style.figure()
    colors = colors or {}
    labels = {}
    for i, (name, rows) in enumerate(results.items()):
        rows = sorted((r for r in rows if r["bucket"] != "all"), key=lambda r: r["lo"])
        ax.plot(
            [r["mid"] for r in rows],
            [r[metric] for r in rows],
            marker=MARKERS[i % len(MARKERS)],
            linestyle=LINESTYLES[i % len(LINESTYLES)],
            color=colors.get(name, style.PALETTE[i % len(style.PALETTE)]),
            label=name,
        )
        labels.update({r["mid"]: r["bucket"] for r in rows})
    lo, hi = LONG_BUCKET
    ax.axvspan(lo - 0.5, hi + 0.5, color=style.INK, alpha=0.08, lw=0)
    ax.text((lo + hi) / 2, 1.02, "longer than\nany training input", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(labels), list(labels.values()))
    ax.set_xlabel("source length (words)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_ylim(-0.03, 1.03)
    ax.legend(loc="lower left")
    return ax


def bucket_row(rows: Sequence[dict], bucket: tuple[int, int]) -> dict:
    """The row of :func:`evaluate`'s table for the source-length ``bucket``, e.g. ``(3, 5)``."""
    label = bucket_label(bucket)
    for row in rows:
        if row["bucket"] == label:
            return row
    raise KeyError(f"no row for the bucket {label!r}; the rows are {[r['bucket'] for r in rows]}")


def mark_errors(prediction: Sequence[str], reference: Sequence[str]) -> str:
    """The predicted words joined by spaces, each one that differs from the reference word at its position
    (or has no reference word there) in Markdown bold; ``"(nothing)"`` for an empty prediction."""
    words = [w if i < len(reference) and w == reference[i] else f"**{w}**" for i, w in enumerate(prediction)]
    return " ".join(words) or "(nothing)"


def bottleneck_verdict(em_short: float, em_long: float, language: str = "en") -> str:
    """Chapter 1's verdict on the bottleneck: how exact match changes from the shortest length bucket
    (``em_short``) to the longest (``em_long``), as the end of the sentence "exact match ...".

    A drop of 20 percentage points or more is called plain to see; a smaller drop "changes by only"; a rise
    is reported as one. ``language="ko"`` gives the Korean verdict, the end of the Korean page's sentence
    "완전 일치는 ..." (합니다체); the numbers are the same in both languages.
    """
    if language not in ("en", "ko"):
        raise ValueError(f"language must be 'en' or 'ko', got {language!r}")
    drop = em_short - em_long
    if language == "ko":
        if drop >= 0.2:
            return f"{100 * drop:.0f}퍼센트포인트 떨어집니다. 병목이 뚜렷이 보입니다"
        if drop >= 0:
            return f"{100 * drop:.0f}퍼센트포인트밖에 달라지지 않습니다"
        return f"오히려 {-100 * drop:.0f}퍼센트포인트 오릅니다"
    if drop >= 0.2:
        return f"falls by {100 * drop:.0f} percentage points: the bottleneck is plain to see"
    if drop >= 0:
        return f"changes by only {100 * drop:.0f} percentage points between the shortest and the longest bucket"
    return f"rises by {-100 * drop:.0f} percentage points"
