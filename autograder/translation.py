"""The Korean edition's sources, held to the English ones (see book/ko/README.md).

* a Korean page ``book/ko/<page>.md`` has the code cells of ``book/<page>.md`` (source and options; only a
  figure's alt text and caption are prose and translated), the same ``{glue}`` keys, labels, equations,
  cross-reference targets and ``literalinclude``s (:func:`page_problems`);
* a notebook translation ``book/ko/notebooks/<assignment>.yml`` gives every markdown cell of the source
  notebook, by cell id, in Korean (:func:`notebook_problems`); :func:`korean_notebook` applies it;
* every Korean text follows ``book/ko/terms.yml`` (:func:`term_problems`);
* ``book/ko/translated-from.yml`` records what each translation was made from (the git blob id of the English
  page, or of each English markdown cell): :func:`stale` names what changed since.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import yaml

from .release import ROOT, assignments

KO = "book/ko"
STAMPS = f"{KO}/translated-from.yml"
GLOSSARY_MARK = "<!-- glossary: generated from terms.yml -->"
PROSE_OPTIONS = (("mystnb", "image", "alt"), ("mystnb", "figure", "caption"))  # a figure cell's translatable text


# --- the term list ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One concept of ``terms.yml``: the Korean term ``ko``, its English forms ``en``, the variants to ``avoid``."""

    ko: str
    en: tuple[str, ...]
    avoid: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()  # longer words that contain a variant to avoid and are fine (하이퍼파라미터)
    glossary: str | None = None  # the English glossary's term this entry translates
    definition: str | None = None  # the Korean glossary's definition
    first_use: bool = True  # the first use on a page is written 한국어(English)

    @property
    def target(self) -> str:
        """The Korean glossary's term: ``어텐션(attention)``, what a ``{term}`` role on a Korean page points to."""
        return f"{self.ko}({self.en[0]})"


def load_terms(root: Path = ROOT) -> list[Term]:
    data = yaml.safe_load((root / KO / "terms.yml").read_text(encoding="utf-8"))
    terms = []
    for entry in data["terms"]:
        terms.append(
            Term(
                ko=entry["ko"],
                en=tuple(entry["en"]),
                avoid=tuple(entry.get("avoid") or ()),
                allow=tuple(entry.get("allow") or ()),
                glossary=entry.get("glossary"),
                definition=(entry.get("definition") or "").strip() or None,
                first_use=entry.get("first_use", True),
            )
        )
    return terms


# --- reading a MyST page ------------------------------------------------------------------------------------------


def read_page(path: Path) -> nbformat.NotebookNode:
    """A MyST page as myst-nb reads it: a notebook of markdown and code cells."""
    from myst_nb.core.read import read_myst_markdown_notebook

    return read_myst_markdown_notebook(path.read_text(encoding="utf-8"))


def code_cell_key(cell: nbformat.NotebookNode) -> tuple[str, str]:
    """What must be equal in both languages: the code and every option except a figure's alt text and caption."""
    meta = copy.deepcopy(dict(cell.metadata))
    for path in PROSE_OPTIONS:
        node = meta
        for key in path[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return cell.source, json.dumps(meta, sort_keys=True, ensure_ascii=False)


_ROLE = re.compile(r"\{(doc|ref|numref|eq|term)\}`([^`]*)`")
_GLUE_ROLE = re.compile(r"\{(glue(?::\w+)?)\}`([^`]*)`")
_GLUE_DIRECTIVE = re.compile(r"^[`:]{3,}\{(glue(?::\w+)?)\}\s*(\S+)", re.M)
_DIRECTIVE = re.compile(r"^([`:]{3,})\{([\w:-]+)\}(.*)$", re.M)
_OPTION = re.compile(
    r"^\s*:(pyobject|lines|name|start-after|end-before|language|class|label|emphasize-lines):\s*(.*)$", re.M
)
_LABEL = re.compile(r"^\((\S+)\)=\s*$", re.M)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\$)((?:[^$\n]|\n(?![ \t]*\n))+?)(?<!\\)\$")  # may wrap a line
_INLINE_CODE = re.compile(r"``?[^`\n]+?``?")
_ANY_ROLE = re.compile(r"\{[\w:-]+\}`[^`]*`")
_KOREAN_TWIN = re.compile(r"_ko\b(?=:|$)")
_HEADING = re.compile(r"^#{1,6}\s.*$", re.M)
_ARGUMENT_DIRECTIVES = {"literalinclude", "math", "image", "figure", "include", "glossary", "code-block"}


def structure(markdown: str) -> dict[str, Counter]:
    """The parts of a page's prose that no translation may change, each as a multiset."""
    parts: dict[str, Counter] = {}
    parts["glue"] = Counter(f"{kind} {key.strip()}" for kind, key in _GLUE_ROLE.findall(markdown))
    parts["glue"] += Counter(f"{kind} {key}" for kind, key in _GLUE_DIRECTIVE.findall(markdown))
    parts["labels"] = Counter(_LABEL.findall(markdown))
    parts["display math"] = Counter(" ".join(m.split()) for m in _DISPLAY_MATH.findall(markdown))
    no_display = _DISPLAY_MATH.sub(" ", markdown)
    parts["inline math"] = Counter(" ".join(m.split()) for m in _INLINE_MATH.findall(_INLINE_CODE.sub(" ", no_display)))
    parts["cross-references"] = Counter(
        f"{{{role}}}`{_target(text)}`" for role, text in _ROLE.findall(markdown) if role != "term"
    )
    parts["glossary links"] = Counter("{term}" for role, _ in _ROLE.findall(markdown) if role == "term")
    parts["directives"] = Counter(
        f"{name} {arg.strip() if name in _ARGUMENT_DIRECTIVES else ''}".strip()
        for _, name, arg in _DIRECTIVE.findall(markdown)
        if not name.startswith("glue")
    )
    parts["directive options"] = Counter(f":{k}: {v.strip()}" for k, v in _OPTION.findall(markdown))
    no_roles = _ANY_ROLE.sub(" ", _DISPLAY_MATH.sub(" ", markdown))  # a role's text is prose; its target is above
    parts["inline code"] = Counter(_INLINE_CODE.findall(no_roles))
    return parts


def _target(text: str) -> str:
    match = re.search(r"<([^<>]+)>\s*$", text)
    return (match.group(1) if match else text).strip()


def term_targets(markdown: str) -> list[str]:
    return [_target(text) for role, text in _ROLE.findall(markdown) if role == "term"]


def _markdown_of(nb: nbformat.NotebookNode) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def page_problems(english: Path, korean: Path) -> list[str]:
    """Everything that differs between an English page and its Korean translation but must not."""
    en, ko = read_page(english), read_page(korean)
    problems = []
    en_code = [code_cell_key(c) for c in en.cells if c.cell_type == "code"]
    ko_code = [code_cell_key(c) for c in ko.cells if c.cell_type == "code"]
    if len(en_code) != len(ko_code):
        problems.append(f"{len(ko_code)} code cells, the English page has {len(en_code)}")
    for i, (e, k) in enumerate(zip(en_code, ko_code, strict=False)):
        if e[0] != k[0]:
            problems.append(f"code cell {i + 1} differs from the English page's (its code: {_first_line(e[0])!r})")
        elif e[1] != k[1]:
            problems.append(
                f"code cell {i + 1}'s options differ from the English page's (only mystnb.image.alt and "
                f"mystnb.figure.caption are translated): {_first_line(e[0])!r}"
            )
    en_meta = {k: v for k, v in en.metadata.items()}
    ko_meta = {k: v for k, v in ko.metadata.items()}
    if en_meta != ko_meta:
        problems.append("the front matter differs from the English page's")
    en_parts, ko_parts = structure(_markdown_of(en)), structure(_markdown_of(ko))
    # a value glued as words has a Korean twin glued by the same code (`verdict` and `verdict_ko`)
    twins: Counter = Counter()
    for key, n in ko_parts["glue"].items():
        twins[key if key in en_parts["glue"] else _KOREAN_TWIN.sub("", key)] += n
    ko_parts["glue"] = twins
    for name, en_count in en_parts.items():
        ko_count = ko_parts[name]
        if en_count != ko_count:
            missing, extra = en_count - ko_count, ko_count - en_count
            said = []
            if missing:
                said.append("missing " + ", ".join(_shorten(x) for x in sorted(missing.elements())[:4]))
            if extra:
                said.append("not in English " + ", ".join(_shorten(x) for x in sorted(extra.elements())[:4]))
            problems.append(f"{name}: " + "; ".join(said))
    return problems


def _first_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[0][:80] if lines else ""


def _shorten(text: str, limit: int = 70) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


# --- the term list applied ----------------------------------------------------------------------------------------


def prose(markdown: str) -> str:
    """The words a reader reads as running text: no code, math, headings, directives' lines or role targets."""
    text = re.sub(r"^```.*?^```\s*$", " ", markdown, flags=re.M | re.S)  # fenced code and ``` directives
    text = _DISPLAY_MATH.sub(" ", text)
    text = re.sub(r"\{[\w:-]+\}`([^`<]*)(<[^`]*>)?`", r"\1", text)  # a role: its shown text only
    text = _INLINE_CODE.sub(" ", text)
    text = _INLINE_MATH.sub(" ", text)
    text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)  # a link's address
    text = _DIRECTIVE.sub(" ", text)
    text = re.sub(r"^\s*:[\w-]+:.*$", " ", text, flags=re.M)
    text = _HEADING.sub(" ", text)
    return text


def term_problems(text: str, terms: list[Term]) -> list[str]:
    """Avoided variants anywhere; the first use of each term not written 한국어(English)."""
    problems = []
    everything = " ".join(text.split())  # a term may wrap a line
    for term in terms:
        checked = everything
        for fine in term.allow:
            checked = checked.replace(fine, " ")
        for variant in term.avoid:
            if variant in checked:
                problems.append(f"'{variant}' appears: write '{term.ko}' (book/ko/terms.yml)")
    running = " ".join(prose(text).split())
    longer = {t.ko: [u.ko for u in terms if u.ko != t.ko and t.ko in u.ko] for t in terms}
    for term in terms:
        if not term.first_use:
            continue
        first = _first_use(running, term.ko, longer[term.ko])
        if first is None:
            continue
        after = running[first + len(term.ko) :]
        gloss = re.match(r"\s?\(([^)]*)\)", after)
        said = " ".join(gloss.group(1).split()).lower() if gloss else ""
        if not any(en.lower() in said for en in term.en):
            context = running[max(0, first - 20) : first + len(term.ko) + 20].replace("\n", " ")
            problems.append(f"the first use of '{term.ko}' should read '{term.ko}({term.en[0]})': …{context}…")
    return problems


def _first_use(text: str, ko: str, longer: list[str]) -> int | None:
    start = 0
    while True:
        i = text.find(ko, start)
        if i < 0:
            return None
        inside = False
        for big in longer:
            offset = big.find(ko)
            j = i - offset
            if j >= 0 and text.startswith(big, j):
                inside = True
                break
        if not inside:
            return i
        start = i + len(ko)


# --- notebooks ----------------------------------------------------------------------------------------------------


def notebook_translation(assignment: str, root: Path = ROOT) -> dict[str, str] | None:
    path = root / KO / "notebooks" / f"{assignment}.yml"
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {str(k): str(v).rstrip("\n") for k, v in data.items()}


def source_notebook(assignment: str, root: Path = ROOT) -> Path:
    (path,) = sorted((root / "solutions" / assignment).glob("*.ipynb"))
    return path


def notebook_problems(assignment: str, root: Path = ROOT) -> list[str]:
    nb = nbformat.read(source_notebook(assignment, root), as_version=4)
    translation = notebook_translation(assignment, root)
    if translation is None:
        return [f"no translation: write {KO}/notebooks/{assignment}.yml"]
    problems = []
    ids = [c.id for c in nb.cells if c.cell_type == "markdown"]
    for cell_id in ids:
        if cell_id not in translation:
            problems.append(f"markdown cell '{cell_id}' has no translation")
    for cell_id in translation:
        if cell_id not in ids:
            problems.append(f"'{cell_id}' is not a markdown cell of {source_notebook(assignment, root).name}")
    for cell in nb.cells:
        if cell.cell_type != "markdown" or cell.id not in translation:
            continue
        en, ko = structure(cell.source), structure(translation[cell.id])
        for name, count in en.items():
            if name == "inline code":
                continue  # a cell's prose may name a function once more or less; its tests check the rules
            if count != ko[name]:
                problems.append(f"cell '{cell.id}': {name} differ from the English cell's")
    return problems


def korean_notebook(nb: nbformat.NotebookNode, assignment: str, root: Path = ROOT) -> nbformat.NotebookNode:
    """``nb`` (a source or released notebook of ``assignment``) with its markdown in Korean.

    Code cells are untouched: the same code, tests and grade_ids as the English notebook. nbgrader's checksum
    of a locked markdown cell is recomputed for the Korean text, and the notebook's metadata says its language
    (``gptcourse.language``), which the checks' messages and the grader's feedback follow.
    """
    from nbgrader.utils import compute_checksum

    translation = notebook_translation(assignment, root)
    if translation is None:
        raise FileNotFoundError(f"{KO}/notebooks/{assignment}.yml: no Korean translation of {assignment}")
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type != "markdown":
            continue
        if cell.id not in translation:
            raise KeyError(f"{KO}/notebooks/{assignment}.yml: markdown cell '{cell.id}' has no translation")
        cell.source = translation[cell.id]
        grading = cell.metadata.get("nbgrader")
        if grading and "checksum" in grading:
            grading["checksum"] = compute_checksum(cell)
    out.metadata.setdefault("gptcourse", {})["language"] = "ko"
    return out


# --- what each translation was made from --------------------------------------------------------------------------


def blob_id(text: str) -> str:
    """Git's id of a file with this content (``git hash-object``): ``git diff <id> HEAD:<file>`` shows what changed."""
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def pages(root: Path = ROOT) -> list[str]:
    """The English book pages, by name (``ch01-seq2seq``), in the table of contents' order."""
    toc = (root / "_toc.yml").read_text(encoding="utf-8")
    return re.findall(r"(?:file|root):\s*book/([\w-]+)", toc)


def sources(root: Path = ROOT) -> dict[str, str]:
    """Every English text that has a translation, by key, with its current blob id."""
    current = {}
    for page in pages(root):
        current[f"book/{page}.md"] = blob_id((root / "book" / f"{page}.md").read_text(encoding="utf-8"))
    for assignment in assignments(root):
        path = source_notebook(assignment, root)
        nb = nbformat.read(path, as_version=4)
        rel = path.relative_to(root).as_posix()
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                current[f"{rel}#{cell.id}"] = blob_id(cell.source)
    return current


def load_stamps(root: Path = ROOT) -> dict[str, str]:
    path = root / STAMPS
    if not path.exists():
        return {}
    return {str(k): str(v) for k, v in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items()}


def stale(root: Path = ROOT) -> list[str]:
    """The English texts that changed since their translation was stamped (or were never stamped)."""
    stamps, problems = load_stamps(root), []
    for key, blob in sources(root).items():
        if key not in stamps:
            problems.append(f"{key}: no record of what its translation was made from (stamp it once it is up to date)")
        elif stamps[key] != blob:
            file = key.split("#")[0]
            problems.append(
                f"{key}: the English changed after its translation (see: git diff {stamps[key]} HEAD:{file}); "
                "update the Korean, then stamp it"
            )
    return problems


def stamp(files: list[str], root: Path = ROOT) -> list[str]:
    """Record the current English of ``files`` (pages or source notebooks) as what their translations follow."""
    current, stamps, done = sources(root), load_stamps(root), []
    for file in files:
        path = Path(file)
        rel = path.resolve().relative_to(root.resolve()).as_posix() if path.is_absolute() else path.as_posix()
        keys = [k for k in current if k == rel or k.startswith(rel + "#")]
        if not keys:
            raise ValueError(f"{file}: not an English page or source notebook with a translation")
        for key in keys:
            stamps[key] = current[key]
            done.append(key)
    header = (
        "# What each Korean translation was made from: the git blob id of the English page (or notebook cell) it\n"
        "# translates. `python -m autograder translations --stamp <file>` records it; tests/test_korean.py fails when\n"
        "# the English changes afterwards.\n"
    )
    body = yaml.safe_dump(dict(sorted(stamps.items())), sort_keys=False, allow_unicode=True)
    (root / STAMPS).write_text(header + body, encoding="utf-8")
    return done


# --- everything at once -------------------------------------------------------------------------------------------


def all_problems(root: Path = ROOT) -> dict[str, list[str]]:
    """Every problem of every translation, by the file to fix."""
    terms = load_terms(root)
    targets = {t.target for t in terms if t.glossary}
    found: dict[str, list[str]] = {}
    for page in pages(root):
        korean = root / KO / f"{page}.md"
        rel = korean.relative_to(root).as_posix()
        if not korean.exists():
            found[rel] = ["missing: translate book/" + page + ".md"]
            continue
        problems = page_problems(root / "book" / f"{page}.md", korean)
        text = korean.read_text(encoding="utf-8")
        problems += term_problems(_markdown_of(read_page(korean)) + _captions(read_page(korean)), terms)
        problems += [
            f"{{term}} points to '{t}', not a term of the Korean glossary (written 한국어(English) as in terms.yml)"
            for t in term_targets(text)
            if t not in targets
        ]
        if page == "glossary":  # its glossary comes from terms.yml: only its prose is the page's own
            problems = (
                [] if GLOSSARY_MARK in text else [f"the line {GLOSSARY_MARK} (where the glossary goes) is missing"]
            )
        if problems:
            found[rel] = problems
    for assignment in assignments(root):
        rel = f"{KO}/notebooks/{assignment}.yml"
        problems = notebook_problems(assignment, root)
        translation = notebook_translation(assignment, root)
        if translation:
            problems += term_problems("\n\n".join(translation.values()), terms)
        if problems:
            found[rel] = problems
    glossary_problems = [f"'{t.ko}': no definition" for t in terms if t.glossary and not t.definition]
    if glossary_problems:
        found[f"{KO}/terms.yml"] = glossary_problems
    return found


def _captions(nb: nbformat.NotebookNode) -> str:
    """A page's figure captions and alt texts: prose too."""
    texts = []
    for cell in nb.cells:
        mystnb: Any = cell.metadata.get("mystnb") or {}
        for part, key in (("image", "alt"), ("figure", "caption")):
            value = (mystnb.get(part) or {}).get(key)
            if value:
                texts.append(str(value))
    return "\n\n" + "\n\n".join(texts)
