"""Operating Cadenza: readiness, the figures an operator watches, retention and backups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.operations.figures import Figures as Figures
    from cadenza.services.operations.figures import read_figures as read_figures
    from cadenza.services.operations.readiness import readiness_problem as readiness_problem
    from cadenza.services.operations.retention import ROLLUPS as ROLLUPS
    from cadenza.services.operations.retention import PruneReport as PruneReport
    from cadenza.services.operations.retention import prune as prune
else:
    __getattr__, __dir__ = exports(__name__)
