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
"""

from __future__ import annotations

import html
import os
import sys
from pathlib import Path

from sphinx.errors import ExtensionError

BOOK = Path(__file__).resolve().parents[1]  # book/: its _templates/ and _static/ belong to the site

# the course's repository (the solutions edition builds a copy of the book elsewhere and says where it is)
ROOT = Path(os.environ.get("GPTCOURSE_ROOT") or Path(__file__).resolve().parents[2])
sys.path.insert(0, str(ROOT))
from autograder.setup_cell import WHEEL_FOLDER, build_distributions, course_address  # noqa: E402


def solutions_edition() -> bool:
    return os.environ.get("GPTCOURSE_EDITION", "") == "solutions"


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
        config.html_baseurl = address.site + "/"
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
    app.config._course_wheel = wheel.name


def banner(app, pagename, templatename, context, doctree) -> None:
    if doctree is None or "body" not in context:
        return
    wheel = app.config._course_wheel
    parts = []
    if solutions_edition():
        parts.append(
            '<div class="admonition important"><p class="admonition-title">Solutions edition</p>'
            "<p>This is the course's solutions edition: every exercise shows its notebook run with the "
            "reference answers, visible and hidden tests passing. Try each exercise yourself first.</p></div>"
        )
    if pagename.startswith("notebooks/"):
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
    app.add_config_value("_course_wheel", "", "html")
    app.connect("config-inited", configure)
    app.connect("html-page-context", banner)
    # after the theme's own handler (priority 500), which puts generate_toctree_html into the context
    app.connect("html-page-context", name_toc_toggles, priority=900)
    app.add_css_file("course.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
