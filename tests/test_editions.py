"""The solutions edition (make book-solutions): every exercise page runs with its reference answers."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.notebooks import SOLUTION_BEGIN, nbgrader_meta, read_notebook
from conftest import ASSIGNMENTS, KERNELS, ROOT, source_notebook

pytestmark = [pytest.mark.slow, KERNELS]


@pytest.fixture(scope="module")
def solutions_site(tmp_path_factory) -> Path:
    """Built as the Makefile's book-solutions target does, warnings as errors."""
    base = tmp_path_factory.mktemp("solutions-edition")
    makefile = (ROOT / "Makefile").read_text()
    assert "autograder solutions-edition _build/solutions-src" in makefile and "GPTCOURSE_EDITION=solutions" in makefile
    subprocess.run([sys.executable, "-m", "autograder", "solutions-edition", str(base / "src")], check=True)
    jb = Path(sys.executable).with_name("jupyter-book")
    env = {**os.environ, "GPTCOURSE_ROOT": str(ROOT), "GPTCOURSE_EDITION": "solutions"}
    proc = subprocess.run(
        [str(jb), "build", "-W", "-n", "--keep-going", str(base / "src"), "--path-output", str(base / "out")],
        capture_output=True,
        text=True,
        env=env,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, (
        "the solutions edition does not build cleanly:\n"
        + "\n".join(line for line in log.splitlines() if "WARNING" in line or "ERROR" in line or "Error" in line)[
            -5000:
        ]
    )
    return base / "out" / "_build" / "html"


def test_every_exercise_page_shows_its_answers_run_and_passing(solutions_site):
    for assignment in ASSIGNMENTS:
        source = source_notebook(assignment)
        page = (solutions_site / "notebooks" / assignment / f"{source.stem}.html").read_text()
        text = re.sub(r"<[^>]+>", "", page)
        assert "Solutions edition" in text and "the hidden tests (the grader adds them)" in text
        for cell in read_notebook(source).cells:
            if nbgrader_meta(cell).get("solution") and SOLUTION_BEGIN in cell.source:
                body = cell.source.split(SOLUTION_BEGIN, 1)[1].split("### END SOLUTION", 1)[0]
                longest = max((line.strip() for line in body.splitlines()), key=len)
                assert re.sub(r"\s+", "", longest) in re.sub(
                    r"\s+",
                    "",
                    text.replace("&quot;", '"')
                    .replace("&#39;", "'")
                    .replace("&gt;", ">")
                    .replace("&lt;", "<")
                    .replace("&amp;", "&"),
                ), f"{assignment}: the answer of {nbgrader_meta(cell)['grade_id']} is not on the page"
        assert "Traceback" not in text, f"{assignment}: a cell failed"
        executed = json.loads(
            (solutions_site.parent / "jupyter_execute" / "notebooks" / assignment / source.name).read_text()
        )
        errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
        ran = [c for c in executed["cells"] if c["cell_type"] == "code" and c.get("execution_count")]
        assert ran and not errors, f"{assignment}: the solved notebook did not run cleanly: {errors[:1]}"
    index = (solutions_site / "book" / "ch01-seq2seq.html").read_text()
    assert "Solutions edition" in index  # every page says which edition it is
