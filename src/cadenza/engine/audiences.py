"""The audience runner: evaluates sequences' audiences as the worker loops."""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from cadenza.clock import Clock
from cadenza.services.audiences import Evaluation, run_due
from cadenza.settings import Settings

log = logging.getLogger(__name__)
INTERVAL = 1.0  # seconds between looks: a change is picked up within about this


class AudienceRunner:
    """Looks for due audiences (their `every`, or a contact changed) at most every INTERVAL."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        settings: Settings,
        *,
        interval: float = INTERVAL,
    ) -> None:
        self.sessions, self.clock, self.settings = sessions, clock, settings
        self.interval = interval
        self._last = float("-inf")

    def run(self, now: datetime | None = None) -> list[Evaluation]:
        """Evaluate every due audience now."""
        self._last = time.monotonic()
        done = run_due(self.sessions, now or self.clock.now(), self.settings)
        for evaluation in done:
            log.info(
                "audience evaluated",
                extra={
                    "sequence": evaluation.sequence,
                    "examined": evaluation.examined,
                    "enrolled": len(evaluation.enrolled),
                    "refused": len(evaluation.refused),
                    "error": evaluation.error,
                },
            )
        return done

    def tick(self) -> None:
        """Run when the interval has passed; a failure is logged and tried again next time."""
        if time.monotonic() - self._last < self.interval:
            return
        try:
            self.run()
        except Exception:  # the database went away: the next look tries again
            log.exception("evaluating audiences failed")
