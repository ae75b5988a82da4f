"""The Korean edition (book/ko/): every page and notebook translated, faithful to its English source, in the
term list's words, up to date with the English; the Korean notebooks grade exactly like the English ones, and
their tests speak Korean. (The built Korean site is tested in tests/test_site.py.)
"""

from __future__ import annotations

import contextlib
import copy
import csv
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest
import yaml

from autograder import translation as tr
from autograder.notebooks import fill_solutions, read_notebook
from autograder.release import KOREAN, korean_release
from conftest import ASSIGNMENTS, KERNELS, ROOT, release_notebook, source_notebook

PAGES = tr.pages(ROOT)
TERMS = tr.load_terms(ROOT)


# ---------------------------------------------------------------------------------------------
# The sources


@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_translated_faithfully(page):
    """book/ko/<page>.md exists, with the English page's code cells, glue keys, labels, equations, targets."""
    korean = ROOT / tr.KO / f"{page}.md"
    assert korean.is_file(), f"{korean.relative_to(ROOT)} is missing: translate book/{page}.md (book/ko/README.md)"
    if page == "glossary":  # generated from terms.yml: its own test below
        assert tr.GLOSSARY_MARK in korean.read_text(encoding="utf-8")
        return
    problems = tr.page_problems(ROOT / "book" / f"{page}.md", korean)
    assert not problems, f"{korean.relative_to(ROOT)}:\n" + "\n".join(f"  - {p}" for p in problems)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_follows_the_term_list(page):
    korean = ROOT / tr.KO / f"{page}.md"
    nb = tr.read_page(korean)
    text = "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown") + tr._captions(nb)
    problems = tr.term_problems(text, TERMS)
    targets = {t.target for t in TERMS if t.glossary}
    problems += [
        f"{{term}} target '{t}' is not in the Korean glossary" for t in tr.term_targets(text) if t not in targets
    ]
    assert not problems, f"{korean.relative_to(ROOT)}:\n" + "\n".join(f"  - {p}" for p in problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_notebook_is_translated_faithfully_in_the_term_list(assignment):
    problems = tr.notebook_problems(assignment, ROOT)
    translation = tr.notebook_translation(assignment, ROOT) or {}
    problems += tr.term_problems("\n\n".join(translation.values()), TERMS)
    assert not problems, f"{tr.KO}/notebooks/{assignment}.yml:\n" + "\n".join(f"  - {p}" for p in problems)


def test_translations_follow_the_english_they_were_made_from():
    """No English page or notebook cell changed since its translation was stamped (book/ko/translated-from.yml)."""
    changed = tr.stale(ROOT)
    assert not changed, "\n".join(changed)


def test_the_glossaries_follow_the_term_list():
    """The English glossary's Korean names are the term list's; every glossary entry has a Korean definition."""
    english = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    heads = [line for line in english.split("```{glossary}", 1)[1].splitlines() if line and not line[0].isspace()]
    heads = [h for h in heads if not h.startswith("```")]
    by_glossary = {t.glossary: t for t in TERMS if t.glossary}
    problems = []
    for head in heads:
        name, _, korean = head.partition(" (")
        term = by_glossary.get(name)
        if term is None:
            problems.append(f"book/glossary.md: '{name}' has no entry with `glossary: {name}` in terms.yml")
        elif term.ko not in korean:
            problems.append(f"book/glossary.md: '{head}' does not name the term list's '{term.ko}'")
        for t in TERMS:
            problems += [f"book/glossary.md: '{v}' in '{head}' (write '{t.ko}')" for v in t.avoid if v in korean]
    names = {h.partition(" (")[0] for h in heads}
    problems += [f"terms.yml: `glossary: {g}` is not a term of book/glossary.md" for g in by_glossary if g not in names]
    problems += [f"terms.yml: '{t.ko}' has no definition" for t in TERMS if t.glossary and not t.definition]
    assert not problems, "\n".join(problems)


def test_the_term_list_is_consistent():
    """One entry per Korean term; no term is another's variant to avoid; every entry has an English form."""
    kos = [t.ko for t in TERMS]
    assert len(kos) == len(set(kos)), "a Korean term is listed twice"
    for t in TERMS:
        assert t.en, f"{t.ko}: no English form"
        for u in TERMS:
            assert u.ko not in t.avoid, f"'{u.ko}' is a chosen term and a variant to avoid (of '{t.ko}')"


# ---------------------------------------------------------------------------------------------
# The checks can fail


@pytest.fixture
def course(tmp_path):
    """A copy of what the checks read: the table of contents, the pages, the Korean sources, the notebooks."""
    for name in ("_toc.yml",):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("_*"))
    shutil.copytree(ROOT / "solutions", tmp_path / "solutions")
    return tmp_path


def test_parity_catches_a_changed_code_cell_a_lost_glue_and_a_lost_equation(course):
    korean = course / tr.KO / "ch01-seq2seq.md"
    english = course / "book" / "ch01-seq2seq.md"
    assert tr.page_problems(english, korean) == []
    text = korean.read_text(encoding="utf-8")
    code = text.replace("set_seed(0)", "set_seed(1)", 1)
    assert any("code cell 1 differs" in p for p in _problems(english, korean, code))
    glue = text.replace("{glue:text}`final_loss:.2f`", "0.42", 1)
    assert any(p.startswith("glue: missing") for p in _problems(english, korean, glue))
    nb = tr.read_page(korean)
    first_math = next(m for c in nb.cells if c.cell_type == "markdown" for m in tr._DISPLAY_MATH.findall(c.source))
    math = text.replace(first_math, first_math.replace("c", "C"), 1)
    assert any(p.startswith("display math") for p in _problems(english, korean, math))
    caption = text.replace("caption: |\n", "caption: |\n      바뀐 캡션.\n", 1)
    assert _problems(english, korean, caption) == [], "a translated caption is allowed"


def _problems(english: Path, korean: Path, text: str) -> list[str]:
    korean.write_text(text, encoding="utf-8")
    return tr.page_problems(english, korean)


def test_the_term_check_catches_a_variant_and_a_first_use_without_english():
    assert tr.term_problems("트랜스포머(Transformer)는 어텐션(attention)만 씁니다.", TERMS) == []
    assert any("'변압기' appears" in p for p in tr.term_problems("변압기는 어텐션(attention)만 씁니다.", TERMS))
    assert any("first use of '어텐션'" in p for p in tr.term_problems("어텐션은 어텐션(attention)입니다.", TERMS))
    # a term inside a longer term is not its first use; headings, code and math do not count
    assert tr.term_problems("셀프 어텐션(self-attention)과 어텐션(attention)", TERMS) == []
    assert tr.term_problems("# 어텐션\n\n`어텐션` $어텐션$ 어텐션(attention)", TERMS) == []


def test_a_changed_english_page_or_cell_makes_its_translation_stale(course):
    keys = list(tr.sources(course))
    tr.stamp(["book/ch01-seq2seq.md", f"solutions/{ASSIGNMENTS[0]}/{source_notebook(ASSIGNMENTS[0]).name}"], course)
    mine = ("book/ch01-seq2seq.md:", f"solutions/{ASSIGNMENTS[0]}/")
    assert [line for line in tr.stale(course) if line.startswith(mine)] == []
    page = course / "book" / "ch01-seq2seq.md"
    page.write_text(page.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    found = [line for line in tr.stale(course) if line.startswith("book/ch01-seq2seq.md:")]
    assert found and "git diff" in found[0] and "HEAD:book/ch01-seq2seq.md" in found[0], found
    path = course / "solutions" / ASSIGNMENTS[0] / source_notebook(ASSIGNMENTS[0]).name
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source += "\n\nOne more sentence."
    nbformat.write(nb, path)
    assert any(line.startswith(f"solutions/{ASSIGNMENTS[0]}") and f"#{cell.id}" in line for line in tr.stale(course))
    assert len(keys) == len(tr.sources(course))


# ---------------------------------------------------------------------------------------------
# The Korean notebooks


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_korean_notebook_is_the_english_release_in_korean(assignment, tmp_path):
    """notebooks/ko/<a>/<a>.ipynb is generated (make release) from the English release: the same code cells,
    tests and grade_ids, Korean markdown, nbgrader checksums that hold, and ``gptcourse.language: ko``."""
    from nbgrader.utils import compute_checksum

    english = release_notebook(assignment)
    shipped = ROOT / "notebooks" / KOREAN / assignment / english.name
    assert shipped.is_file(), f"{shipped.relative_to(ROOT)} is missing: run `make release`"
    shutil.copytree(english.parent, tmp_path / assignment)
    (fresh,) = korean_release([assignment], tmp_path, ROOT)
    assert fresh.read_text(encoding="utf-8") == shipped.read_text(encoding="utf-8"), (
        f"{shipped.relative_to(ROOT)} is stale: run `make release`"
    )
    en, ko = read_notebook(english), read_notebook(shipped)
    assert [c.cell_type for c in en.cells] == [c.cell_type for c in ko.cells]
    for e, k in zip(en.cells, ko.cells, strict=True):
        assert e.id == k.id
        if e.cell_type == "code":
            assert (e.source, e.metadata) == (k.source, k.metadata), f"code cell {e.id} differs"
        else:
            assert e.source != k.source, f"markdown cell {e.id} is not translated"
        grading = k.metadata.get("nbgrader", {})
        if grading.get("checksum"):
            assert grading["checksum"] == compute_checksum(k), f"cell {k.id}: stale nbgrader checksum"
    assert ko.metadata["gptcourse"]["language"] == "ko"
    assert "language" not in en.metadata.get("gptcourse", {})


def test_checks_speak_the_notebooks_language(monkeypatch, tmp_path):
    """gptcourse.checks reads the language from the notebook's metadata (not the locale); English by default."""
    from gptcourse import checks

    monkeypatch.delenv("GPTCOURSE_LANGUAGE", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    assert checks.language() == "en", "the machine's locale must not decide"
    korean = tmp_path / "ko.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"gptcourse": {"language": "ko"}})
    nbformat.write(nb, korean)
    monkeypatch.setenv("JPY_SESSION_NAME", str(korean))  # what JupyterLab tells the kernel
    assert checks.language() == "ko"
    with pytest.raises(checks.CheckFailed) as failed:
        checks.check_equal([1, 2], [1, 2, 3], what="tokens", hint="Keep every token.")
    assert (
        "기댓값" in str(failed.value) and "빠진 항목" in str(failed.value) and "Keep every token." in str(failed.value)
    )
    monkeypatch.setenv("GPTCOURSE_LANGUAGE", "en")  # the grader's setting wins
    with pytest.raises(checks.CheckFailed) as failed:
        checks.check_equal([1, 2], [1, 2, 3], what="tokens")
    assert "expected" in str(failed.value)
    for language in checks.MESSAGES:
        assert checks.MESSAGES[language].keys() == checks.MESSAGES["en"].keys(), f"{language}: messages missing"


@pytest.mark.slow
@KERNELS
def test_a_korean_notebook_fails_in_korean_in_jupyter(tmp_path):
    """The Korean release run as JupyterLab runs it (the kernel told the notebook's path): Korean failures."""
    import os

    from nbclient import NotebookClient

    assignment = ASSIGNMENTS[0]
    for language, words in (("ko", "아직 작성하지 않은 부분입니다"), ("en", "this part is not written yet")):
        folder = ROOT / "notebooks" / (KOREAN if language == "ko" else "") / assignment
        path = tmp_path / language / release_notebook(assignment).name
        path.parent.mkdir()
        shutil.copy(folder / path.name, path)
        nb = read_notebook(path)
        env = {k: v for k, v in os.environ.items() if k != "GPTCOURSE_LANGUAGE"}
        client = NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(path.parent)}})
        client.execute(env={**env, "JPY_SESSION_NAME": str(path)})  # the kernel's environment
        text = "".join(
            "\n".join(o.get("traceback", [])) + o.get("evalue", "")
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
        )
        assert words in text, f"the {language} notebook's failures do not say {words!r}"


# ---------------------------------------------------------------------------------------------
# One grading command, both languages


def _half_done(assignment: str) -> nbformat.NotebookNode:
    """The release with the first half of its answers written (the reference's), the rest left undone."""
    release = read_notebook(release_notebook(assignment))
    done = fill_solutions(release, read_notebook(source_notebook(assignment)))
    answers = [
        c.metadata["nbgrader"]["grade_id"] for c in release.cells if c.metadata.get("nbgrader", {}).get("solution")
    ]
    undone = set(answers[(len(answers) + 1) // 2 :])
    out = copy.deepcopy(done)
    for cell, blank in zip(out.cells, release.cells, strict=True):
        if cell.metadata.get("nbgrader", {}).get("grade_id") in undone:
            cell.source = blank.source
    return out


@pytest.mark.slow
@KERNELS
def test_korean_and_english_submissions_grade_identically(tmp_path):
    """Every assignment: an English and a Korean student who wrote the same code get the same points for every
    test, in one grades.csv and one gradebook; each one's failures and feedback page are in their notebook's
    language."""
    import json

    from autograder import __main__ as cli
    from autograder.translation import korean_notebook

    failures = []
    for assignment in ASSIGNMENTS:
        english = _half_done(assignment)
        korean = korean_notebook(english, assignment, ROOT)
        submitted = tmp_path / assignment / "submitted"
        for student, nb in (("english", english), ("korean", korean)):
            (submitted / student / assignment).mkdir(parents=True)
            nbformat.write(nb, submitted / student / assignment / release_notebook(assignment).name)
        out = tmp_path / assignment / "out"
        code = cli.main(
            ["grade", assignment, str(submitted), "--out", str(out), "--jobs", "2", "--no-progress",
             "--cache", str(tmp_path / "cache"), "--cell-timeout", "300", "--timeout", "900"]
        )  # fmt: skip
        assert code == 0, f"{assignment}: the grader failed"
        rows = {r["student"]: r for r in csv.DictReader(open(out / "grades.csv", encoding="utf-8"))}
        en, ko = ({k: v for k, v in rows[s].items() if k != "student"} for s in ("english", "korean"))
        if en != ko:
            failures.append(f"{assignment}: {en} != {ko}")
        if not 0 < float(en["total"]) < float(en["max"]):
            failures.append(f"{assignment}: a half-done notebook scored {en['total']} of {en['max']}")
        results = {r["student"]: r for r in json.loads((out / "grades.json").read_text(encoding="utf-8"))["students"]}
        said = {s: " ".join(t.get("message") or "" for t in results[s]["tests"]) for s in results}
        if "not written yet" not in said["english"] or "아직 작성하지 않은 부분입니다" not in said["korean"]:
            failures.append(f"{assignment}: the failures are not in each notebook's language: {said}")
        pages = {s: (out / "feedback" / f"{s}.html").read_text(encoding="utf-8") for s in ("english", "korean")}
        if '<html lang="ko">' not in pages["korean"] or "채점 피드백" not in pages["korean"]:
            failures.append(f"{assignment}: the Korean student's feedback page is not in Korean")
        if '<html lang="en">' not in pages["english"] or "feedback for english" not in pages["english"]:
            failures.append(f"{assignment}: the English student's feedback page is not in English")
        with contextlib.closing(sqlite3.connect(out / "gradebook.db")) as db:
            students = {row[0] for row in db.execute("select id from student")}
        if students != {"english", "korean"}:
            failures.append(f"{assignment}: the gradebook holds {students}")
    assert not failures, "\n".join(failures)


def test_the_term_list_file_is_valid_yaml_with_the_documented_keys():
    data = yaml.safe_load((ROOT / tr.KO / "terms.yml").read_text(encoding="utf-8"))
    allowed = {"ko", "en", "avoid", "allow", "glossary", "definition", "first_use"}
    for entry in data["terms"]:
        assert set(entry) <= allowed, f"{entry.get('ko')}: unknown keys {set(entry) - allowed}"


def test_korean_pages_launch_and_link_the_korean_sources():
    """On the Korean site, Colab/Binder open notebooks/ko/... in the repository; every page links to its twin."""
    import sys
    from types import SimpleNamespace

    sys.path.insert(0, str(ROOT / "book" / "_ext"))
    import course_site

    korean = SimpleNamespace(config=SimpleNamespace(language="ko"))
    english = SimpleNamespace(config=SimpleNamespace(language="en"))
    colab = "https://colab.research.google.com/github/o/r/blob/main/notebooks/ch01-seq2seq/ch01-seq2seq.ipynb"
    context = {"header_buttons": [{"type": "group", "buttons": [{"type": "link", "url": colab}]}]}
    course_site.korean_launch_buttons(korean, "notebooks/ch01-seq2seq/ch01-seq2seq", "page.html", context, None)
    assert context["header_buttons"][0]["buttons"][0]["url"].endswith("/notebooks/ko/ch01-seq2seq/ch01-seq2seq.ipynb")
    untouched = {"header_buttons": [{"type": "group", "buttons": [{"type": "link", "url": colab}]}]}
    course_site.korean_launch_buttons(english, "notebooks/ch01-seq2seq/ch01-seq2seq", "page.html", untouched, None)
    assert untouched["header_buttons"][0]["buttons"][0]["url"] == colab
    assert course_site.other_language(english, "book/ch01-seq2seq") == ("../ko/book/ch01-seq2seq.html", "ko", "한국어")
    assert course_site.other_language(korean, "book/ch01-seq2seq") == ("../../book/ch01-seq2seq.html", "en", "English")
    assert course_site.other_language(english, "search")[0] == "ko/search.html"
    assert course_site.korean_stem("어텐션은") == course_site.korean_stem("어텐션") == "어텐션"
