"""The built site, opened in a real browser (headless Chromium driven by Playwright), as a reader sees it.

Every page: no console errors, no failed or off-site requests, every image loads, every internal link
resolves, math is typeset by the site's own MathJax, code cells have a copy button. Search finds a
chapter-3 term. A screenshot of each chapter's first screen is saved to _build/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

from conftest import KERNELS, SCREENSHOTS, toc_files

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


def visit(browser, url: str, base: str):
    """Open a page; return (page, problems) with every console error and bad or off-site request."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
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


def test_every_page_works_offline(site, server, browser):
    pages = [f"{name}.html" for name in toc_files()] + ["genindex.html", "search.html"]
    anchors: dict[str, set[str]] = {}
    links: list[tuple[str, str]] = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failures = []
    for rel in dict.fromkeys(pages):
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
        if rel.startswith("book/ch"):
            page.screenshot(path=str(SCREENSHOTS / (Path(rel).stem + ".png")))
        failures += [f"{rel}: {p}" for p in problems]
        page.close()
    for rel, href in links:
        url, fragment = urldefrag(href)
        target = unquote(urlparse(url).path).lstrip("/") or "index.html"
        if target.endswith("/"):
            target += "index.html"
        if not (site / target).is_file():
            failures.append(f"{rel}: broken link to {target}")
        elif fragment and target in anchors and fragment not in anchors[target]:
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
