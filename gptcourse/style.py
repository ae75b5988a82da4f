"""The course's one plotting style.

Every figure in the book and the notebooks calls :func:`use` (or :func:`figure`), so they
share fonts, colours and sizes. The background is transparent and the ink is a mid grey
that reads on both the light and the dark theme of the site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.pyplot as plt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Colour-blind-safe palette (Okabe & Ito), in the order the course uses it:
#: seq2seq, attention, Transformer, GPT-1, GPT-2, other.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"]
INK = "#6b6b6b"

RC = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "savefig.transparent": True,
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "axes.edgecolor": INK,
    "axes.labelcolor": INK,
    "axes.titlecolor": INK,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "axes.grid": True,
    "grid.color": INK,
    "grid.alpha": 0.25,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "xtick.color": INK,
    "ytick.color": INK,
    "text.color": INK,
    "legend.frameon": False,
    "legend.fontsize": 9,
    "lines.linewidth": 2.0,
    "image.cmap": "viridis",
    "font.size": 10,
}


def use() -> None:
    """Apply the course style to matplotlib (idempotent)."""
    mpl.rcParams.update(RC)


def figure(*args: Any, **kwargs: Any) -> tuple[Figure, Any]:
    """``plt.subplots`` with the course style applied; returns ``(fig, ax)``."""
    use()
    return plt.subplots(*args, **kwargs)
