"""A/B variants in a definition: lint at their line, assignment by weight, the z-test."""

from __future__ import annotations

from collections import Counter

import pytest

from cadenza.core.lint import lint_text
from cadenza.core.stats import two_proportions
from cadenza.core.variants import apply, pick
from cadenza.services.sequences.applying import canonical

BASE = """\
name: AB
senders: {email: "a@acme.example"}
steps:
  - key: hello
    action: email
    subject: "Hi"
    body: "<p>x</p>"
"""


def _problems(extra: str) -> list[str]:
    _definition, problems = lint_text(BASE + extra, "ab.yaml")
    return [str(p) for p in problems]


def test_variants_are_checked_at_their_line() -> None:
    duplicate = "    variants:\n      - {key: a}\n      - {key: a}\n"
    assert any("duplicate key 'a'" in p for p in _problems(duplicate))
    alone = "    variants:\n      - {key: a}\n"
    assert any("at least two variants" in p for p in _problems(alone))
    no_variants = "    winner: {metric: replied, after: 10}\n"
    assert any("only a step with variants" in p for p in _problems(no_variants))
    typo = "    variants:\n      - {key: a, subject: 'Hi {{ contact.frist_name }}'}\n"
    typo += "      - {key: b}\n"
    [problem] = _problems(typo)
    assert problem.startswith("ab.yaml:9:") and "contact.frist_name" in problem
    bad_metric = "    variants: [{key: a}, {key: b}]\n    winner: {metric: sent, after: 10}\n"
    assert _problems(bad_metric)


def test_assignment_is_stable_and_follows_the_weights() -> None:
    definition, problems = lint_text(
        BASE + "    variants:\n      - {key: a, weight: 1}\n      - {key: b, weight: 3}\n"
        "      - {key: off, weight: 0}\n",
        "ab.yaml",
    )
    assert definition is not None and not problems
    step = definition.steps[0]
    assert [pick(step, 7) for _ in range(5)] == [pick(step, 7)] * 5
    counts = Counter(v.key for v in (pick(step, i) for i in range(4000)) if v is not None)
    assert counts["off"] == 0
    assert 0.7 < counts["b"] / 4000 < 0.8
    assert pick(step, 7, winner="a") == step.variants[0]
    assert apply(step, step.variants[0]).subject == "Hi"  # the step's own where it has none


def test_a_step_without_variants_is_stored_as_before() -> None:
    definition, _ = lint_text(BASE, "ab.yaml")
    assert definition is not None
    assert "variants" not in canonical(definition)["steps"][0]


@pytest.mark.parametrize(
    ("a", "n_a", "b", "n_b", "z", "p"),
    [(30, 100, 15, 100, 2.54, 0.0111), (10, 100, 10, 100, 0.0, 1.0)],
)
def test_the_two_proportion_z_test(a: int, n_a: int, b: int, n_b: int, z: float, p: float) -> None:
    test = two_proportions(a, n_a, b, n_b)
    assert test is not None
    assert round(test.z, 2) == z and round(test.p_value, 4) == p
    assert test.significant is (p < 0.05)
    assert two_proportions(0, 10, 0, 10) is None and two_proportions(1, 0, 1, 5) is None
