"""Assertions for the exercise tests that teach.

Every failure says what was checked, what was expected, what came back, where they differ, and a
hint, e.g.::

    CheckFailed: softmax(tensor([1000., 1000.])) is not what it should be.
      expected: tensor([0.5000, 0.5000])
      got:      tensor([nan, nan])
      where:    2 of 2 values are NaN
      hint:     exp(1000) overflows: subtract the maximum logit before exponentiating.

The test cells of the exercise notebooks use these and four helpers that keep a test fair:

* :func:`checking` turns an unexpected exception raised by the student's code into
  ``while checking <what>: <error>`` with the test's hint, so the student knows what was being tested;
* :func:`check_raises` checks that a call raises the exception the task asks for;
* :func:`forbidden` makes the functions a task says not to use fail loudly while a test runs;
* :func:`using_reference` runs a later task's test with the course's reference for an earlier task, so
  one slip costs the points of one task only.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Callable, Iterator, Sequence

__all__ = [
    "CheckFailed",
    "check_close",
    "check_equal",
    "check_raises",
    "check_shape",
    "check_true",
    "checking",
    "forbidden",
    "using_reference",
]


class CheckFailed(AssertionError):
    """A test of an exercise failed; the message explains why."""


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(what: str, expected: Any, got: Any, hint: str, where: str = "") -> None:
    lines = [f"{what} is not what it should be."]
    lines.append(f"  expected: {expected}")
    lines.append(f"  got:      {got}")
    if where:
        lines.append(f"  where:    {where}")
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


def _index(flat: int, shape: tuple[int, ...] | None) -> str:
    """The position of the flat index ``flat`` in an array of ``shape``, as ``[i, j, k]``."""
    if not shape:
        return f"[{flat}]" if shape is None else ""
    index = []
    for size in reversed(shape):
        index.append(flat % size)
        flat //= size
    return "[" + ", ".join(str(i) for i in reversed(index)) + "]"


def _dtype(value: Any) -> str | None:
    dtype = getattr(value, "dtype", None)
    return None if dtype is None else str(dtype).replace("torch.", "")


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

    Accepts numbers, (nested) lists, NumPy arrays and torch tensors; shapes must agree. NaN never
    counts as close. A failure reports the largest difference and where it is, how many values
    differ, how many are NaN or infinite, and the dtypes when they differ.
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
    bad, worst, worst_at = 0, -1.0, -1
    nan = inf = 0
    for i, (e, g) in enumerate(zip(exp_flat, got_flat, strict=True)):
        nan += math.isnan(g)
        inf += math.isinf(g)
        if math.isnan(g) or not (abs(g - e) <= atol + rtol * abs(e) or (math.isinf(e) and g == e)):
            bad += 1
            diff = math.inf if (math.isnan(g) or math.isinf(g) or math.isinf(e)) else abs(g - e)
            if diff > worst:
                worst, worst_at = diff, i
    if not bad:
        return
    shape = got_shape if got_shape is not None else exp_shape
    at = _index(worst_at, shape) if len(exp_flat) > 1 else ""
    where = [f"{bad} of {len(exp_flat)} values differ"]
    e, g = exp_flat[worst_at], got_flat[worst_at]
    largest = "NaN" if math.isnan(g) else f"{worst:.3g}"
    where.append(
        f"the largest difference is {largest}" + (f" at {at}" if at else "") + f" (expected {e:.6g}, got {g:.6g})"
    )
    if nan or inf:
        where.append(f"{nan} NaN and {inf} infinite values")
    exp_dtype, got_dtype = _dtype(expected), _dtype(got)
    if exp_dtype and got_dtype and exp_dtype != got_dtype:
        where.append(f"dtype: expected {exp_dtype}, got {got_dtype}")
    _fail(what, _short(expected), _short(got), hint, where="; ".join(where))


def _first_difference(got: Any, expected: Any) -> str:
    """Where two sequences (or mappings) first differ, in words; "" if that cannot be said."""
    if isinstance(expected, dict) and isinstance(got, dict):
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        changed = [k for k in expected if k in got and got[k] != expected[k]]
        parts = []
        if missing:
            parts.append(f"missing keys {_short(missing, 120)}")
        if extra:
            parts.append(f"unexpected keys {_short(extra, 120)}")
        if changed:
            k = changed[0]
            parts.append(f"at key {k!r}: expected {_short(expected[k], 120)}, got {_short(got[k], 120)}")
        return "; ".join(parts)
    if not isinstance(expected, (list, tuple, str)) or not isinstance(got, (list, tuple, str)):
        return ""
    if type(got) is not type(expected) and list(got) == list(expected):
        return f"the items are right but the type is {type(got).__name__}, not {type(expected).__name__}"
    for i, (e, g) in enumerate(zip(expected, got, strict=False)):  # the lengths may differ: reported below
        if e != g:
            text = f"first difference at index {i}: expected {_short(e, 120)}, got {_short(g, 120)}"
            return text + (f"; lengths {len(expected)} and {len(got)}" if len(expected) != len(got) else "")
    if len(expected) != len(got):
        n = min(len(expected), len(got))
        more = expected[n:] if len(expected) > len(got) else got[n:]
        return (
            f"the first {n} items agree; expected length {len(expected)}, got {len(got)} "
            f"({'missing' if len(expected) > len(got) else 'extra'}: {_short(more, 120)})"
        )
    return ""


def check_equal(got: Any, expected: Any, *, what: str, hint: str = "") -> None:
    """Fail unless ``got == expected`` (for exact things: token lists, tuples, counts).

    For sequences a failure names the first index where they differ and the items there.
    """
    try:
        same = bool(got == expected)
    except Exception:  # noqa: BLE001 - e.g. a tensor compared with a list
        same = False
    if not same:
        _fail(what, _short(expected), _short(got), hint, where=_first_difference(got, expected))


def check_true(condition: bool, *, what: str, hint: str = "") -> None:
    """Fail unless ``condition`` holds; ``what`` states the property that should hold."""
    if not condition:
        raise CheckFailed(f"{what} does not hold." + (f"\n  hint:     {hint}" if hint else ""))


@contextlib.contextmanager
def checking(what: str, hint: str = "") -> Iterator[None]:
    """Report an unexpected error of the code under test as ``while checking <what>: <error>``.

    ``CheckFailed`` passes through unchanged. Use it around calls of the student's code::

        with checking("MultiHeadAttention(16, 4) with a padding mask", hint="Pass the mask on."):
            out = mine(x, x, x, mask)
    """
    try:
        yield
    except CheckFailed:
        raise
    except Exception as err:  # noqa: BLE001 - any error of the student's code is reported
        message = f"while checking {what}: {type(err).__name__}: {err}"
        if isinstance(err, NotImplementedError):
            message += "\n  hint:     this part is not written yet: replace `raise NotImplementedError()`."
        elif hint:
            message += f"\n  hint:     {hint}"
        raise CheckFailed(message) from err


def check_raises(
    exception: type[BaseException] | tuple[type[BaseException], ...],
    call: Callable[[], Any],
    *,
    what: str,
    hint: str = "",
) -> BaseException:
    """Fail unless ``call()`` raises ``exception``; return the exception raised.

    ``what`` names the call and the rule, e.g. ``"MultiHeadAttention(10, 4) raises ValueError (10 is not
    divisible by 4)"``.
    """
    names = exception.__name__ if isinstance(exception, type) else " or ".join(e.__name__ for e in exception)
    try:
        value = call()
    except exception as err:
        return err
    except CheckFailed:
        raise
    except Exception as err:  # noqa: BLE001 - the wrong exception is a failure that says which
        raise CheckFailed(
            f"{what} does not hold: it raised {type(err).__name__}: {err}, not {names}."
            + (f"\n  hint:     {hint}" if hint else "")
        ) from err
    raise CheckFailed(
        f"{what} does not hold: nothing was raised (it returned {_short(value, 120)})."
        + (f"\n  hint:     {hint}" if hint else f"\n  hint:     raise {names}(...) with a message.")
    )


@contextlib.contextmanager
def forbidden(*targets: tuple[Any, str], why: str) -> Iterator[None]:
    """While the block runs, calling any ``(owner, attribute)`` in ``targets`` fails with ``why``.

    For the rules "do not call torch.softmax" or "compute it, do not build a model"::

        with forbidden((torch, "softmax"), (torch.Tensor, "softmax"), why="Write softmax with torch.exp."):
            p = softmax(z)
    """
    missing = object()
    saved = [(owner, name, vars(owner).get(name, missing)) for owner, name in targets]

    def refuse(label: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            raise CheckFailed(f"{label} was called, and this task says not to use it.\n  hint:     {why}")

        return refused

    try:
        for owner, name, _ in saved:
            getattr(owner, name)  # an unknown attribute is the test's mistake: fail before patching
            setattr(owner, name, refuse(f"{getattr(owner, '__name__', type(owner).__name__)}.{name}"))
        yield
    finally:
        for owner, name, original in saved:
            if original is missing:  # inherited (e.g. torch.Tensor.softmax from its C base): drop the patch
                with contextlib.suppress(AttributeError):
                    delattr(owner, name)
            else:
                setattr(owner, name, original)


def _globals_of(target: Any) -> dict:
    """The module globals a function or a class's methods read (a notebook's namespace)."""
    if hasattr(target, "__globals__"):
        return target.__globals__
    for value in vars(target).values():
        func = getattr(value, "__func__", value)
        if hasattr(func, "__globals__"):
            return func.__globals__
    raise TypeError(f"using_reference: {target!r} has no Python functions whose names could be replaced")


@contextlib.contextmanager
def using_reference(target: Any, **references: Any) -> Iterator[None]:
    """Run ``target`` (the student's function or class) with earlier tasks replaced by the reference.

    ``target``'s code looks its helpers up by name in the notebook's namespace; while the block runs,
    each name in ``references`` there is bound to the course's reference implementation. So a bug in
    an earlier task (say ``scaled_dot_product_attention``) does not also fail the test of a later one
    (``MultiHeadAttention``)::

        with using_reference(MultiHeadAttention, scaled_dot_product_attention=reference.scaled_dot_product_attention):
            out = MultiHeadAttention(16, 4)(x, x, x)
    """
    namespace = _globals_of(target)
    missing = object()
    saved = {name: namespace.get(name, missing) for name in references}
    namespace.update(references)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
