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

The words these add to a failure follow the notebook's language (:func:`language`): the Korean exercise
notebooks say ``gptcourse.language: ko`` in their metadata, and their failures read 기댓값 / 실제값 / 힌트.
The ``what`` and ``hint`` a test cell passes are shown as written.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import sys
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
    "language",
    "using_reference",
]

# Every word a failure adds around the test's own ``what`` and ``hint``, in each language of the course.
MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "not_right": "{what} is not what it should be.",
        "expected": "  expected: ",
        "got": "  got:      ",
        "where": "  where:    ",
        "hint": "  hint:     ",
        "returned_none": "Your function returned None: did you forget `return`?",
        "shape_of": "the shape of {what}",
        "number_of_values": "the number of values in {what}",
        "return_number": "Return a number or a tensor.",
        "values_differ": "{bad} of {n} values differ",
        "largest": "the largest difference is {largest}{at} (expected {e}, got {g})",
        "at": " at {index}",
        "nan_inf": "{nan} NaN and {inf} infinite values",
        "dtype": "dtype: expected {e}, got {g}",
        "missing_keys": "missing keys {keys}",
        "unexpected_keys": "unexpected keys {keys}",
        "at_key": "at key {key}: expected {e}, got {g}",
        "wrong_type": "the items are right but the type is {got}, not {expected}",
        "first_difference": "first difference at index {i}: expected {e}, got {g}",
        "lengths": "; lengths {e} and {g}",
        "prefix_agrees": "the first {n} items agree; expected length {e}, got {g} ({which}: {more})",
        "missing": "missing",
        "extra": "extra",
        "does_not_hold": "{what} does not hold.",
        "while_checking": "while checking {what}: {error}",
        "not_written": "this part is not written yet: replace `raise NotImplementedError()`.",
        "raised_other": "{what} does not hold: it raised {error}, not {names}.",
        "raised_nothing": "{what} does not hold: nothing was raised (it returned {value}).",
        "raise_hint": "raise {names}(...) with a message.",
        "forbidden": "{name} was called, and this task says not to use it.",
    },
    "ko": {
        "not_right": "{what}: 기대한 결과가 아닙니다.",
        "expected": "  기댓값: ",
        "got": "  실제값: ",
        "where": "  차이:   ",
        "hint": "  힌트:   ",
        "returned_none": "함수가 None을 반환했습니다. `return`을 빠뜨리지 않았나요?",
        "shape_of": "{what}의 shape",
        "number_of_values": "{what}의 값 개수",
        "return_number": "숫자나 텐서를 반환하세요.",
        "values_differ": "값 {n}개 중 {bad}개가 다릅니다",
        "largest": "가장 큰 차이는 {largest}{at} (기댓값 {e}, 실제값 {g})",
        "at": ", 위치 {index}",
        "nan_inf": "NaN {nan}개, 무한대 {inf}개",
        "dtype": "dtype: 기댓값 {e}, 실제값 {g}",
        "missing_keys": "빠진 키 {keys}",
        "unexpected_keys": "있으면 안 되는 키 {keys}",
        "at_key": "키 {key}에서: 기댓값 {e}, 실제값 {g}",
        "wrong_type": "항목은 맞지만 타입이 {expected}이(가) 아니라 {got}입니다",
        "first_difference": "처음 다른 곳은 인덱스 {i}: 기댓값 {e}, 실제값 {g}",
        "lengths": "; 길이는 기댓값 {e}, 실제값 {g}",
        "prefix_agrees": "앞의 {n}개 항목은 같습니다. 기대한 길이 {e}, 실제 길이 {g} ({which}: {more})",
        "missing": "빠진 항목",
        "extra": "남는 항목",
        "does_not_hold": "{what}: 성립하지 않습니다.",
        "while_checking": "{what}을(를) 확인하는 중 오류가 났습니다: {error}",
        "not_written": "아직 작성하지 않은 부분입니다. `raise NotImplementedError()`를 여러분의 코드로 바꾸세요.",
        "raised_other": "{what}: 성립하지 않습니다. {names}이(가) 아니라 {error}이(가) 발생했습니다.",
        "raised_nothing": "{what}: 성립하지 않습니다. 아무 예외도 발생하지 않았습니다(반환값 {value}).",
        "raise_hint": "메시지와 함께 raise {names}(...) 하세요.",
        "forbidden": "{name}이(가) 호출되었습니다. 이 과제는 이것을 쓰지 말라고 합니다.",
    },
}


def language() -> str:
    """The language of the notebook being run: ``"en"`` or ``"ko"``, from the notebook's own metadata.

    ``GPTCOURSE_LANGUAGE`` decides when set (the autograder sets it from the submission's metadata). Otherwise
    the notebook file is found the way the front end tells its kernel (JupyterLab and Notebook 7:
    ``JPY_SESSION_NAME``; VS Code: ``__vsc_ipynb_file__``; Colab: the notebook it serves) and its
    ``metadata.gptcourse.language`` is read. Never the machine's locale; English when nothing says otherwise.
    """
    chosen = os.environ.get("GPTCOURSE_LANGUAGE", "").strip().lower()
    if chosen:
        return chosen if chosen in MESSAGES else "en"
    for path in _notebook_paths():
        found = _language_of_file(path)
        if found:
            return found
    if "google.colab" in sys.modules:
        return _language_in_colab()
    return "en"


def _notebook_paths() -> list[str]:
    paths = [os.environ.get("JPY_SESSION_NAME", "")]
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    if ip is not None:
        paths += [str(ip.user_ns.get("__vsc_ipynb_file__", "")), str(ip.user_ns.get("__session__", ""))]
    return [p for p in paths if p.endswith(".ipynb")]


def _language_from_metadata(nb: Any) -> str | None:
    found = ((nb or {}).get("metadata") or {}).get("gptcourse", {}).get("language")
    return found if found in MESSAGES else None


@functools.lru_cache(maxsize=8)
def _read_language(path: str, mtime: float) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return _language_from_metadata(json.load(f))
    except (OSError, ValueError):
        return None


def _language_of_file(path: str) -> str | None:
    try:
        return _read_language(path, os.path.getmtime(path))
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _language_in_colab() -> str:
    try:
        from google.colab import _message  # type: ignore[import-not-found]

        return _language_from_metadata(_message.blocking_request("get_ipynb", timeout_sec=5)["ipynb"]) or "en"
    except Exception:  # noqa: BLE001 - no answer from the front end: English
        return "en"


def _say(message: str, **values: Any) -> str:
    """A message of :data:`MESSAGES` in the notebook's language."""
    return MESSAGES[language()][message].format(**values)


class CheckFailed(AssertionError):
    """A test of an exercise failed; the message explains why."""


def _short(value: Any, limit: int = 300) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fail(what: str, expected: Any, got: Any, hint: str, where: str = "") -> None:
    lines = [_say("not_right", what=what)]
    lines.append(_say("expected") + str(expected))
    lines.append(_say("got") + str(got))
    if where:
        lines.append(_say("where") + where)
    if got == "None" or got is None:
        hint = (hint + " " if hint else "") + _say("returned_none")
    if hint:
        lines.append(_say("hint") + hint)
    raise CheckFailed("\n".join(lines))


def _hint_line(hint: str) -> str:
    return f"\n{_say('hint')}{hint}" if hint else ""


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
        _fail(_say("shape_of", what=what), tuple(expected_shape), shape if shape is not None else _short(got), hint)


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
        _fail(_say("shape_of", what=what), exp_shape, got_shape, hint)
    exp_flat, got_flat = _as_float_list(expected), _as_float_list(got)
    if got_flat is None:
        _fail(what, _short(expected), _short(got), hint or _say("return_number"))
    assert exp_flat is not None, f"check_close: expected value {expected!r} is not numeric"
    if len(exp_flat) != len(got_flat):
        _fail(_say("number_of_values", what=what), len(exp_flat), len(got_flat), hint)
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
    where = [_say("values_differ", bad=bad, n=len(exp_flat))]
    e, g = exp_flat[worst_at], got_flat[worst_at]
    largest = "NaN" if math.isnan(g) else f"{worst:.3g}"
    at_text = _say("at", index=at) if at else ""
    where.append(_say("largest", largest=largest, at=at_text, e=f"{e:.6g}", g=f"{g:.6g}"))
    if nan or inf:
        where.append(_say("nan_inf", nan=nan, inf=inf))
    exp_dtype, got_dtype = _dtype(expected), _dtype(got)
    if exp_dtype and got_dtype and exp_dtype != got_dtype:
        where.append(_say("dtype", e=exp_dtype, g=got_dtype))
    _fail(what, _short(expected), _short(got), hint, where="; ".join(where))


def _first_difference(got: Any, expected: Any) -> str:
    """Where two sequences (or mappings) first differ, in words; "" if that cannot be said."""
    if isinstance(expected, dict) and isinstance(got, dict):
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        changed = [k for k in expected if k in got and got[k] != expected[k]]
        parts = []
        if missing:
            parts.append(_say("missing_keys", keys=_short(missing, 120)))
        if extra:
            parts.append(_say("unexpected_keys", keys=_short(extra, 120)))
        if changed:
            k = changed[0]
            parts.append(_say("at_key", key=repr(k), e=_short(expected[k], 120), g=_short(got[k], 120)))
        return "; ".join(parts)
    if not isinstance(expected, (list, tuple, str)) or not isinstance(got, (list, tuple, str)):
        return ""
    if type(got) is not type(expected) and list(got) == list(expected):
        return _say("wrong_type", got=type(got).__name__, expected=type(expected).__name__)
    for i, (e, g) in enumerate(zip(expected, got, strict=False)):  # the lengths may differ: reported below
        if e != g:
            text = _say("first_difference", i=i, e=_short(e, 120), g=_short(g, 120))
            return text + (_say("lengths", e=len(expected), g=len(got)) if len(expected) != len(got) else "")
    if len(expected) != len(got):
        n = min(len(expected), len(got))
        more = expected[n:] if len(expected) > len(got) else got[n:]
        which = _say("missing") if len(expected) > len(got) else _say("extra")
        return _say("prefix_agrees", n=n, e=len(expected), g=len(got), which=which, more=_short(more, 120))
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
        raise CheckFailed(_say("does_not_hold", what=what) + _hint_line(hint))


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
        message = _say("while_checking", what=what, error=f"{type(err).__name__}: {err}")
        message += _hint_line(_say("not_written") if isinstance(err, NotImplementedError) else hint)
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
            _say("raised_other", what=what, error=f"{type(err).__name__}: {err}", names=names) + _hint_line(hint)
        ) from err
    raise CheckFailed(
        _say("raised_nothing", what=what, value=_short(value, 120))
        + _hint_line(hint or _say("raise_hint", names=names))
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
            raise CheckFailed(_say("forbidden", name=label) + _hint_line(why))

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
