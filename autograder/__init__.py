"""The course's grading tools, built on nbgrader.

- ``python -m autograder release``  regenerate the student notebooks in ``notebooks/`` from ``solutions/``
- ``python -m autograder check``    validate the nbgrader metadata of every source notebook
"""
