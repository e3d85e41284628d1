"""Enrollments: contacts entering sequences, moving through them and leaving them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.enrollments.advancing import decide_batch as decide_batch
    from cadenza.services.enrollments.bulk import EnrollReport as EnrollReport
    from cadenza.services.enrollments.enrolling import ENROLLABLE as ENROLLABLE
    from cadenza.services.enrollments.enrolling import audience as audience
    from cadenza.services.enrollments.enrolling import count_live as count_live
    from cadenza.services.enrollments.enrolling import enroll as enroll
    from cadenza.services.enrollments.enrolling import enroll_audience as enroll_audience
    from cadenza.services.enrollments.enrolling import ever_enrolled as ever_enrolled
    from cadenza.services.enrollments.enrolling import exit_contact as exit_contact
    from cadenza.services.enrollments.listing import EnrollmentRow as EnrollmentRow
    from cadenza.services.enrollments.listing import enrollment_counts as enrollment_counts
    from cadenza.services.enrollments.listing import list_enrollments as list_enrollments
    from cadenza.services.enrollments.operations import locked_enrollment as locked_enrollment
    from cadenza.services.enrollments.operations import pause_enrollment as pause_enrollment
    from cadenza.services.enrollments.operations import remove as remove
    from cadenza.services.enrollments.operations import resume_enrollment as resume_enrollment
    from cadenza.services.enrollments.operations import retry_step as retry_step
    from cadenza.services.enrollments.operations import skip_to_next as skip_to_next
    from cadenza.services.enrollments.operations import stop as stop
else:
    __getattr__, __dir__ = exports(__name__)
