"""The site builds with warnings as errors, every page executes, and no solution reaches it."""

from __future__ import annotations

import re

import pytest

from autograder.notebooks import SOLUTION_BEGIN, nbgrader_meta, read_notebook
from conftest import ASSIGNMENTS, KERNELS, ROOT, source_notebook, toc_files

# One worker builds the book once (the session fixture `site`) for every test of the group.
pytestmark = [pytest.mark.slow, KERNELS]


def test_every_toc_page_is_rendered(site):
    """Every page of _toc.yml, in both editions (the Korean one in ko/)."""
    for name in toc_files():
        assert (site / f"{name}.html").is_file(), f"{name} is in _toc.yml but was not rendered"
        assert (site / "ko" / f"{name}.html").is_file(), f"{name} has no Korean page (ko/{name}.html)"
    assert (site / "index.html").is_file() and (site / "ko" / "index.html").is_file()


def test_every_exercise_is_in_the_toc():
    files = toc_files()
    for assignment in ASSIGNMENTS:
        page = f"notebooks/{assignment}/{source_notebook(assignment).stem}"
        assert page in files, f"{page} (the student release) is missing from _toc.yml"


def test_no_solution_reaches_the_site(site):
    built = [p for p in site.rglob("*") if p.is_file()]
    assert not [p for p in built if "solutions" in p.relative_to(site).parts], "solutions/ was copied into the site"
    answers = []
    for assignment in ASSIGNMENTS:
        for cell in read_notebook(source_notebook(assignment)).cells:
            if nbgrader_meta(cell).get("solution") and SOLUTION_BEGIN in cell.source:
                body = cell.source.split(SOLUTION_BEGIN, 1)[1].split("### END SOLUTION", 1)[0]
                answers += [line.strip() for line in body.splitlines() if len(line.strip()) > 25]
    # a line the student release itself shows (scaffolding around an answer) is not a solution
    released = "".join((ROOT / "notebooks" / a).joinpath(source_notebook(a).name).read_text() for a in ASSIGNMENTS)
    answers = [a for a in answers if a not in released]
    for path in built:
        if path.suffix in (".html", ".ipynb", ".txt", ".md", ".js"):
            text = path.read_text(errors="ignore")
            assert "BEGIN HIDDEN TESTS" not in text and SOLUTION_BEGIN not in text, path
            leaked = [a for a in answers if a in text]
            assert not leaked, f"{path} shows solution code: {leaked[:3]}"


def test_chapter_zero_shows_the_corrected_table_and_computed_numbers(site):
    html = (site / "book" / "ch00-generative-ai.html").read_text()
    text = re.sub(r"<[^>]+>", " ", html)
    assert "BooksCorpus" in text and "175 B" in text and "not disclosed" in text and "OpenAI" in text
    assert "<table" in html and "fig-gpt-sizes" in html and "<img" in html
    assert re.search(r"hesitates between\s+\d+\.\d\s+words", text), "the glued perplexity is missing"


def test_exercise_page_is_the_student_release(site):
    html = (site / "notebooks" / "ch00-warmup" / "ch00-warmup.html").read_text()
    assert "YOUR CODE HERE" in html and "raise" in html and "NotImplementedError" in html


def test_pages_load_nothing_from_other_hosts(site):
    """The site works offline: scripts, styles, images and fonts all come from the site itself."""
    external = re.compile(r'<(?:script|img|link|iframe|source)\b[^>]*?\b(?:src|href)="(?:https?:)?//[^"]+"[^>]*>')
    for page in site.rglob("*.html"):
        loads = [
            tag
            for tag in external.findall(page.read_text())
            if "<link" not in tag or "stylesheet" in tag or "preload" in tag
        ]
        assert not loads, f"{page.relative_to(site)} loads from another host: {loads[:3]}"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file(), "MathJax is not served by the site"
