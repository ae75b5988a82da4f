"""Every slip in the mistakes catalogue (tests/mistakes/) is caught visibly, explained, and costs one thing."""

from __future__ import annotations

import importlib

import pytest

from autograder.release import assignments
from conftest import ROOT
from mistakes import Mistake, run, with_mistake

ASSIGNMENTS = assignments(ROOT)
CATALOGUE: list[tuple[str, Mistake]] = []
for _assignment in ASSIGNMENTS:
    try:
        _module = importlib.import_module("mistakes." + _assignment.replace("-", "_"))
    except ModuleNotFoundError:  # test_every_chapter_has_a_catalogue says which
        continue
    CATALOGUE += [(_assignment, m) for m in _module.MISTAKES]

pytestmark = pytest.mark.slow


def _tests(outcomes):
    return {g: o for g, o in outcomes.items() if g.startswith("test_")}


def test_every_chapter_has_a_catalogue():
    assert {a for a, _ in CATALOGUE} == set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_solution_passes_everything(assignment):
    failed = {g: o.visible or o.hidden for g, o in run(assignment).items() if o.failed}
    assert not failed, "\n\n".join(f"{g}:\n{e}" for g, e in failed.items())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_fails_every_visible_test_as_not_written(assignment):
    outcomes = _tests(run(assignment, release=True))
    assert outcomes
    for grade_id, outcome in outcomes.items():
        assert outcome.visible is not None, f"{grade_id} passes on the unmodified release"
        assert "NotImplementedError" in outcome.visible or "not written yet" in outcome.visible, (
            f"{grade_id} fails on the release with something else than NotImplementedError:\n{outcome.visible}"
        )


@pytest.mark.parametrize("assignment, mistake", CATALOGUE, ids=[f"{a[:4]}:{m.name}" for a, m in CATALOGUE])
def test_mistake_is_caught_visibly_and_costs_one_thing(assignment, mistake):
    outcomes = _tests(with_mistake(assignment, mistake))
    caught = outcomes[mistake.fails].visible
    assert caught is not None, f"no visible test of {mistake.fails} catches it" + (
        f"; the hidden tests do:\n{outcomes[mistake.fails].hidden}" if outcomes[mistake.fails].hidden else ""
    )
    message = caught.lower()
    missing = [w for w in mistake.says if w.lower() not in message]
    assert not missing, f"the message does not say {missing}:\n{caught}"
    hidden_only = {g: o.hidden for g, o in outcomes.items() if o.visible is None and o.hidden is not None}
    assert not hidden_only, "hidden tests take points the visible ones did not:\n" + "\n".join(
        f"{g}:\n{e}" for g, e in hidden_only.items()
    )
    others = {g: o.visible for g, o in outcomes.items() if o.failed and g not in (mistake.fails, *mistake.also_fails)}
    assert not others, "the slip also costs other test cells:\n" + "\n".join(f"{g}:\n{e}" for g, e in others.items())
