"""Every chapter page shows the code it introduces: each public function and class of the chapter's modules
that is not an exercise appears on the page through ``literalinclude`` with ``:pyobject:`` (so the page can
never drift from the package), and no exercise answer does (the default site gives no answer away)."""

from __future__ import annotations

import ast
import importlib
import inspect
import re

import pytest

from autograder.notebooks import nbgrader_meta, read_notebook, strip_markers
from conftest import ROOT

#: page -> (its exercise notebook, the modules whose code the page introduces)
PAGES = {
    "ch00-generative-ai": ("ch00-warmup", ["gptcourse.ch00_lm"]),
    "ch01-seq2seq": ("ch01-seq2seq", ["gptcourse.ch01_seq2seq", "gptcourse.ch01_evaluation", "gptcourse.training"]),
    "ch02-attention": ("ch02-attention", ["gptcourse.ch02_attention"]),
    "ch03-transformer": ("ch03-transformer", ["gptcourse.ch03_transformer"]),
    "ch04-gpt1": (
        "ch04-gpt1",
        [
            "gptcourse.ch04_gpt1",
            "gptcourse.ch04_bpe",
            "gptcourse.ch04_pretraining",
            "gptcourse.ch04_finetune",
            "gptcourse.saving",
        ],
    ),
    "ch05-gpt2": (
        "ch05-gpt2",
        [
            "gptcourse.ch05_gpt2",
            "gptcourse.ch05_tied_loss",
            "gptcourse.ch05_generation",
            "gptcourse.ch05_checkpoints",
            "gptcourse.ch05_bpe",
            "gptcourse.ch05_experiments",
        ],
    ),
    "ch06-zeroshot": (
        "ch06-zeroshot",
        ["gptcourse.ch06_zeroshot", "gptcourse.ch06_evaluation", "gptcourse.ch06_models"],
    ),
}

#: Pieces that are not exercises but would give one away: never shown on the default site, each with the
#: exercise it gives away.
SPOILERS = {
    "ch05-gpt2": {"course_to_hf_state_dict": "the hf_to_course_key exercise, run in reverse"},
    "ch06-zeroshot": {"cloze_requests": "the first half of the cloze_choice exercise"},
}

INCLUDE = re.compile(r"^(?:```|:::)\{literalinclude\}\s+(?P<path>\S+)\s*\n(?P<options>(?::[\w-]+:.*\n)*)", re.M)


def shown(page: str) -> set[tuple[str, str]]:
    """(module file relative to the repository, object) for every ``literalinclude`` with ``:pyobject:``."""
    text = (ROOT / "book" / f"{page}.md").read_text()
    found = set()
    for match in INCLUDE.finditer(text):
        options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", match["options"], re.M))
        if "pyobject" in options:
            path = (ROOT / "book" / match["path"]).resolve().relative_to(ROOT).as_posix()
            found.add((path, options["pyobject"].strip()))
    return found


def exercises(assignment: str) -> set[str]:
    """The names the exercise's answer cells define (the student writes them)."""
    nb = read_notebook(ROOT / "solutions" / assignment / f"{assignment}.ipynb")
    names = set()
    for cell in nb.cells:
        if cell.cell_type == "code" and nbgrader_meta(cell).get("solution"):
            tree = ast.parse(strip_markers(cell.source))
            names |= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    return names


def introduced(modules: list[str]) -> set[tuple[str, str]]:
    """(module file, name) of every public function and class the modules define."""
    found = set()
    for name in modules:
        module = importlib.import_module(name)
        path = module.__file__.removeprefix(str(ROOT) + "/")
        for attr, value in vars(module).items():
            public = not attr.startswith("_") and (inspect.isfunction(value) or inspect.isclass(value))
            if public and getattr(value, "__module__", None) == name:
                found.add((path, attr))
    return found


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_page_shows_the_code_it_introduces(page):
    assignment, modules = PAGES[page]
    answers = exercises(assignment) | set(SPOILERS.get(page, {}))
    missing = sorted(f"{path}: {name}" for path, name in introduced(modules) - shown(page) if name not in answers)
    assert not missing, (
        f"book/{page}.md does not show {len(missing)} piece(s) of its code; add a literalinclude with :pyobject: "
        "next to the prose that explains each (or in the page's closing code section):\n  " + "\n  ".join(missing)
    )


@pytest.mark.parametrize("page", sorted(PAGES))
def test_the_page_shows_no_exercise_answer(page):
    assignment, _ = PAGES[page]
    answers = exercises(assignment) | set(SPOILERS.get(page, {}))
    leaked = sorted(f"{path}: {name}" for path, name in shown(page) if name in answers or name.split(".")[0] in answers)
    assert not leaked, f"book/{page}.md shows the answer of an exercise: {leaked}; show its interface and algorithm"


def test_the_include_parser_reads_both_fences():
    text = "```{literalinclude} ../gptcourse/ch05_gpt2.py\n:pyobject: GPT2\n:language: python\n```\n"
    assert INCLUDE.search(text)["path"] == "../gptcourse/ch05_gpt2.py"
    assert ":pyobject: GPT2" in INCLUDE.search(text)["options"]
