"""The built site, opened in a real browser (headless Chromium driven by Playwright), as a reader sees it.

Every page: no console errors, no failed or off-site requests, every image loads, every internal link
resolves, math is typeset by the site's own MathJax, code cells have a copy button. Search finds a
chapter-3 term. A screenshot of each chapter's first screen is saved to _build/screenshots/.

Every page is also audited for accessibility: axe-core (installed from npm by ``make test``, pinned in
package-lock.json) finds no serious or critical violation of the WCAG 2.0/2.1 A and AA rules, no image's alt
text is its file name, and at 200 % zoom and at a phone's width the page never scrolls sideways as a whole,
while a wide code block or table scrolls inside itself.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from conftest import KERNELS, ROOT, SCREENSHOTS, toc_files

pytestmark = [pytest.mark.slow, KERNELS]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(site):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def visit(browser, url: str, base: str, **options):
    """Open a page; return (page, problems) with every console error and bad or off-site request.

    ``options`` go to ``browser.new_page`` (the viewport: 1280x900 unless given).
    """
    page = browser.new_page(**{"viewport": {"width": 1280, "height": 900}, **options})
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console error: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"script error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and problems.append(f"HTTP {r.status}: {r.url}"))

    def only_this_site(route):
        if route.request.url.startswith(base) or route.request.url.startswith("data:"):
            route.continue_()
        else:
            problems.append(f"loads from another host: {route.request.url}")
            route.abort()

    page.route("**/*", only_this_site)
    page.goto(url, wait_until="load")
    return page, problems


#: The two editions: the English site at the root, the Korean one in ko/ (same pages, same paths inside).
EDITIONS = {"en": "", "ko": "ko/"}


def site_pages(edition: str = "") -> list[str]:
    """Every page of an edition (``""`` or ``"ko/"``): the table of contents' pages, the index, the search page."""
    names = [f"{name}.html" for name in toc_files()] + ["genindex.html", "search.html"]
    return [edition + name for name in dict.fromkeys(names)]


def wait_for_math(page) -> None:
    """Wait until MathJax has typeset the page's math (it changes what is on the page and how wide)."""
    if page.locator("main .math").count():
        page.wait_for_selector("main mjx-container", state="attached", timeout=20000)


@pytest.mark.parametrize("edition", EDITIONS.values(), ids=EDITIONS.keys())
def test_every_page_works_offline(site, server, browser, edition):
    pages = site_pages(edition)
    anchors: dict[str, set[str]] = {}
    links: list[tuple[str, str]] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failures = []
    for rel in pages:
        page, problems = visit(browser, f"{server}/{rel}", server)
        if page.locator("main .math").count():
            try:
                page.wait_for_selector("main mjx-container", state="attached", timeout=20000)
            except Exception:
                problems.append("math is not typeset (no mjx-container)")
            if page.locator("mjx-merror").count():
                problems.append(f"MathJax errors: {page.locator('mjx-merror').first.inner_text()}")
        broken = page.evaluate(
            "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        )
        problems += [f"image does not load: {src}" for src in broken]
        if page.locator("div.cell div.highlight, div.highlight-ipython3").count():
            page.wait_for_timeout(300)
            if not page.locator("button.copybtn").count():
                problems.append("code cells have no copy button")
        anchors[rel] = set(page.evaluate("Array.from(document.querySelectorAll('[id]')).map(e => e.id)"))
        for href in page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
            if href.startswith(server):
                links.append((rel, href))
        if rel.startswith(f"{edition}book/ch"):
            page.screenshot(path=str(SCREENSHOTS / (edition.replace("/", "-") + Path(rel).stem + ".png")))
        failures += [f"{rel}: {p}" for p in problems]
        page.close()
    for rel, href in links:
        url, fragment = urldefrag(href)
        target = unquote(urlparse(url).path).lstrip("/") or "index.html"
        if target.endswith("/"):
            target += "index.html"
        if not (site / target).is_file():
            failures.append(f"{rel}: broken link to {target}")
        elif fragment and target in anchors and unquote(fragment) not in anchors[target]:
            failures.append(f"{rel}: link to a missing anchor {target}#{fragment}")
    assert not failures, "\n".join(failures)


def test_the_site_root_leads_to_the_first_page(site, server, browser):
    """index.html is a redirect (a meta refresh) to the root page of _toc.yml."""
    page, problems = visit(browser, f"{server}/index.html", server)
    page.wait_for_url(f"{server}/{toc_files()[0]}.html", timeout=20000)
    page.wait_for_load_state("load")
    assert not problems, problems
    page.close()


def test_dark_theme_screenshot(server, browser):
    """The figures and text stay readable on the dark theme (look at _build/screenshots/*-dark.png)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page.goto(f"{server}/book/ch00-generative-ai.html")
    page.evaluate("document.documentElement.dataset.theme = 'dark'")
    page.locator("#fig-gpt-sizes").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "ch00-generative-ai-dark.png"))
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgb(255, 255, 255)"
    page.close()


def test_search_finds_a_chapter_three_term(server, browser):
    pages = toc_files()
    chapter3 = next((p for p in pages if p.startswith("book/ch03")), None)
    assert chapter3, "chapter 3 is not in _toc.yml"
    page, problems = visit(browser, f"{server}/search.html?q=positional+encoding", server)
    page.wait_for_selector("#search-results ul.search li", timeout=20000)
    hits = page.evaluate("Array.from(document.querySelectorAll('#search-results ul.search li a')).map(a => a.href)")
    assert any(chapter3 in h for h in hits), f"search for 'positional encoding' does not find {chapter3}: {hits}"
    assert not problems, problems


#: axe-core's browser build, installed by ``make test`` (``npm ci``, the version pinned in package-lock.json).
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
#: The WCAG 2.0 and 2.1 rules of levels A and AA.
AXE_RUN = "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"


#: The images of a page's content whose alt text is a file name.
FILE_NAME_ALT = """Array.from(document.querySelectorAll("main img[alt]"))
    .filter(img => /\\.(png|jpe?g|gif|svg|webp)$/i.test(img.alt.trim()))
    .map(img => img.getAttribute("src"))"""


def axe_script() -> str:
    if not AXE.is_file():
        pytest.fail(
            f"axe-core is not installed ({AXE.relative_to(ROOT)} is missing): run `make test`, which installs it"
        )
    return str(AXE)


@pytest.mark.parametrize("edition", EDITIONS.values(), ids=EDITIONS.keys())
def test_every_page_passes_the_accessibility_audit(site, server, browser, edition):
    """axe-core finds no serious or critical WCAG 2.0/2.1 A or AA violation on any page (light theme), and no
    image's alt text is its file name."""
    script = axe_script()
    failures = []
    for rel in site_pages(edition):
        page, _ = visit(browser, f"{server}/{rel}", server)  # load problems: test_every_page_works_offline
        wait_for_math(page)
        # axe accepts any alt text; a figure whose alt is its file name (what Sphinx writes when a page gives
        # none) says nothing to a reader who cannot see it
        for src in page.evaluate(FILE_NAME_ALT):
            failures.append(f"{rel}: an image's alt text is its file name, not a description: {src}")
        page.add_script_tag(path=script)
        for violation in page.evaluate(AXE_RUN)["violations"]:
            if violation["impact"] in ("serious", "critical"):
                targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:3])
                failures.append(
                    f"{rel}: {violation['id']} ({violation['impact']}, {len(violation['nodes'])} elements): "
                    f"{violation['help']}: {targets}"
                )
        page.close()
    assert not failures, "\n".join(failures)


#: 200 % zoom of a 1280x800 window (WCAG 1.4.4 and 1.4.10: the page reflows), and a phone held upright.
NARROW = {
    "zoom-200": {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2},
    "phone": {"viewport": {"width": 375, "height": 740}, "device_scale_factor": 2},
}

#: What does not fit a narrow window: the page's own sideways scroll (and the elements that stick out), and the
#: code blocks and tables wider than their room that do not scroll inside themselves.
OVERFLOW = """() => {
    const width = window.innerWidth;
    const scrolls = el => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
    // inside a box that clips or scrolls, or fixed to the window (an off-screen drawer): not the page's width
    const contained = el => {
        if (getComputedStyle(el).position === "fixed") return true;
        for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
            const style = getComputedStyle(up);
            if (style.overflowX !== "visible" || style.position === "fixed") return true;
        }
        return false;
    };
    const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
        + Array.from(el.classList).slice(0, 3).map(c => "." + c).join("");
    const problems = [];
    const page = document.documentElement.scrollWidth;
    if (page > width + 1) {
        const out = Array.from(document.body.querySelectorAll("*")).filter(el => {
            const box = el.getBoundingClientRect();
            return box.width > 0 && box.right > width + 1 && !contained(el);
        });
        const outermost = out.filter(el => !out.includes(el.parentElement)).slice(0, 5);
        problems.push(`the page scrolls sideways (${page}px wide in a ${width}px window): `
            + outermost.map(el => `${name(el)} (right edge ${Math.round(el.getBoundingClientRect().right)}px)`)
                .join(", "));
    }
    for (const pre of document.querySelectorAll("div.highlight pre")) {
        if (pre.scrollWidth > pre.clientWidth + 1 && !scrolls(pre)) {
            problems.push(`a code block wider than its box does not scroll: ${pre.innerText.slice(0, 60)}`);
        }
    }
    for (const table of document.querySelectorAll("main table")) {
        let up = table;
        while (up && up !== document.body && !scrolls(up)) up = up.parentElement;
        const box = table.getBoundingClientRect();
        const room = table.parentElement.clientWidth;
        if ((box.width > room + 1 || box.width > width) && (!up || up === document.body)) {
            problems.push(`a table wider than its room (${Math.round(box.width)}px in ${room}px) does not `
                + `scroll inside itself: ${name(table)} ${table.innerText.slice(0, 60)}`);
        }
    }
    return problems;
}"""


@pytest.mark.parametrize("edition", EDITIONS.values(), ids=EDITIONS.keys())
def test_every_page_reflows_at_200_percent_zoom_and_on_a_phone(site, server, browser, edition):
    """No page scrolls sideways at 200 % zoom or 375 px wide; wide code blocks and tables scroll inside themselves.

    Screenshots of the first chapter page's first code block at both sizes: _build/screenshots/<page>-zoom-200.png
    and <page>-phone.png.
    """
    pages = site_pages(edition)
    shown = next(rel for rel in pages if rel.startswith(f"{edition}book/ch"))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failures = []
    for size, options in NARROW.items():
        for rel in pages:
            page, _ = visit(browser, f"{server}/{rel}", server, **options)
            wait_for_math(page)
            failures += [f"{rel} at {size}: {problem}" for problem in page.evaluate(OVERFLOW)]
            if rel == shown:  # its first code block in view
                if page.locator("div.highlight pre").count():
                    page.locator("div.highlight pre").first.scroll_into_view_if_needed()
                page.screenshot(path=str(SCREENSHOTS / f"{edition.replace('/', '-')}{Path(rel).stem}-{size}.png"))
            page.close()
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# The Korean edition (book/ko/, built into ko/): the same pages, numbers and figures, a switch between them


def test_korean_search_finds_the_attention_chapter(server, browser):
    page, problems = visit(browser, f"{server}/ko/search.html?q=어텐션", server)
    page.wait_for_selector("#search-results ul.search li", timeout=20000)
    hits = page.evaluate("Array.from(document.querySelectorAll('#search-results ul.search li a')).map(a => a.href)")
    assert any("/ko/book/ch02-attention.html" in h for h in hits), f"search for 어텐션 does not find chapter 2: {hits}"
    assert not problems, problems


@pytest.mark.parametrize("edition", EDITIONS.values(), ids=EDITIONS.keys())
def test_the_language_switch_lands_on_the_same_page(site, server, browser, edition):
    """Every page links to itself in the other language; following the link lands there, and back."""
    other = "" if edition else "ko/"
    failures = []
    for rel in site_pages(edition):
        page, problems = visit(browser, f"{server}/{rel}", server)
        switch = page.locator("a.language-switch")
        if switch.count() != 1:
            failures.append(f"{rel}: {switch.count()} language switches")
            page.close()
            continue
        expected = f"{server}/{other}{rel[len(edition) :]}"
        switch.click()
        page.wait_for_load_state("load")
        if page.url != expected:
            failures.append(f"{rel}: the switch leads to {page.url}, not {expected}")
        lang = page.evaluate("document.documentElement.lang")
        if not lang.startswith("ko" if other else "en"):
            failures.append(f"{rel}: the other language's page says lang={lang!r}")
        failures += [f"{rel}: {p}" for p in problems]
        page.close()
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("locale,lands", [("ko-KR", "ko/"), ("en-US", "")])
def test_the_root_opens_the_readers_language(server, browser, locale, lands):
    """index.html opens the Korean edition for a browser set to Korean, the English one otherwise."""
    context = browser.new_context(locale=locale)
    page = context.new_page()
    page.goto(f"{server}/index.html")
    page.wait_for_url(f"{server}/{lands}{toc_files()[0]}.html", timeout=20000)
    context.close()


def test_the_korean_pages_are_korean(site):
    """The Korean pages say lang="ko", the theme's own labels are Korean, and no English chapter prose is left."""
    import re

    failures = []
    for rel in site_pages("ko/"):
        text = (site / rel).read_text(encoding="utf-8")
        if '<html lang="ko"' not in text:
            failures.append(f"{rel}: not <html lang=\"ko\">")
        if "검색" not in text:  # the theme's search button, from sphinx-book-theme's Korean catalog
            failures.append(f"{rel}: the theme's search label is not Korean")
    chapter = (site / "ko" / "book" / "ch02-attention.html").read_text(encoding="utf-8")
    main = re.sub(r"<[^>]+>", " ", chapter.split('<article class="bd-article">', 1)[-1])
    assert len(re.findall(r"[가-힣]", main)) > 2000, "the Korean chapter 2 has little Korean text"
    assert not failures, "\n".join(failures)


def _content(html: str):
    """A page's computed content: the numbers in its glued values (a verdict glued as words has a Korean twin,
    with the same numbers), and the figures' image files, in order."""
    import re

    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    main = soup.select_one("article.bd-article") or soup
    pasted = [
        number
        for el in main.select(".pasted-text, .pasted-inline")
        for number in re.findall(r"\d+(?:[.,]\d+)*", el.get_text(" "))
    ]
    images = [img.get("src", "") for img in main.select("img")]
    return pasted, images


def _digest(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else f"missing {path.name}"


def test_korean_pages_show_the_numbers_and_figures_of_the_english_ones(site):
    """Each Korean page shows the same glued values and byte-identical figures as its English page: one run."""
    failures = []
    for name in toc_files():
        en_html = (site / f"{name}.html").read_text(encoding="utf-8")
        ko_html = (site / "ko" / f"{name}.html").read_text(encoding="utf-8")
        (en_values, en_images), (ko_values, ko_images) = _content(en_html), _content(ko_html)
        if sorted(en_values) != sorted(ko_values):
            failures.append(f"{name}: the glued numbers differ: {sorted(set(en_values) ^ set(ko_values))[:5]}")

        en_digests = [_digest((site / name).parent / src) for src in en_images]
        ko_digests = [_digest((site / "ko" / name).parent / src) for src in ko_images]
        if en_digests != ko_digests:
            failures.append(f"{name}: the figures differ ({len(en_images)} English, {len(ko_images)} Korean)")
    assert not failures, "\n".join(failures)


def test_the_korean_build_runs_no_code(site):
    """The Korean edition takes every output from the English build's run: its build executes nothing."""
    log = (site.parent / "ko-build.log").read_text()
    assert "Executing notebook" not in log and "Executed notebook" not in log, "the Korean build ran code"


def test_korean_exercise_pages_offer_the_korean_notebook(site):
    """The download button of a Korean exercise page gives the Korean notebook (Korean markdown, same code)."""
    import json

    from autograder.translation import source_notebook

    for name in toc_files():
        if not name.startswith("notebooks/"):
            continue
        page = (site / "ko" / f"{name}.html").read_text(encoding="utf-8")
        assert f"_sources/{name}.ipynb" in page, f"ko/{name}.html has no download of its notebook"
        offered = json.loads((site / "ko" / "_sources" / f"{name}.ipynb").read_text(encoding="utf-8"))
        assert offered["metadata"]["gptcourse"]["language"] == "ko", name
        assignment = name.split("/")[1]
        english = json.loads(source_notebook(assignment).read_text(encoding="utf-8"))
        assert offered["cells"][0]["source"] != english["cells"][0]["source"], f"{name}: the title is not Korean"


#: Draw two Hangul syllables and two characters no font has (drawn as "tofu" boxes) in an element's font.
TOFU = """(selector) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const style = getComputedStyle(element);
    const draw = text => {
        const canvas = document.createElement("canvas");
        canvas.width = 96; canvas.height = 48;
        const ctx = canvas.getContext("2d");
        ctx.font = `${style.fontSize} ${style.fontFamily}`;
        ctx.fillText(text, 4, 36);
        return canvas.toDataURL();
    };
    return {hangul: draw("한글"), missing: draw("\\u{10FFFD}\\u{10FFFD}")};
}"""


def test_korean_text_is_drawn_with_a_korean_font(site, server, browser):
    """On every Korean page, the headings and the text are drawn with glyphs, not as missing-glyph boxes (the
    figures are the English build's files: their labels hold no Hangul)."""
    failures = []
    for rel in site_pages("ko/"):
        page, _ = visit(browser, f"{server}/{rel}", server)
        for selector in ("main h1", "main p", "nav.bd-links"):
            drawn = page.evaluate(TOFU, selector)
            if drawn is not None and drawn["hangul"] == drawn["missing"]:
                failures.append(f"{rel}: Hangul in '{selector}' is drawn as missing-glyph boxes (no Korean font)")
        page.close()
    assert not failures, "\n".join(failures) + "\nInstall a Korean font (make test installs fonts-nanum)."
