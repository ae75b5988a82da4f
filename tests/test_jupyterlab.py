"""The chapter-2 exercise notebook in JupyterLab, in a real browser, as a student uses it.

JupyterLab runs on localhost with a one-time token; headless Chromium (Playwright) opens the released
notebook twice: unmodified (running it stops at the first exercise, and nbgrader's Validate button lists
the failing tests) and with the reference answers typed in (the tqdm bar is a widget, the sentence menu
redraws the attention heatmap, Validate reports success). Nothing is loaded from another host.
Screenshots go to _build/screenshots/lab-*.png.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

from autograder.notebooks import fill_solutions, read_notebook
from conftest import KERNELS, SCREENSHOTS, release_notebook, source_notebook

pytestmark = [pytest.mark.slow, KERNELS]

ASSIGNMENT = "ch02-attention"
RUN_ALL_SECONDS = 240  # the solved notebook trains a small model (about 30 s on two idle cores)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving two copies of the released notebook: ``unmodified/`` and ``solved/``."""
    root = tmp_path_factory.mktemp("lab")
    name = release_notebook(ASSIGNMENT).name
    release = read_notebook(release_notebook(ASSIGNMENT))
    (root / "unmodified").mkdir()
    nbformat.write(release, root / "unmodified" / name)
    (root / "solved").mkdir()
    nbformat.write(fill_solutions(release, read_notebook(source_notebook(ASSIGNMENT))), root / "solved" / name)

    # every cell in the page (no windowing), so that the test can read any cell's output
    settings = root / ".settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    news = root / ".settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')  # no news pop-up
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(root / ".config"),
        JUPYTER_RUNTIME_DIR=str(root / ".runtime"),
        JUPYTER_DATA_DIR=str(root / ".data"),
    )
    env.pop("JUPYTER_TOKEN", None)
    log = open(root / "lab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--expose-app-in-browser",
            f"--LabApp.workspaces_dir={root / '.workspaces'}",
            f"--LabApp.user_settings_dir={root / '.settings'}",
            "--LabApp.news_url=",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (root / "lab.log").read_text()[-3000:])
            time.sleep(0.5)
    yield {"base": base, "token": token, "name": name, "root": root}
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


# The notebook panel of a path, found through the application object (--expose-app-in-browser).
PANEL = "(path) => Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path)"


def open_notebook(browser, lab, folder: str):
    """Open a notebook in JupyterLab; return (page, path, off-site requests) once its kernel is idle."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    offsite: list[str] = []

    def only_localhost(route):
        if route.request.url.startswith(lab["base"]) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    page.route("**/*", only_localhost)
    path = f"{folder}/{lab['name']}"
    page.goto(f"{lab['base']}/lab/tree/{path}?reset&token={lab['token']}")
    page.wait_for_function(f"window.jupyterapp && ({PANEL})('{path}')", timeout=90_000)
    page.evaluate(f"window.jupyterapp.shell.activateById(({PANEL})('{path}').id)")
    page.wait_for_function(
        f"(() => {{ const s = ({PANEL})('{path}').sessionContext.session;"
        " return s && s.kernel && s.kernel.status === 'idle'; })()",
        timeout=90_000,
    )
    return page, path, offsite


def run_all(page, path: str) -> None:
    """Run > Run All Cells (the menu's command); returns when the run has finished or stopped at an error."""
    page.set_default_timeout(RUN_ALL_SECONDS * 1000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(
        f"({PANEL})('{path}').sessionContext.session.kernel.status === 'idle'",
        timeout=RUN_ALL_SECONDS * 1000,
        polling=500,
    )
    page.set_default_timeout(30_000)


def validate(page) -> str:
    """Click nbgrader's Validate button; return the text of the dialog it shows."""
    page.locator(".validate-button").click()
    message = page.wait_for_selector("#validation-message", timeout=RUN_ALL_SECONDS * 1000)
    return message.get_attribute("class") + "\n" + message.inner_text()


def cell(page, marker: str):
    """The notebook cell whose source contains ``marker``."""
    return page.locator(".jp-Notebook .jp-Cell", has=page.locator(".jp-InputArea", has_text=marker)).first


def test_unmodified_notebook_stops_at_the_first_exercise_and_validate_lists_failures(browser, lab):
    page, path, offsite = open_notebook(browser, lab, "unmodified")
    run_all(page, path)
    first_test = cell(page, "check_close(dot_score(q, k)")
    first_test.scroll_into_view_if_needed()
    assert "NotImplementedError" in first_test.locator(".jp-OutputArea").inner_text(), (
        "running the unmodified notebook should stop at the first exercise's test with NotImplementedError"
    )
    assert not cell(page, "tqdm(range(200)").locator(".jp-OutputArea-output").count(), (
        "cells after the first failing test should not have run"
    )
    report = validate(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "lab-ch02-unmodified-validate.png"))
    assert "validation-failed" in report and "The following cell failed" in report, report[:2000]
    assert "dot_score" in report, "Validate should name the failing test of exercise 1:\n" + report[:2000]
    assert not offsite, f"JupyterLab loaded from another host: {offsite}"
    page.close()


def test_solved_notebook_shows_progress_widget_and_interactive_heatmap(browser, lab):
    page, path, offsite = open_notebook(browser, lab, "solved")
    run_all(page, path)
    errors = page.locator(
        ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']", has_text="Error"
    ).all_inner_texts()
    assert not errors, f"the notebook with the reference answers raised: {errors[:2]}"

    training = cell(page, "tqdm(range(200)")
    training.scroll_into_view_if_needed()
    bar = training.locator(".widget-hprogress, .widget-progress")
    assert bar.count(), "the tqdm progress bar did not render as a widget (is ipywidgets installed?)"
    assert "200/200" in training.locator(".jp-OutputArea").inner_text(), "the progress bar did not reach 200/200"

    heatmap = cell(page, "widgets.interact(show_attention")
    heatmap.scroll_into_view_if_needed()
    menu = heatmap.locator(".widget-dropdown select")
    menu.wait_for(timeout=30_000)
    image = heatmap.locator(".widget-output img").first
    image.wait_for(timeout=30_000)
    before = image.get_attribute("src")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "lab-ch02-heatmap-first.png"))
    options = menu.locator("option").all_inner_texts()
    assert len(options) > 2, f"the sentence menu offers too few sentences: {options}"
    menu.select_option(index=len(options) - 1)
    page.wait_for_function(
        "(before) => { const img = document.querySelector("
        "'.jp-Notebook .widget-output img'); return img && img.src !== before; }",
        arg=before,
        timeout=30_000,
    )
    heatmap.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "lab-ch02-heatmap-last.png"))

    report = validate(page)
    page.screenshot(path=str(SCREENSHOTS / "lab-ch02-solved-validate.png"))
    assert "validation-success" in report, "Validate should pass with the reference answers:\n" + report[:2000]
    assert not offsite, f"JupyterLab loaded from another host: {offsite}"
    page.close()
