"""Enrolling contacts in bulk: the rules read a few columns, the first step is decided once per
time zone, and the rows of a chunk go in together.

`machine.enroll` reads the contact only for its time zone (the first step's due time is
`wait` from now, moved to an allowed instant in that zone), and so does the enrollment-hours
rule: both are worked out once per distinct zone in a call instead of once per contact
(tests/unit/test_enroll_decision.py fails should the machine come to read more).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from cadenza.core import calendar, machine, reach
from cadenza.core.contact import ContactView
from cadenza.core.decisions import LIVE_OR_PAUSED, Decision, HistoryEntry
from cadenza.core.definition import Definition
from cadenza.services import history
from cadenza.store import candidates, copies
from cadenza.store.bulk import ENROLLMENTS
from cadenza.store.candidates import Candidate
from cadenza.store.models import Event

CHUNK = 10_000  # contacts per round of four statements
EVENTS: Table = Event.__table__  # type: ignore[assignment]


@dataclass
class EnrollReport:
    """Who was enrolled and who was refused, with the reason for each refusal."""

    sequence: str
    enrolled: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """The sequence version contacts are enrolled into."""

    sequence_id: int
    version_id: int
    definition: Definition
    paused: bool  # a paused sequence takes enrollments, which wait until it resumes


class Enroller:
    """Enrolls chunks of contacts into one target at one instant, as one actor."""

    def __init__(
        self,
        target: Target,
        now: datetime,
        quiet: calendar.QuietHours,
        *,
        initiator_id: int | None,
        actor: str,
        depth: int,
    ) -> None:
        self.target, self.now, self.quiet = target, now, quiet
        self.initiator_id, self.actor, self.depth = initiator_id, actor, depth
        self.actions = {step.action for step in target.definition.steps}
        # Per time zone: the new enrollment's columns and its history rows, less their ids.
        self._starts: dict[str | None, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        self._outside: dict[str | None, str | None] = {}  # per time zone: outside hours?
        self._refusals: dict[str, dict[str, Any]] = {}  # per reason: the history row

    def enroll(self, session: Session, contact_ids: list[int], report: EnrollReport) -> None:
        """Enroll a chunk of distinct contact ids, refusing (with a reason) who may not be."""
        found = candidates.load(session, self.target.sequence_id, contact_ids)
        enrolled: list[tuple[int, dict[str, Any], list[dict[str, Any]]]] = []
        events: list[copies.Row] = []
        for contact_id in contact_ids:
            candidate = found.get(contact_id)
            if candidate is None:
                report.refused.append((contact_id, "no such contact"))
                continue
            reason = self.refusal(candidate)
            if reason is not None:
                report.refused.append((contact_id, reason))
                events.append(((contact_id, None), self._refused(reason)))
                continue
            enrolled.append((contact_id, *self._start(candidate.timezone)))
        ids = copies.draw_ids(session, ENROLLMENTS, len(enrolled))
        rows: list[copies.Row] = []
        for enrollment_id, (contact_id, row, entries) in zip(ids, enrolled, strict=True):
            rows.append(((enrollment_id, contact_id), row))
            events.extend(((contact_id, enrollment_id), entry) for entry in entries)
            report.enrolled.append(contact_id)
        copies.insert(session, ENROLLMENTS, ("id", "contact_id"), rows)
        copies.insert(session, EVENTS, ("contact_id", "enrollment_id"), events)

    def refusal(self, contact: Candidate) -> str | None:
        """Why this contact may not be enrolled now, if so."""
        policy = self.target.definition.enrollment
        before = contact.before
        if before and policy.reentry == "never":
            return "already enrolled once (reentry: never)"
        if before and policy.reentry != "always" and any(s in LIVE_OR_PAUSED for s in before):
            return "already in this sequence"
        blocked = reach.unreachable(self.actions, contact) if reach.any_flag(contact) else None
        if blocked:
            return blocked
        end = self.target.definition.schedule.end
        if end is not None and self.now >= end:
            return f"past the sequence's end ({end.isoformat()})"
        minutes = policy.communicating_minutes
        inbound = contact.last_inbound_at
        if minutes and inbound is not None and (self.now - inbound).total_seconds() < minutes * 60:
            return f"the contact wrote in the last {minutes} minutes (skip_if_communicating)"
        if policy.only_enroll_between is not None:
            return self._outside_hours(contact.timezone)
        return None

    def _outside_hours(self, timezone: str | None) -> str | None:
        if timezone not in self._outside:
            window = self.target.definition.enrollment.only_enroll_between
            assert window is not None
            zone = calendar.recipient_zone(self.target.definition.schedule, timezone)
            local = self.now.astimezone(zone).time()
            self._outside[timezone] = (
                None
                if window.open <= local < window.close
                else (
                    f"outside enrollment hours {window.open:%H:%M}-{window.close:%H:%M} "
                    f"({local:%H:%M} {zone.key})"
                )
            )
        return self._outside[timezone]

    def _start(self, timezone: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The enrollment row and history rows (less their ids) for a contact in this zone."""
        found = self._starts.get(timezone)
        if found is None:
            contact = ContactView(timezone=timezone)  # all machine.enroll reads of a contact
            status = "paused" if self.target.paused else "active"
            situation = machine.Situation(
                self.target.definition,
                contact,
                now=self.now,
                sequence_status=status,
                quiet=self.quiet,
            )
            decision = machine.enroll(situation, depth=self.depth)
            entries = [self._history_row(entry) for entry in decision.history]
            found = self._starts[timezone] = (self._row(decision), entries)
        return found

    def _row(self, decision: Decision) -> dict[str, Any]:
        state, target = decision.state, self.target
        return {
            "sequence_id": target.sequence_id,
            "version_id": target.version_id,
            "status": state.status,
            "step": state.step,
            "due_at": state.due_at,
            "enrolled_at": self.now,
            "updated_at": self.now,
            "initiator_id": self.initiator_id,
            "state": state.to_state(),
            "paused_from": state.paused_from,
            "paused_by": state.paused_by,
        }

    def _refused(self, reason: str) -> dict[str, Any]:
        found = self._refusals.get(reason)
        if found is None:
            entry = HistoryEntry("enroll_refused", self.now, None, reason)
            found = self._refusals[reason] = self._history_row(entry)
        return found

    def _history_row(self, entry: HistoryEntry) -> dict[str, Any]:
        """An events row for the entry, less its contact and enrollment (each row's own)."""
        row = history.row(history.Subject(None, self.target.sequence_id), entry, self.actor)
        del row["contact_id"], row["enrollment_id"]
        return row
