"""The course's grading tools, built on nbgrader.

- ``python -m autograder release``  regenerate the student notebooks in ``notebooks/`` from ``solutions/``
- ``python -m autograder check``    validate the nbgrader metadata of every source notebook
- ``python -m autograder grade``    grade a class's submissions in parallel, safely (autograder/README.md)
- ``python -m autograder merge``    join the outputs of sharded ``grade`` runs
- ``python -m autograder gradescope``   Gradescope's ``run_autograder`` entry point
"""

from .interpreter import ensure_tools_on_path as _ensure_tools_on_path

# nbgrader runs helper programs (alembic) by name; make the ones installed beside this Python
# findable even when its environment is not activated.
_ensure_tools_on_path()
