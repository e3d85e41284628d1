"""Sequences and their immutable versions: apply a definition, list and show them, and
their lifecycle (activate, pause, resume, end, archive, clone, delete, migrate)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.sequences.applying import ApplyResult as ApplyResult
    from cadenza.services.sequences.applying import Source as Source
    from cadenza.services.sequences.applying import UnknownReferences as UnknownReferences
    from cadenza.services.sequences.applying import apply_definition as apply_definition
    from cadenza.services.sequences.applying import apply_sources as apply_sources
    from cadenza.services.sequences.applying import canonical as canonical
    from cadenza.services.sequences.applying import digest as digest
    from cadenza.services.sequences.applying import lint_files as lint_files
    from cadenza.services.sequences.applying import lint_source as lint_source
    from cadenza.services.sequences.applying import references as references
    from cadenza.services.sequences.lifecycle import activate as activate
    from cadenza.services.sequences.lifecycle import archive as archive
    from cadenza.services.sequences.lifecycle import clone as clone
    from cadenza.services.sequences.lifecycle import delete as delete
    from cadenza.services.sequences.lifecycle import end as end
    from cadenza.services.sequences.lifecycle import pause as pause
    from cadenza.services.sequences.lifecycle import resume as resume
    from cadenza.services.sequences.listing import SequenceRow as SequenceRow
    from cadenza.services.sequences.listing import get_sequence as get_sequence
    from cadenza.services.sequences.listing import latest_definition as latest_definition
    from cadenza.services.sequences.listing import list_sequences as list_sequences
    from cadenza.services.sequences.listing import sequence_detail as sequence_detail
    from cadenza.services.sequences.plan import PlanLimitReached as PlanLimitReached
    from cadenza.services.sequences.plan import check_active_limit as check_active_limit
    from cadenza.services.sequences.sharing import change_sharing as change_sharing
    from cadenza.services.sequences.versions import MigrateReport as MigrateReport
    from cadenza.services.sequences.versions import migrate as migrate
else:
    __getattr__, __dir__ = exports(__name__)
