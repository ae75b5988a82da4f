"""The exercises outside this repository, as a student gets them: a bare Python with only torch and Jupyter.

One fresh virtual environment (outside the repository, in a folder of its own) starts with what Colab or a
bare Jupyter has: torch, ipykernel, and nbval to run the notebooks. The course package is installed the two
ways the README gives:

* Colab / a JupyterHub: the notebook and the course's wheel lie side by side in a folder; the notebook's
  setup cell installs the wheel into the running kernel. Every chapter's notebook with its answers filled in
  then runs through nbval (``pytest --nbval-lax``): all pass.
* A laptop: the README's ``pip install`` of the wheel. The unmodified student releases then run through
  nbval: their exercise cells fail with ``NotImplementedError`` (the work to do), never an import error.

The kernel's home folder cannot be written (HOME points inside a file), so no cell may rely on one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
import torch

import gptcourse
from autograder.notebooks import fill_solutions, read_notebook
from autograder.setup_cell import build_distributions, wheel_name
from conftest import ASSIGNMENTS, KERNELS, ROOT, release_notebook, source_notebook

pytestmark = [pytest.mark.slow, KERNELS]

WHEEL = wheel_name(gptcourse.__version__)
#: The laptop step of the README, exactly.
LAPTOP_INSTALL = f'pip install "./{WHEEL}"'


def _run(command, **kwargs):
    proc = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert proc.returncode == 0, f"{command} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """(python of a fresh venv with torch, ipykernel, nbval only; a folder holding the course's wheel; env)."""
    base = tmp_path_factory.mktemp("anywhere")
    wheels = base / "wheel"
    build_distributions(wheels, ROOT)
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    _run(
        [str(python), "-m", "pip", "install", "--quiet", f"torch=={torch.__version__}", "ipykernel", "nbval", "pytest"]
    )
    (base / "not-a-folder").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "GPTCOURSE", "JUPYTER"))}
    # HOME lies inside a file: nothing can be written there. Jupyter's connection files and pip's cache (the
    # tools', not the notebooks') get folders of their own, as a JupyterHub with a read-only home gives them.
    env.update(
        PATH=f"{venv / 'bin'}:/usr/bin:/bin",
        HOME=str(base / "not-a-folder" / "home"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        PIP_CACHE_DIR=str(base / "pip-cache"),
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
    )
    return python, wheels / WHEEL, env, base


def _nbval(python, folder: Path, env) -> dict[str, list[str]]:
    """Run every notebook of ``folder`` through nbval (lax); notebook -> the failure messages of its cells."""
    report = folder / "report.xml"
    subprocess.run(
        [
            str(python),
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--junitxml={report}",
            *sorted(p.name for p in folder.glob("*.ipynb")),
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    failures: dict[str, list[str]] = {p.name: [] for p in folder.glob("*.ipynb")}
    for case in ET.parse(report).getroot().iter("testcase"):
        for problem in list(case.iter("failure")) + list(case.iter("error")):
            name = case.get("classname", "").split(".")[0] + ".ipynb"
            failures.setdefault(name, []).append(
                f"{case.get('name')}: {problem.get('message', '')}\n{problem.text or ''}"
            )
    return failures


def test_setup_cell_installs_the_wheel_and_every_solved_notebook_passes_nbval(bare):
    python, wheel, env, base = bare
    work = base / "colab"  # what a student uploads: the notebook and the wheel, side by side
    work.mkdir()
    shutil.copy(wheel, work / wheel.name)
    for assignment in ASSIGNMENTS:
        solved = fill_solutions(read_notebook(release_notebook(assignment)), read_notebook(source_notebook(assignment)))
        nbformat.write(solved, work / f"{assignment}.ipynb")
    failures = _nbval(python, work, env)
    assert not any(failures.values()), "\n\n".join(
        f"{nb}:\n" + "\n".join(f[:3000] for f in fs) for nb, fs in failures.items() if fs
    )
    pip_list = _run([str(python), "-m", "pip", "list", "--format=freeze"], env=env).stdout
    assert f"gptcourse=={gptcourse.__version__}" in pip_list
    assert f"torch=={torch.__version__}" in pip_list, "the setup cell changed torch"


def test_readme_install_then_the_release_fails_only_where_work_is_to_do(bare):
    python, wheel, env, base = bare
    readme = (ROOT / "README.md").read_text()
    assert LAPTOP_INSTALL.replace(gptcourse.__version__, "<version>") in readme.replace(
        gptcourse.__version__, "<version>"
    ), f"the README's laptop step is not `{LAPTOP_INSTALL}`"
    work = base / "laptop"
    work.mkdir()
    shutil.copy(wheel, work / wheel.name)
    _run([str(python), "-m", "pip", "uninstall", "--quiet", "--yes", "gptcourse"], env=env)
    _run([str(python), "-m", *LAPTOP_INSTALL.replace('"', "").split()], cwd=work, env=env)
    for assignment in ASSIGNMENTS:
        shutil.copy(release_notebook(assignment), work / f"{assignment}.ipynb")
    failures = _nbval(python, work, env)
    for notebook, messages in failures.items():
        assert messages, f"{notebook}: the unmodified release passes every cell"
        bad = [m for m in messages if not re.search(r"NotImplementedError|not written yet", m)]
        assert not bad, f"{notebook} fails with something other than the work to do:\n" + "\n".join(
            b[:2000] for b in bad
        )
