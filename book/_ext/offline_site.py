"""The site works offline and its pages load cleanly.

1. MathJax is served from the site itself, so every page typesets its math with no internet.
   MathJax 3 comes from the PyPI package ``django-static-mathjax`` (the unmodified MathJax
   distribution as package data; nothing of Django is used). After the HTML build the files the
   pages need (the tex-chtml component, the TeX extensions it may load, its fonts and menu) are
   copied to ``_static/mathjax/``, and ``_config.yml`` points ``mathjax_path`` there.
2. The course has no live-code (thebe) cells, so thebe's scripts are left out of the pages: they
   would point at a CDN, and Jupyter Book 1 includes their configuration twice, which is a script
   error in every browser console.
3. Progress bars on the pages are text, not widgets (``GPTCOURSE_TEXT_PROGRESS``, read by
   ``gptcourse.progress``): a widget would need the widget manager from a CDN to render.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

#: The parts of MathJax's es5 build that a page with TeX math can load.
NEEDED = ["tex-chtml.js", "input/tex/extensions", "output/chtml/fonts/woff-v2", "ui", "a11y", "adaptors"]


def mathjax_es5() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            "MathJax is not installed: run `pip install -r requirements.txt` "
            "(it provides django-static-mathjax, the MathJax files the site serves itself)"
        )
    es5 = Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise ExtensionError(f"{es5}/tex-chtml.js is missing: reinstall django-static-mathjax")
    return es5


def copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_es5(), Path(app.outdir) / "_static" / "mathjax"
    for part in NEEDED:
        src = source / part
        if src.is_dir():
            shutil.copytree(src, target / part, dirs_exist_ok=True)
        elif src.is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target / part)


def drop_thebe(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = [
            s
            for s in scripts
            if "thebe" not in str(s).lower() and "THEBE" not in str(getattr(s, "attributes", {}).get("body", ""))
        ]


def setup(app):
    mathjax_es5()  # fail early, with the fix, if MathJax is missing
    # The pages' kernels inherit this: gptcourse.progress then draws text bars, which a static page shows,
    # instead of widgets, which it cannot run without a widget manager from a CDN.
    os.environ["GPTCOURSE_TEXT_PROGRESS"] = "1"
    app.connect("build-finished", copy_mathjax)
    app.connect("html-page-context", drop_thebe)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
