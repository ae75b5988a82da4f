"""The exercise notebooks' setup cell, generated from the course's one configured address.

The course's public addresses live in one place, ``_config.yml`` (``repository.url``, the repository's
web address, and ``html.baseurl``, where the site is published); both may be empty. ``make release``
writes every source notebook's setup cell from :func:`setup_source` (so the release has it too), and a
test checks that the notebooks follow the configuration: a course that is forked and re-hosted changes
one line and runs ``make release``.

The cell follows what has broken other courses on Colab: it installs only where ``gptcourse`` is missing;
it never installs or changes torch (pip gets a constraint holding the installed torch); every requirement
is quoted; the course package is pinned to the release the notebook came from (its dependencies are not
pinned); it installs into the running kernel's environment (``sys.executable -m pip``); and it prints the
versions in use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP_ID = "setup"  # the grade_id of the setup cell (a locked instructor cell, first after the title)


@dataclass(frozen=True)
class Address:
    """Where the course lives: the repository's web address and the site's, each "" when not configured."""

    repository: str = ""
    site: str = ""


def course_address(root: Path = ROOT) -> Address:
    """The addresses configured in ``_config.yml`` (the one place they are set)."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8")) or {}
    repository = ((config.get("repository") or {}).get("url") or "").strip().rstrip("/")
    site = ((config.get("html") or {}).get("baseurl") or "").strip().rstrip("/")
    return Address(repository=repository, site=site)


def course_version(root: Path = ROOT) -> str:
    """``gptcourse.__version__`` as written in the package's source (the one place it is written)."""
    import ast

    tree = ast.parse((root / "gptcourse" / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__version__" for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError(f"{root / 'gptcourse' / '__init__.py'} does not set __version__")


def wheel_name(version: str) -> str:
    return f"gptcourse-{version}-py3-none-any.whl"


def build_distributions(out: Path, root: Path = ROOT, sdist: bool = False) -> list[Path]:
    """Build the course package's wheel (and sdist) into ``out``; return the files.

    Built from a copy of the package's files, so that builds running at the same time (the book's, the tests')
    never share setuptools' scratch folders in the repository.
    """
    import shutil
    import subprocess
    import sys
    import tempfile

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="gptcourse-build-") as scratch:
        tree = Path(scratch) / "src"
        tree.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, tree / name)
        for package in ("gptcourse", "autograder"):
            shutil.copytree(
                root / package,
                tree / package,
                ignore=shutil.ignore_patterns("__pycache__", "*.db", "submitted", "autograded", "feedback", "out"),
            )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--no-isolation",
                "--outdir",
                str(out),
                *([] if sdist else ["--wheel"]),
                str(tree),
            ],
            capture_output=True,
            text=True,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"building the course package failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    version = course_version(root)
    files = [out / wheel_name(version)] + ([out / f"gptcourse-{version}.tar.gz"] if sdist else [])
    missing = [f for f in files if not f.is_file()]
    if missing or "WARNING" in proc.stdout + proc.stderr:
        raise RuntimeError(
            f"building the course package: missing {missing} or warnings:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return files


#: Where the site serves the course package's wheel (relative to the site's root).
WHEEL_FOLDER = "_static/wheels"


def install_sources(version: str, address: Address, extras: str = "") -> list[str]:
    """The pip requirements to try, best first (the wheel next to the notebook is always the last resort)."""
    name = f"gptcourse{extras}"
    sources = []
    if address.site:
        sources.append(f"{name} @ {address.site}/{WHEEL_FOLDER}/{wheel_name(version)}")
    if address.repository:
        sources.append(f"{name} @ git+{address.repository}@v{version}")
    return sources


#: The modules each extra of the course package brings (what the setup cell checks before installing).
EXTRA_MODULES = {"hf": ["transformers", "tiktoken"]}


def setup_source(version: str, address: Address, extras: str = "") -> str:
    """The code of the setup cell for a notebook whose package extras are ``extras`` (e.g. ``"[hf]"``)."""
    wheel = wheel_name(version)
    remote = install_sources(version, address, extras)
    needed = ["gptcourse"] + [m for e in extras.strip("[]").split(",") if e for m in EXTRA_MODULES[e]]
    where = " or ".join(
        ["the course site"] * bool(address.site) + ["the course's repository"] * bool(address.repository)
    )
    missing_hint = (
        f'"gptcourse is not installed. Download {wheel} from this exercise\'s page on the "\n'
        '                           "course site, put it next to this notebook (in Colab: the Files panel), '
        'and run this cell again."'
    )
    origin = (
        f"from the file {wheel} if it lies next to this\n# notebook, else from {where}"
        if where
        else f"from the file {wheel} put next to this\n# notebook (the exercise's page on the course site offers it)"
    )
    return f'''# Setup: run this cell first. Where the course package is missing (Colab, a JupyterHub, your own Jupyter), it
# installs gptcourse{extras} {version} into this kernel {origin}. torch is never installed or changed here.
import importlib.util, os, shlex, subprocess, sys, tempfile

COURSE_VERSION = "{version}"
if any(importlib.util.find_spec(name) is None for name in {needed!r}):
    if importlib.util.find_spec("torch") is None:
        raise RuntimeError("Install PyTorch for this machine first (pip install torch), then run this cell again.")
    from importlib.metadata import version as installed

    wheel = os.path.abspath("{wheel}")
    sources = [f"gptcourse{extras} @ file://{{wheel}}"] if os.path.isfile(wheel) else {remote!r}
    if not sources:
        raise RuntimeError({missing_hint})
    keep_torch = os.path.join(tempfile.mkdtemp(), "keep-torch.txt")
    with open(keep_torch, "w") as f:
        f.write(f"torch=={{installed('torch')}}\\n")  # pip may not change the torch this kernel has
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--constraint", keep_torch, sources[0]]
    print("Installing the course package:", shlex.join(command))
    subprocess.run(command, check=True)
    importlib.invalidate_caches()

import gptcourse, torch

if gptcourse.__version__ != COURSE_VERSION:
    print(f"Note: this notebook comes with gptcourse {{COURSE_VERSION}}; this kernel has {{gptcourse.__version__}}.")
print(f"gptcourse {{gptcourse.__version__}}, torch {{torch.__version__}}, Python {{sys.version.split()[0]}}, "
      f"device: {{gptcourse.default_device()}}")'''


SETUP_TEXT = (
    "**Setup.** Run the setup cell below first. In the course's own environment (`make lab`) it only "
    "prints the versions in use;\nanywhere else (Google Colab, a JupyterHub, your own Jupyter) it installs "
    "the course package into this\nnotebook's kernel, as its first lines say."
)


def extras_of(nb) -> str:
    """The package extras a notebook needs (notebook metadata ``gptcourse.extras``), as pip writes them."""
    extras = list((nb.metadata.get("gptcourse") or {}).get("extras") or [])
    return f"[{','.join(extras)}]" if extras else ""


def with_setup_cell(nb, path_name: str, root: Path = ROOT):
    """``nb`` with its setup cell (first after the title) and title text as the configuration says; a copy."""
    import copy
    import re

    import nbformat

    nb = copy.deepcopy(nb)
    source = setup_source(course_version(root), course_address(root), extras_of(nb))
    ids = [c.get("metadata", {}).get("nbgrader", {}).get("grade_id") for c in nb.cells]
    if SETUP_ID in ids:
        cell = nb.cells[ids.index(SETUP_ID)]
    else:
        cell = nbformat.v4.new_code_cell(
            id="course-setup",
            metadata={
                "nbgrader": {
                    "grade": False,
                    "grade_id": SETUP_ID,
                    "locked": True,
                    "schema_version": 3,
                    "solution": False,
                    "task": False,
                }
            },
        )
        nb.cells.insert(1, cell)
    cell.source = source
    title = nb.cells[0]
    title.source = re.sub(
        r"\*\*Setup\.\*\*.*?(?=\n\n(?!```)|\Z)(\n\n```.*?```)?", SETUP_TEXT, title.source, count=1, flags=re.S
    )
    nb.metadata["colab"] = {"name": path_name, "provenance": []}  # Colab opens it as this file, Python 3
    return nb
