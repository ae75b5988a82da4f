"""Chapter 5: GPT-2's training loss through its tied output head, in cache-sized slices of the logits.

GPT-2's head multiplies LN_f(h_n) by W_e^T, the token embedding: with 50,257 tokens the (N, V)
logits and their gradient are most of a small model's training time and memory traffic.
:func:`tied_head_cross_entropy` computes ``F.cross_entropy(h @ W.T, targets)`` and its gradients
a cache-sized slice of the vocabulary at a time (:class:`_TiedHeadCrossEntropy` explains how);
:meth:`gptcourse.ch05_gpt2.GPT2.loss` uses it.
"""

from __future__ import annotations

import torch


class _TiedHeadCrossEntropy(torch.autograd.Function):
    """Forward *and* gradients of mean_i -log softmax(h_i W^T)[y_i], a cache-sized slice at a time.

    The (N, V) logits z = h W^T are computed in slices of ``cols`` vocabulary columns, small enough
    to stay in the CPU's cache between the matrix product that makes a slice and the softmax that
    normalises it (one product with all 50,257 columns runs at half the speed: its output does not
    fit). Two passes over the vocabulary, for each block of at most ``rows`` tokens:

    1. for each slice s: z_s = h W_s^T, p_s = softmax(z_s) over the slice, and the slice's
       log-sum-exp lse_s = max_j z_sj - log max_j p_sj: the largest z_sj has the largest p_sj, and
       there log p_sj is exact (two maxima without their positions: finding the position costs
       3x as much);
    2. lse = logsumexp_s(lse_s) is the log of the softmax's denominator, so the probabilities are
       p_s exp(lse_s - lse); since d loss / d z = (p - onehot(y)) / n, each slice's p_s / n gives
       d W_s = (p_s / n)^T h and adds (p_s / n) W_s to d h.

    The one-hot part of the gradient is subtracted once at the end (-h_i / n from row y_i of d W,
    -W[y_i] / n from d h_i): few, large operations per slice, since each one wakes and waits for every
    thread (with 50,257 tokens, 4,096 columns a slice run as fast as 1,024 on an idle machine and much
    faster on a busy one, where a thread may wait a whole time slice for another). The loss itself is
    mean_i (lse_i - h_i . W[y_i]). Backward only scales the stored gradients.
    The p_s live in ``workspace`` (rows x (V + cols) numbers), which a caller may keep between calls:
    fresh memory that large costs the operating system's page faults on every call.
    """

    @staticmethod
    def forward(ctx, h, W, targets, ignore_index, rows, cols, workspace):
        valid = targets != ignore_index
        n = int(valid.sum())
        safe = torch.where(valid, targets, 0)
        weight = valid.to(h.dtype) / max(n, 1)  # 1/n on the rows with a target, 0 on the others
        grad_h = torch.empty_like(h)  # every block's first slice sets it
        grad_W = torch.empty_like(W) if h.size(0) else torch.zeros_like(W)  # the first block sets it
        lse = h.new_empty(h.size(0))
        V = W.size(0)
        starts = range(0, V, cols)
        for first in range(0, h.size(0), rows):
            block = slice(first, first + rows)
            h_b = h[block]
            m = h_b.size(0)
            z = workspace[m * V : m * (V + cols)]
            probs = [workspace[m * start : m * min(start + cols, V)].view(m, -1) for start in starts]
            lse_s = h.new_empty(len(starts), m)
            for s, start in enumerate(starts):  # pass 1
                z_s = torch.mm(h_b, W[start : start + cols].t(), out=z[: probs[s].numel()].view(m, -1))
                p_max = torch.softmax(z_s, dim=1, out=probs[s]).amax(dim=1, keepdim=True)
                torch.sub(z_s.amax(dim=1, keepdim=True), p_max.log_(), out=lse_s[s, :, None])
            lse[block] = torch.logsumexp(lse_s, dim=0)
            scale = torch.exp(lse_s - lse[block]).mul_(weight[block])
            for s, start in enumerate(starts):  # pass 2
                g = probs[s].mul_(scale[s, :, None])
                grad_W[start : start + cols].addmm_(g.t(), h_b, beta=1 if first else 0)
                grad_h[block].addmm_(g, W[start : start + cols], beta=1 if s else 0)
        W_y = W[safe]
        grad_h.addcmul_(W_y, weight[:, None], value=-1)
        grad_W.index_add_(0, safe, h * weight[:, None], alpha=-1)
        ctx.save_for_backward(grad_h, grad_W)
        if not n:
            return h.new_tensor(float("nan"))
        return (lse - (h * W_y).sum(dim=1))[valid].sum() / n

    @staticmethod
    def backward(ctx, grad_loss):
        grad_h, grad_W = ctx.saved_tensors
        if not bool(grad_loss == 1):
            grad_h, grad_W = grad_h * grad_loss, grad_W * grad_loss
        return grad_h, grad_W, None, None, None, None, None


def tied_head_workspace_size(n_tokens: int, vocab_size: int, rows: int = 1024, cols: int = 4096) -> int:
    """How many numbers :func:`tied_head_cross_entropy` needs as ``workspace`` for ``n_tokens`` rows."""
    return min(rows, n_tokens) * (vocab_size + min(cols, vocab_size))


def workspace_fits(workspace: torch.Tensor | None, size: int, h: torch.Tensor) -> bool:
    """Whether ``workspace`` can serve as the workspace of ``size`` numbers for ``h``."""
    return (
        workspace is not None
        and workspace.numel() >= size
        and workspace.dtype == h.dtype
        and workspace.device == h.device
    )


def tied_head_cross_entropy(
    h: torch.Tensor,
    W: torch.Tensor,
    targets: torch.Tensor,
    ignore_index: int = -100,
    rows: int = 1024,
    cols: int = 4096,
    workspace: torch.Tensor | None = None,
) -> torch.Tensor:
    """``F.cross_entropy(h @ W.T, targets, ignore_index=ignore_index)`` for (N, d) ``h`` and (V, d) ``W``.

    Equal to it (and so are its gradients) up to float rounding, and faster on a large vocabulary:
    the logits are computed and normalised in cache-sized (``rows`` x ``cols``) slices and the
    gradients are computed at once, so they are not written to memory and read back three times
    (logits, log-softmax, its gradient). Holds at most ``rows`` x V probabilities, in ``workspace``
    if given (a 1-D tensor of at least :func:`tied_head_workspace_size` numbers, h's dtype and
    device, reused between calls; not for concurrent calls). NaN if no target is valid, like
    ``F.cross_entropy``.
    """
    if h.dim() != 2 or W.dim() != 2 or targets.shape != h.shape[:1] or W.size(1) != h.size(1):
        raise ValueError(
            f"expected h (N, d), W (V, d) and targets (N,), got {tuple(h.shape)}, "
            f"{tuple(W.shape)} and {tuple(targets.shape)}"
        )
    valid = targets[targets != ignore_index]
    if valid.numel() and (int(valid.min()) < 0 or int(valid.max()) >= W.size(0)):
        raise ValueError(
            f"targets must be token ids in [0, {W.size(0)}) or ignore_index={ignore_index}; "
            f"got values from {int(valid.min())} to {int(valid.max())}"
        )
    size = tied_head_workspace_size(h.size(0), W.size(0), rows, cols)
    if workspace is None:
        workspace = h.new_empty(size)
    elif not workspace_fits(workspace, size, h):
        raise ValueError(
            f"workspace: expected at least {size} numbers of {h.dtype} on {h.device}, got "
            f"{workspace.numel()} of {workspace.dtype} on {workspace.device}"
        )
    return _TiedHeadCrossEntropy.apply(h, W, targets, ignore_index, rows, cols, workspace)
