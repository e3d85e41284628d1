"""A/B variants: which one an enrollment gets at a step, the same on every try and dry run."""

from __future__ import annotations

import hashlib

from cadenza.core.definition import EmailStep, SmsStep, Step, Variant


def variants_of(step: Step) -> list[Variant]:
    """The step's variants (none for a step that is not an A/B test)."""
    return list(step.variants) if isinstance(step, EmailStep | SmsStep) else []


def pick(step: Step, enrollment_id: int, winner: str | None = None) -> Variant | None:
    """The enrollment's variant: the winner once there is one, else by weight.

    A hash of the enrollment and the step places the enrollment on [0, 1): the same place
    whenever it is asked (a retry, a dry run), spread evenly across enrollments.
    """
    variants = variants_of(step)
    if not variants:
        return None
    if winner is not None:
        chosen = next((v for v in variants if v.key == winner), None)
        if chosen is not None:
            return chosen
    digest = hashlib.sha256(f"{enrollment_id}:{step.key}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in variants)
    for variant in variants:
        point -= variant.weight
        if point < 0 and variant.weight > 0:
            return variant
    return next(v for v in reversed(variants) if v.weight > 0)


def apply(step: Step, variant: Variant | None) -> Step:
    """The step as its variant sends it (its own subject and body where it has them)."""
    if variant is None:
        return step
    update = {"body": variant.body} if variant.body is not None else {}
    if isinstance(step, EmailStep) and variant.subject is not None:
        update["subject"] = variant.subject
    return step.model_copy(update=update) if update else step
