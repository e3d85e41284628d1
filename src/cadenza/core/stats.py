"""Significance of a difference between two rates: the two-proportion z-test, in pure Python."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Significance:
    """A two-sided two-proportion z-test of rate A against rate B."""

    z: float
    p_value: float

    @property
    def significant(self) -> bool:
        """At the 95% level (p < 0.05)."""
        return self.p_value < 0.05


def two_proportions(hits_a: int, n_a: int, hits_b: int, n_b: int) -> Significance | None:
    """z and p for hits_a/n_a against hits_b/n_b; None when there is nothing to test.

    The pooled standard error: under "no difference" both samples share one rate. Needs at
    least one hit and one miss overall, and both samples non-empty.
    """
    if n_a <= 0 or n_b <= 0:
        return None
    pooled = (hits_a + hits_b) / (n_a + n_b)
    if pooled in (0.0, 1.0):
        return None
    error = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (hits_a / n_a - hits_b / n_b) / error
    return Significance(z, math.erfc(abs(z) / math.sqrt(2)))
