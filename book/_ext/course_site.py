"""The site follows the course's one configured address, and offers the course package for download.

1. The address: ``_config.yml``'s ``repository.url`` (and ``html.baseurl``) is the one place the course's
   public address is set (:mod:`autograder.setup_cell` reads it for the notebooks' setup cells too). When it
   is empty, the site shows no repository button and no Colab / Binder launch buttons: nothing links to an
   address the course has not been configured with.
2. The wheel: the build makes the course package's wheel (``python -m build``) and serves it at
   ``_static/wheels/gptcourse-<version>-py3-none-any.whl``; every exercise page says how to use it, so a
   student can install the course with no access to the repository (the setup cell installs the wheel
   found next to the notebook).
3. The edition: ``GPTCOURSE_EDITION=solutions`` (``make book-solutions``) marks every page as the
   solutions edition.
4. Execution: notebooks run with the course's sliced-poll kernel client (:func:`sliced_execution`).
5. Accessibility (the axe-core audit of tests/test_site.py): the site's own style sheet
   (``book/_static/course.css``), two of the theme's buttons overridden in ``book/_templates/`` (their
   accessible names contain their visible text), and a name for every expand/collapse toggle of the
   navigation sidebar (:func:`name_toc_toggles`).
6. Two languages: the English site at the root, the Korean edition (Sphinx ``language: ko``, laid out by
   ``python -m autograder korean-edition``) in ``ko/``. Every page links to the same page in the other
   language (:func:`language_switch`); the root ``index.html`` opens the reader's language (their last
   choice, else the browser's); Korean pages say their banners in Korean and launch the Korean notebooks.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
from pathlib import Path

import sphinx.search
from sphinx.errors import ExtensionError
from sphinx.search.en import SearchEnglish

BOOK = Path(__file__).resolve().parents[1]  # book/: its _templates/ and _static/ belong to the site

# the course's repository (the solutions edition builds a copy of the book elsewhere and says where it is)
ROOT = Path(os.environ.get("GPTCOURSE_ROOT") or Path(__file__).resolve().parents[2])
sys.path.insert(0, str(ROOT))
from autograder.setup_cell import WHEEL_FOLDER, build_distributions, course_address  # noqa: E402


def solutions_edition() -> bool:
    return os.environ.get("GPTCOURSE_EDITION", "") == "solutions"


def korean(app) -> bool:
    return (app.config.language or "en").startswith("ko")


KOREAN_FOLDER = "ko"  # the Korean edition's folder inside the English site (and notebooks/ko/ in the repository)


def configure(app, config) -> None:
    address = course_address(ROOT)
    options = config.html_theme_options
    if not address.repository:
        options["repository_url"] = ""
        options["use_repository_button"] = False
        options["launch_buttons"] = {}  # Colab and Binder launch from a repository: none is configured
    else:
        options["repository_url"] = address.repository
        options["use_repository_button"] = True
    if address.site:
        config.html_baseurl = address.site + "/" + (f"{KOREAN_FOLDER}/" if korean(app) else "")
    static = Path(app.outdir).parent / "wheel-static"
    wheels = static / WHEEL_FOLDER.split("/", 1)[1]
    wheels.mkdir(parents=True, exist_ok=True)
    for old in wheels.glob("*.whl"):
        old.unlink()
    try:
        (wheel,) = build_distributions(wheels, ROOT)
    except RuntimeError as err:
        raise ExtensionError(str(err)) from None
    config.html_static_path = list(config.html_static_path) + [str(static), str(BOOK / "_static")]
    # ahead of the theme's own folders: book/_templates/ overrides two of its components (accessible names)
    config.templates_path = [str(BOOK / "_templates"), *config.templates_path]
    if not solutions_edition():  # the language switch, before the theme's buttons (book/_templates/)
        options["article_header_end"] = ["language-switch.html", "article-header-buttons.html"]
    app.config._course_wheel = wheel.name


def banner(app, pagename, templatename, context, doctree) -> None:
    if doctree is None or "body" not in context:
        return
    wheel = app.config._course_wheel
    parts = []
    ko = korean(app)
    if solutions_edition():
        parts.append(
            '<div class="admonition important"><p class="admonition-title">Solutions edition</p>'
            "<p>This is the course's solutions edition: every exercise shows its notebook run with the "
            "reference answers, visible and hidden tests passing. Try each exercise yourself first.</p></div>"
        )
    if pagename.startswith("notebooks/") and ko:
        href = html.escape(context["pathto"](f"{WHEEL_FOLDER}/{wheel}", 1))
        parts.append(
            '<div class="admonition tip"><p class="admonition-title">어디서나 이 실습하기</p>'
            "<p>이 노트북(페이지 위쪽의 내려받기 버튼)과 과정 패키지 "
            f'<a class="reference download" href="{href}" download>{html.escape(wheel)}</a>를 내려받아 한 폴더에 '
            "두세요(Colab에서는 파일 패널). 노트북을 열고 설정 셀을 실행하면 패키지가 노트북의 커널에 설치되며, "
            "설치된 PyTorch는 바뀌지 않습니다.</p></div>"
        )
    elif pagename.startswith("notebooks/"):
        href = html.escape(context["pathto"](f"{WHEEL_FOLDER}/{wheel}", 1))
        parts.append(
            '<div class="admonition tip"><p class="admonition-title">Work on this exercise anywhere</p>'
            "<p>Download this notebook (the download button at the top of the page) and the course package "
            f'<a class="reference download" href="{href}" download>{html.escape(wheel)}</a>. Put both in one '
            "folder (in Colab: the Files panel), open the notebook, and run its setup cell: it installs the "
            "package into the notebook's kernel and never changes your PyTorch.</p></div>"
        )
    if parts:
        context["body"] = "".join(parts) + context["body"]


def other_language(app, pagename: str) -> tuple[str, str, str]:
    """The same page in the other language: (relative address, language code, link text)."""
    up = "../" * pagename.count("/")
    if korean(app):
        return f"../{up}{pagename}.html", "en", "English"
    return f"{up}{KOREAN_FOLDER}/{pagename}.html", "ko", "한국어"


def language_switch(app, pagename, templatename, context, doctree) -> None:
    """A link to this page in the other language, in the article's header bar (book/_templates/
    language-switch.html, on every page: search and index too); and its ``hreflang`` alternate."""
    if solutions_edition():
        return
    href, lang, text = other_language(app, pagename)
    title = "이 페이지의 영어판" if korean(app) else "이 페이지의 한국어판 (this page in Korean)"
    context["language_switch"] = {"href": href, "lang": lang, "text": text, "title": title}
    context["metatags"] = context.get("metatags", "") + f'\n<link rel="alternate" hreflang="{lang}" href="{href}">'


def korean_launch_buttons(app, pagename, templatename, context, doctree) -> None:
    """On a Korean page the launch buttons (Colab, Binder) open the Korean notebook in the repository.

    The Korean site has the English layout (``notebooks/<assignment>/<notebook>.ipynb``); in the repository
    the Korean notebooks are ``notebooks/ko/...`` and the Korean pages ``book/ko/<page>.md``.
    """
    if not korean(app) or not pagename.startswith(("notebooks/", "book/")):
        return
    if pagename.startswith("notebooks/"):
        english, repo = f"{pagename}.ipynb", f"notebooks/{KOREAN_FOLDER}/{pagename.split('/', 1)[1]}.ipynb"
    else:
        english, repo = f"{pagename}.ipynb", f"book/{KOREAN_FOLDER}/{pagename.split('/', 1)[1]}.md"

    def retarget(button):
        if isinstance(button, dict):
            url = button.get("url")
            if isinstance(url, str) and url.startswith(("https://", "http://")) and english in url:
                button["url"] = url.replace(english, repo)
            for key in ("buttons", "items"):
                for inner in button.get(key) or []:
                    retarget(inner)

    for button in context.get("header_buttons") or []:
        retarget(button)


ROOT_INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<script>
var choice = null;
try {{ choice = localStorage.getItem("gptcourse-language"); }} catch (e) {{}}
if (choice !== "en" && choice !== "ko") {{
  var first = ((navigator.languages && navigator.languages[0]) || navigator.language || "").toLowerCase();
  choice = first.slice(0, 2) === "ko" ? "ko" : "en";
}}
location.replace(choice === "ko" ? "{korean}" : "{english}");
</script>
<noscript><meta http-equiv="refresh" content="0; url={english}"></noscript>
</head>
<body>
<main>
<h1>{title}</h1>
<ul>
<li><a href="{english}" hreflang="en">English</a></li>
<li><a href="{korean}" hreflang="ko" lang="ko">한국어</a></li>
</ul>
</main>
</body>
</html>
"""


def root_index(app, exception) -> None:
    """The English site's ``index.html`` opens the reader's language: their last choice, else the browser's."""
    if exception is not None or korean(app) or solutions_edition() or app.builder.format != "html":
        return
    first = f"{app.config.root_doc}.html"
    Path(app.outdir, "index.html").write_text(
        ROOT_INDEX.format(title=html.escape(app.config.project), english=first, korean=f"{KOREAN_FOLDER}/{first}"),
        encoding="utf-8",
    )


# Korean search. Sphinx has no Korean search language: the English one would index "어텐션은" (attention +
# the topic particle) as one word, which a search for 어텐션 never finds. A Korean word is indexed, and a query
# word looked up, without its particle or common ending (the same list in Python and in the page's JavaScript).
KOREAN_ENDINGS = sorted(
    ["에서는", "에서도", "으로는", "으로도", "이라는", "이라고", "에게는", "까지는", "부터는", "합니다", "입니다",
     "에서", "으로", "에게", "까지", "부터", "처럼", "보다", "마다", "이나", "이란", "라는", "라고", "하는", "하고",
     "하며", "한다", "은", "는", "이", "가", "을", "를", "의", "에", "도", "만", "로", "와", "과"],
    key=len,
    reverse=True,
)  # fmt: skip
HANGUL = re.compile("[\uac00-\ud7a3]")


def korean_stem(word: str) -> str:
    """A Korean word without its particle or common ending (keeping at least two syllables)."""
    for ending in KOREAN_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 2:
            return word[: -len(ending)]
    return word


KOREAN_JS_STEMMER = """
var Stemmer = function() {
  var english = new EnglishStemmer();
  var endings = %s;
  this.stemWord = function(word) {
    if (!/[\uac00-\ud7a3]/.test(word)) return english.stemWord(word);
    for (var i = 0; i < endings.length; i++) {
      var e = endings[i];
      if (word.length - e.length >= 2 && word.slice(-e.length) === e) return word.slice(0, -e.length);
    }
    return word;
  };
};
""" % json.dumps(KOREAN_ENDINGS, ensure_ascii=False)


class SearchKorean(SearchEnglish):
    """Sphinx's search for a Korean site: English words as in English, Korean words without their particles."""

    lang = "ko"
    language_name = "Korean"
    js_stemmer_code = SearchEnglish.js_stemmer_code.replace("var Stemmer = function", "var EnglishStemmer = function")
    js_stemmer_code += KOREAN_JS_STEMMER

    def stem(self, word: str) -> str:
        return korean_stem(word) if HANGUL.search(word) else super().stem(word)


def name_toc_toggles(app, pagename, templatename, context, doctree) -> None:
    """Every expand/collapse toggle of the navigation sidebar gets a name: "Sections of <its chapter>".

    pydata-sphinx-theme draws each toggle as a ``<summary>`` holding only a decorative chevron, a control
    with no name (WCAG 4.1.2; axe: summary-name) on every page. The theme builds the sidebar through the
    ``generate_toctree_html`` function it puts into the page's context (its templates call it); it is
    wrapped here so that each nameless ``<summary>`` gets an ``aria-label`` from the link beside it.
    """
    generate = context.get("generate_toctree_html")
    if generate is None or getattr(generate, "names_toggles", False):
        return

    def generate_toctree_html(*args, **kwargs):
        toctree = generate(*args, **kwargs)
        for summary in getattr(toctree, "select", lambda _: [])("summary"):
            if summary.get_text(strip=True) or summary.get("aria-label"):
                continue
            item = summary.find_parent("li")
            link = item.find("a", recursive=False) if item is not None else None
            title = link.get_text(" ", strip=True) if link is not None else ""
            if korean(app):
                summary["aria-label"] = f"{title}의 하위 항목" if title else "하위 항목"
            else:
                summary["aria-label"] = f"Sections of {title}" if title else "Sections"
        return toctree

    generate_toctree_html.names_toggles = True
    context["generate_toctree_html"] = generate_toctree_html


def sliced_execution() -> None:
    """Pages and notebooks run with the course's kernel client, which polls in slices of a second.

    With ipywidgets, nbclient's own client sometimes sleeps through a cell's reply until the cell's
    timeout (jupyter/nbclient#312; see autograder/kernel_client.py): the solutions edition runs the
    exercises' ``interact`` cells, where one such stall would cost the build ten minutes. myst-nb runs
    notebooks through jupyter-cache's ``executenb`` (nbclient's ``execute``), which takes no option for
    the client, so the kernel manager class is given to it here.
    """
    import jupyter_cache.executors.utils as executors

    from autograder.kernel_client import SlicedPollKernelManager

    plain = executors.executenb
    if getattr(plain, "sliced_polls", False):
        return

    def executenb(nb, **kwargs):
        kwargs.setdefault("kernel_manager_class", SlicedPollKernelManager)
        return plain(nb, **kwargs)

    executenb.sliced_polls = True
    executors.executenb = executenb


def setup(app):
    sliced_execution()
    sphinx.search.languages.setdefault("ko", SearchKorean)
    app.add_config_value("_course_wheel", "", "html")
    app.connect("config-inited", configure)
    app.connect("html-page-context", banner)
    app.connect("html-page-context", language_switch, priority=400)  # before the theme renders its header
    app.connect("html-page-context", korean_launch_buttons, priority=700)  # after the theme's launch buttons
    app.connect("build-finished", root_index, priority=900)  # after sphinx-external-toc's redirect
    # after the theme's own handler (priority 500), which puts generate_toctree_html into the context
    app.connect("html-page-context", name_toc_toggles, priority=900)
    app.add_css_file("course.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
