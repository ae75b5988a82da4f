"""gptcourse.checks: the assertions of the exercise tests say what, where, and how to fix it."""

from __future__ import annotations

import math

import pytest
import torch

from gptcourse import checks
from gptcourse.checks import CheckFailed


def _message(call) -> str:
    with pytest.raises(CheckFailed) as err:
        call()
    return str(err.value)


def test_tensor_mismatch_says_where_and_how_much():
    expected = torch.zeros(2, 3, 4)
    got = expected.clone()
    got[1, 2, 0] = 0.5
    got[0, 0, 1] = 0.1
    text = _message(lambda: checks.check_close(got, expected, what="the output", hint="scale it"))
    assert "2 of 24 values differ" in text
    assert "largest difference is 0.5 at [1, 2, 0] (expected 0, got 0.5)" in text
    assert "hint:     scale it" in text and "NaN" not in text


def test_nan_inf_and_dtype_are_counted():
    got = torch.tensor([float("nan"), float("inf"), 1.0], dtype=torch.float32)
    expected = torch.tensor([0.5, 0.5, 1.0], dtype=torch.float64)
    text = _message(lambda: checks.check_close(got, expected, what="p"))
    assert "2 of 3 values differ" in text and "largest difference is NaN at [0]" in text
    assert "1 NaN and 1 infinite values" in text and "dtype: expected float64, got float32" in text


def test_scalars_and_shapes():
    text = _message(lambda: checks.check_close(1.5, 1.0, what="the loss"))
    assert "largest difference is 0.5 (expected 1, got 1.5)" in text
    assert "shape" in _message(lambda: checks.check_close(torch.zeros(2, 3), torch.zeros(3, 2), what="x"))
    assert "returned None" in _message(lambda: checks.check_close(None, 1.0, what="f()"))
    checks.check_close([1.0, 2.0], torch.tensor([1.0, 2.0 + 1e-9]), what="ok")
    checks.check_close(torch.tensor([-math.inf, 1.0]), [-math.inf, 1.0], what="-inf equals -inf")


def test_sequences_name_the_first_difference():
    text = _message(lambda: checks.check_equal([1, 2, 3, 4, 5], [1, 2, 9, 4, 5], what="tokens"))
    assert "first difference at index 2: expected 9, got 3" in text
    text = _message(lambda: checks.check_equal([1, 2], [1, 2, 3, 4], what="tokens"))
    assert "the first 2 items agree; expected length 4, got 2 (missing: [3, 4])" in text
    text = _message(lambda: checks.check_equal(["a", "b"], ("a", "b"), what="window"))
    assert "the items are right but the type is list, not tuple" in text
    text = _message(lambda: checks.check_equal({"a": 1, "c": 3}, {"a": 2, "b": 2}, what="map"))
    assert "missing keys ['b']" in text and "unexpected keys ['c']" in text and "at key 'a': expected 2, got 1" in text
    long = list(range(500))
    text = _message(lambda: checks.check_equal(long[:400] + [-1] + long[401:], long, what="ids"))
    assert "index 400: expected 400, got -1" in text  # found although the printed lists are cut
    assert "expected: ('a',)" in _message(lambda: checks.check_equal(("b",), ("a",), what="window"))


def test_checking_names_what_was_being_checked():
    def broken():
        return {}["attn"]

    with pytest.raises(CheckFailed) as err:
        with checks.checking("the loader with GPT-2's names", hint="Map every name."):
            broken()
    text = str(err.value)
    assert text.startswith("while checking the loader with GPT-2's names: KeyError: 'attn'")
    assert "hint:     Map every name." in text and isinstance(err.value.__cause__, KeyError)
    with pytest.raises(CheckFailed, match="not written yet"):
        with checks.checking("softmax"):
            raise NotImplementedError()
    with pytest.raises(CheckFailed, match="^original$"):  # a failed check passes through unchanged
        with checks.checking("x"):
            raise CheckFailed("original")


def test_check_raises():
    def picky(n):
        if n % 2:
            raise ValueError("odd")
        return n

    assert isinstance(checks.check_raises(ValueError, lambda: picky(3), what="picky(3) raises"), ValueError)
    assert "nothing was raised (it returned 4)" in _message(
        lambda: checks.check_raises(ValueError, lambda: picky(4), what="picky(4) raises ValueError")
    )
    assert "it raised KeyError: 'x', not ValueError" in _message(
        lambda: checks.check_raises(ValueError, lambda: {}["x"], what="lookup raises ValueError")
    )


def test_forbidden_refuses_and_restores():
    z = torch.tensor([1.0, 2.0])
    original = torch.softmax
    with pytest.raises(CheckFailed, match="torch.softmax was called.*\n.*write it with exp"):
        with checks.forbidden((torch, "softmax"), (torch.Tensor, "softmax"), why="write it with exp"):
            torch.softmax(z, -1)
    with pytest.raises(CheckFailed, match="Tensor.softmax was called"):
        with checks.forbidden((torch.Tensor, "softmax"), why="no"):
            z.softmax(-1)
    assert torch.softmax is original and "softmax" not in vars(torch.Tensor)
    torch.testing.assert_close(z.softmax(-1), original(z, -1))


def test_using_reference_rebinds_names_in_the_students_namespace():
    namespace: dict = {}
    exec(
        "def helper(x):\n    return x + 100\n\ndef task(x):\n    return helper(x) * 2\n\n"
        "class Layer:\n    def run(self, x):\n        return helper(x)\n",
        namespace,
    )
    task, layer = namespace["task"], namespace["Layer"]()
    with checks.using_reference(namespace["task"], helper=lambda x: x + 1):
        assert task(1) == 4
    with checks.using_reference(namespace["Layer"], helper=lambda x: -x, extra=1):
        assert layer.run(3) == -3 and namespace["extra"] == 1
    assert task(1) == 202 and layer.run(3) == 103 and "extra" not in namespace
