"""Reading the counters: sums per sequence, version, step, detail and variant for a timeframe."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cadenza.errors import ValidationFailed
from cadenza.services.reports import counting
from cadenza.services.reports.metrics import WHOLE
from cadenza.store.models import ReportCount

# The message figures, in the order reports show them; `delivered` is sent less bounced.
MESSAGES = (
    "sent",
    "delivered",
    "opened",
    "clicked",
    "replied",
    "bounced",
    "unsubscribed",
    "opted_out",
    "complained",
)


@dataclass(frozen=True)
class Timeframe:
    """Days (UTC) from `since` to `until`, both included; None leaves that end open."""

    since: date | None = None
    until: date | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass
class Tally:
    """The sums of one sequence's counters: (metric, step, detail, variant, version) -> n."""

    cells: dict[tuple[str, str, str, str, int], int] = field(default_factory=dict)

    def get(self, metric: str, step: str = WHOLE, detail: str | None = None) -> int:
        """The figure, over every variant and version (and every detail if None)."""
        return sum(
            n
            for (m, s, d, _v, _ver), n in self.cells.items()
            if m == metric and s == step and (detail is None or d == detail)
        )

    def details(self, metric: str, step: str = WHOLE) -> dict[str, int]:
        """The figure per detail (reason, outcome...), largest first."""
        found: dict[str, int] = defaultdict(int)
        for (m, s, d, _v, _ver), n in self.cells.items():
            if m == metric and s == step and n:
                found[d or "unknown"] += n
        return dict(sorted(found.items(), key=lambda item: (-item[1], item[0])))

    def only(self, *, variant: str | None = None, version: int | None = None) -> Tally:
        """The cells of one variant or one version."""
        return Tally(
            {
                key: n
                for key, n in self.cells.items()
                if (variant is None or key[3] == variant) and (version is None or key[4] == version)
            }
        )

    def steps(self) -> list[str]:
        return sorted({key[1] for key in self.cells if key[1] != WHOLE})

    def variants(self, step: str) -> list[str]:
        return sorted({key[3] for key in self.cells if key[1] == step and key[3]})

    def versions(self) -> list[int]:
        return sorted({key[4] for key in self.cells})

    def messages(self, step: str = WHOLE, enrolled: int | None = None) -> dict[str, Any]:
        """Each message figure as a count and a rate over the enrollments sent to."""
        counts = {m: self.get(m, step) for m in MESSAGES if m != "delivered"}
        sent = counts["sent"]
        counts["delivered"] = max(0, sent - counts["bounced"])
        figures = {m: {"count": counts[m], "rate": rate(counts[m], sent)} for m in MESSAGES}
        figures["sent"]["rate"] = rate(sent, enrolled) if enrolled is not None else None
        return figures


def timeframe_of(since: str | None, until: str | None) -> Timeframe:
    """A timeframe from YYYY-MM-DD texts (an ISO time gives its UTC day); bad text refused."""
    timeframe = Timeframe(_day(since, "since"), _day(until, "until"))
    if timeframe.since and timeframe.until and timeframe.since > timeframe.until:
        raise ValidationFailed(f"since ({since}) comes after until ({until})")
    return timeframe


def _day(text: str | None, what: str) -> date | None:
    if text is None or text == "":
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{what}: not a date (YYYY-MM-DD): {text!r}") from None
    if moment.tzinfo is None:
        raise ValidationFailed(f"{what}: a time needs its offset: {text!r}")
    return moment.astimezone(UTC).date()


def rate(part: int, whole: int | None) -> float | None:
    """part / whole to four places; None when there is no whole to divide by."""
    return round(part / whole, 4) if whole else None


def load(session: Session, sequence_ids: Iterable[int], timeframe: Timeframe) -> dict[int, Tally]:
    """Each sequence's counters summed over the timeframe (one query, over the counters)."""
    ids = sorted(set(sequence_ids))
    tallies = {sid: Tally() for sid in ids}
    if not ids:
        return tallies
    counting.current(session)
    c = ReportCount
    keys = (c.sequence_id, c.metric, c.step, c.detail, c.variant, c.version_id)
    query = select(*keys, func.sum(c.n)).where(c.sequence_id.in_(ids)).group_by(*keys)
    if timeframe.since is not None:
        query = query.where(c.day >= timeframe.since)
    if timeframe.until is not None:
        query = query.where(c.day <= timeframe.until)
    for sid, metric, step, detail, variant, version, n in session.execute(query):
        if n:
            tallies[sid].cells[(metric, step, detail, variant, version)] = int(n)
    return tallies
