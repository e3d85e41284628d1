"""Audiences: saved views, the contacts they match, and sequences' standing entry rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.audiences.enrolling import enroll_account as enroll_account
    from cadenza.services.audiences.enrolling import enroll_view as enroll_view
    from cadenza.services.audiences.evaluating import AudienceStatus as AudienceStatus
    from cadenza.services.audiences.evaluating import Evaluation as Evaluation
    from cadenza.services.audiences.evaluating import audience_sequences as audience_sequences
    from cadenza.services.audiences.evaluating import evaluate as evaluate
    from cadenza.services.audiences.evaluating import is_due as is_due
    from cadenza.services.audiences.evaluating import latest_change as latest_change
    from cadenza.services.audiences.evaluating import rule_of as rule_of
    from cadenza.services.audiences.evaluating import run_due as run_due
    from cadenza.services.audiences.evaluating import status as status
    from cadenza.services.audiences.listing import page_view_contacts as page_view_contacts
    from cadenza.services.audiences.listing import view_accounts as view_accounts
    from cadenza.services.audiences.matching import iter_matching as iter_matching
    from cadenza.services.audiences.matching import matching_accounts as matching_accounts
    from cadenza.services.audiences.matching import matching_contacts as matching_contacts
    from cadenza.services.audiences.views import ViewRow as ViewRow
    from cadenza.services.audiences.views import create_view as create_view
    from cadenza.services.audiences.views import delete_view as delete_view
    from cadenza.services.audiences.views import page_views as page_views
    from cadenza.services.audiences.views import update_view as update_view
    from cadenza.services.audiences.views import view_for as view_for
else:
    __getattr__, __dir__ = exports(__name__)
