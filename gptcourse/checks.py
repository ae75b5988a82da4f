"""Assertions for the exercise tests that teach.

Every failure says what was checked, what was expected, what came back, and a hint, e.g.::

    AssertionError: softmax(tensor([1000., 1000.])) is not what it should be.
      expected: tensor([0.5000, 0.5000])
      got:      tensor([nan, nan])
      hint:     exp(1000) overflows: subtract the maximum logit before exponentiating.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

__all__ = ["CheckFailed", "check_close", "check_equal", "check_shape", "check_true"]


class CheckFailed(AssertionError):
    """A test of an exercise failed; the message explains why."""


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(what: str, expected: Any, got: Any, hint: str) -> None:
    lines = [f"{what} is not what it should be."]
    lines.append(f"  expected: {expected}")
    lines.append(f"  got:      {got}")
    if got == "None" or got is None:
        hint = (hint + " " if hint else "") + "Your function returned None: did you forget `return`?"
    if hint:
        lines.append(f"  hint:     {hint}")
    raise CheckFailed("\n".join(lines))


def _as_float_list(value: Any) -> list[float] | None:
    """Flatten numbers, sequences, NumPy arrays and torch tensors to floats (None if impossible)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    if isinstance(value, (list, tuple)):
        out: list[float] = []
        for item in value:
            flat = _as_float_list(item)
            if flat is None:
                return None
            out.extend(flat)
        return out
    return None


def _shape(value: Any) -> tuple[int, ...] | None:
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else None


def check_shape(got: Any, expected_shape: Sequence[int], *, what: str, hint: str = "") -> None:
    """Fail unless ``got`` has exactly ``expected_shape``."""
    shape = _shape(got)
    if shape != tuple(expected_shape):
        _fail(f"the shape of {what}", tuple(expected_shape), shape if shape is not None else _short(got), hint)


def check_close(
    got: Any,
    expected: Any,
    *,
    what: str,
    hint: str = "",
    atol: float = 1e-6,
    rtol: float = 1e-5,
) -> None:
    """Fail unless ``got`` equals ``expected`` elementwise within ``atol + rtol * |expected|``.

    Accepts numbers, (nested) lists, NumPy arrays and torch tensors; shapes must agree.
    NaN never counts as close.
    """
    exp_shape, got_shape = _shape(expected), _shape(got)
    if exp_shape is not None and got_shape is not None and exp_shape != got_shape:
        _fail(f"the shape of {what}", exp_shape, got_shape, hint)
    exp_flat, got_flat = _as_float_list(expected), _as_float_list(got)
    if got_flat is None:
        _fail(what, _short(expected), _short(got), hint or "Return a number or a tensor.")
    assert exp_flat is not None, f"check_close: expected value {expected!r} is not numeric"
    if len(exp_flat) != len(got_flat):
        _fail(f"the number of values in {what}", len(exp_flat), len(got_flat), hint)
    for e, g in zip(exp_flat, got_flat):
        if math.isnan(g) or not (abs(g - e) <= atol + rtol * abs(e) or (math.isinf(e) and g == e)):
            _fail(what, _short(expected), _short(got), hint)


def check_equal(got: Any, expected: Any, *, what: str, hint: str = "") -> None:
    """Fail unless ``got == expected`` (for exact things: token lists, tuples, counts)."""
    if got != expected:
        _fail(what, _short(expected), _short(got), hint)


def check_true(condition: bool, *, what: str, hint: str = "") -> None:
    """Fail unless ``condition`` holds; ``what`` states the property that should hold."""
    if not condition:
        raise CheckFailed(f"{what} does not hold." + (f"\n  hint:     {hint}" if hint else ""))
