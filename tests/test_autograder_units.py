"""The autograder's pieces that need no kernel: the static scan and the redaction of messages."""

from __future__ import annotations

import pytest

from autograder.grade import redact
from autograder.guard import Guard
from autograder.scan import reference_aliases, scan

REF = ["gptcourse.ch00_lm"]


@pytest.mark.parametrize(
    "code",
    [
        "import gptcourse.ch00_lm",
        "import gptcourse.ch00_lm as ref\ndef softmax(x, dim=-1):\n    return ref.softmax(x, dim)",
        "from gptcourse.ch00_lm import softmax",
        "from gptcourse import ch00_lm",
        "from gptcourse import *",
        "import importlib\nsoftmax = importlib.import_module('gptcourse.ch00_lm').softmax",
        "softmax = __import__('gptcourse.ch00_lm', fromlist=['softmax']).softmax",
        "name = 'gptcourse.' + 'ch0' + '0_lm'\nsoftmax = __import__(name).softmax",
        "import gptcourse\nsoftmax = gptcourse.ch00_lm.softmax",
        "import sys\nsoftmax = sys.modules['gptcourse.ch00_lm'].softmax",
    ],
)
def test_scan_finds_every_reference_import(code):
    assert any(f.kind == "reference" for f in scan(code, REF)), code


@pytest.mark.parametrize(
    "code",
    [
        "def softmax(logits, dim=-1):\n    e = torch.exp(logits - logits.amax(dim, keepdim=True))\n    return e / e.sum(dim, keepdim=True)",
        "from gptcourse.checks import check_close\nimport gptcourse.ch01_seq2seq",
        "import re\npattern = re.compile('x')\nmodel.eval()",
    ],
)
def test_scan_accepts_honest_code(code):
    assert not [f for f in scan(code, REF) if f.kind in ("reference", "tamper")], scan(code, REF)


def test_scan_flags_the_instructors_alias_of_a_reference_module():
    """The imports cell binds `reference` for the tests; an answer that calls through it is not the student's code."""
    instructor = [
        "from gptcourse import ch00_lm as reference\nfrom gptcourse.ch00_lm import CountLM, tokenize",
        "import gptcourse.ch00_lm as lm\nimport math",
    ]
    aliases = reference_aliases(instructor, REF)
    assert aliases == {"reference", "lm"}  # not CountLM or tokenize: given helpers students may use
    wrapper = "def softmax(logits, dim=-1):\n    return reference.softmax(logits, dim)"
    assert [f.detail for f in scan(wrapper, REF, aliases=aliases) if f.kind == "reference"] == [
        "uses `reference`, the course package's reference module"
    ]
    assert not [f for f in scan("model = CountLM(tokenize(text), k=2)", REF, aliases=aliases) if f.kind == "reference"]


def test_scan_flags_tampering():
    for code in [
        "get_ipython().input_transformers_cleanup.append(lambda lines: [])",
        "import gc\ngc.get_objects()",
        "f = lambda: 0\nf.__globals__['x'] = 1",
        "import ctypes",
    ]:
        assert any(f.kind == "tamper" for f in scan(code, REF)), code


def test_scan_flags_attribute_access_by_dunder_or_computed_names():
    for code in [
        'setattr(check_close, "__co" + "de__", None)',
        "name = 'x'\nsetattr(model, name, 1)",
        'getattr(check_close, "__kwdefaults__")',
        'delattr(check_close, f"__{part}__")',
        "vars(check_close)['x'] = 1",
        "check_close.__dict__.clear()",
        "check_close.__defaults__ = (1e9,)",
    ]:
        assert any(f.kind == "tamper" for f in scan(code, REF)), code
    for code in ['getattr(model, "weight")', 'setattr(args, "lr", 0.1)', "print(vars())"]:
        assert not [f for f in scan(code, REF) if f.kind == "tamper"], code


def test_guard_reports_restored_helpers():
    text, changes = Guard.take_restored("x\n\u27e6grader-restored check_close.__code__\u27e7\nmore\n")
    assert changes == ["check_close.__code__"] and text == "x\nmore\n"


def test_redaction_hides_hidden_lines():
    hidden = ["check_close(softmax(x, dim=0), torch.softmax(x, dim=0), what=\"secret\","]
    assert "torch.softmax(x, dim=0)" not in redact("leak: " + hidden[0] + " rest", hidden)
    assert "[hidden test]" in redact("leak: " + hidden[0], hidden)


def test_guard_marker_is_checked():
    guard = Guard(REF)
    good = guard.marker("test_a")
    text, found = guard.take_marker("hello\n" + good + "\n", "test_a")
    assert found and text == "hello\n"
    forged = good.replace(good.split()[-1][:4], "0000")
    _, found = guard.take_marker(forged + "\n", "test_a")
    assert not found
    _, found = guard.take_marker(good + "\n", "test_b")  # a marker of another test proves nothing
    assert not found
    assert Guard(REF).marker("test_a") != good  # a new secret every run


def test_a_tasks_split_test_cells_check_only_that_tasks_answers(tmp_path):
    """Test cells directly below one another share their answers; a reference import voids only that task."""
    from autograder.assignment import prepare

    tests = {t.grade_id: t.solutions for t in prepare("ch04-gpt1", cache=tmp_path, light=True).tests}
    assert tests["test_block"] == tests["test_block_causal"] == tests["test_block_dropout"] == ["block"]
    assert tests["test_gpt1_init"] == ["gpt1"] and tests["test_transforms_mc"] == ["transforms"]


def _feedback_result(language: str | None) -> tuple[dict, dict]:
    result = {
        "student": "s1",
        "status": "partial",
        "reason": "points withheld for t2: the answer uses the reference implementation",
        "points": 2.0,
        "tests": [
            {"grade_id": "t1", "points": 2.0, "max_points": 2.0, "state": "passed", "message": ""},
            {"grade_id": "t2", "points": 0.0, "max_points": 3.0, "state": "withheld", "message": "no points: ..."},
        ],
        "notes": [],
        "answers": {"a1": ""},
    }
    if language:
        result["language"] = language
    info = {
        "assignment": "ch00-warmup",
        "max_points": 5.0,
        "tests": [{"grade_id": "t1", "solutions": ["a1"], "visible_source": "assert True", "hidden_count": 2}],
    }
    return result, info


def test_a_korean_submissions_feedback_page_is_in_korean():
    """The feedback page follows the submission's language; an English one (or one graded before results carried
    a language) keeps the English page, word for word."""
    import html

    from autograder.report import STATUS_TEXT, STATUS_TEXT_KO, feedback_html

    assert set(STATUS_TEXT_KO) == set(STATUS_TEXT), "every status needs its Korean explanation"
    korean = html.unescape(feedback_html(*_feedback_result("ko")))
    for words in ('<html lang="ko">', "s1의 채점 피드백", "점수: 2 / 5", STATUS_TEXT_KO["partial"], "통과", "점수 없음",
                  "테스트와 나의 답", "나의 답 (a1)", "(답 없음)", "공개된 테스트", "숨은 테스트 2줄", "영어로 적혀"):  # fmt: skip
        assert words in korean, f"the Korean feedback page lacks {words!r}"
    for words in ("feedback for", "Score:", "The visible tests", STATUS_TEXT["partial"]):
        assert words not in korean, f"the Korean feedback page still says {words!r}"
    for language in ("en", None, "fr"):  # no language (graded before results carried one) or an unknown one
        english = html.unescape(feedback_html(*_feedback_result(language)))
        for words in ('<html lang="en">', "ch00-warmup: feedback for s1", "Score: 2 / 5", STATUS_TEXT["partial"],
                      "<th>test</th>", "passed", "withheld", "(no answer)", "hidden tests, not shown"):  # fmt: skip
            assert words in english, f"the English feedback page lacks {words!r}"
        assert not any("\uac00" <= ch <= "\ud7a3" for ch in english), "the English page has Hangul"
