"""nbgrader, wired to this repository's layout.

    solutions/<assignment>/      the instructors' source notebooks (solutions + hidden tests)
    notebooks/<assignment>/      the student release, generated: `make release`
    autograder/submitted/<student>/<assignment>/    collected work (git-ignored)
    autograder/autograded/, autograder/feedback/    grading results (git-ignored)

An assignment is a chapter folder, e.g. ``ch00-warmup``.
"""

import os
import sys

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

ROOT = os.path.dirname(os.path.abspath(__file__))

c.CourseDirectory.course_id = "seq2seq-to-gpt2"
c.CourseDirectory.root = ROOT
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = os.path.join("autograder", "submitted")
c.CourseDirectory.autograded_directory = os.path.join("autograder", "autograded")
c.CourseDirectory.feedback_directory = os.path.join("autograder", "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(ROOT, "autograder", "gradebook.db")
# Only notebooks are released; course data comes from the gptcourse package, not from files.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]

# Student code may take a while to train a small model; the autograder sets its own limits.
c.ExecutePreprocessor.timeout = 300
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# Executing notebooks with ipywidgets sometimes waits a whole cell timeout for a reply that has
# arrived (jupyter/nbclient#312); the course's kernel client polls in slices of a second instead.
# Where the repository's autograder package cannot be imported, nbgrader keeps its own client.
sys.path.insert(0, ROOT)
try:
    from autograder.kernel_client import SlicedPollKernelClient
except ImportError:
    pass
else:
    c.AsyncKernelManager.client_factory = SlicedPollKernelClient
