"""Lists: named sets of contacts; a sequence bound to one enrolls, pauses and resumes by it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.lists.binding import bound_sequence as bound_sequence
    from cadenza.services.lists.binding import check_binding as check_binding
    from cadenza.services.lists.binding import take_off_list as take_off_list
    from cadenza.services.lists.membership import MembersReport as MembersReport
    from cadenza.services.lists.membership import add_members as add_members
    from cadenza.services.lists.membership import enroll_members as enroll_members
    from cadenza.services.lists.membership import remove_members as remove_members
    from cadenza.services.lists.records import ListRow as ListRow
    from cadenza.services.lists.records import MemberRow as MemberRow
    from cadenza.services.lists.records import create_list as create_list
    from cadenza.services.lists.records import delete_list as delete_list
    from cadenza.services.lists.records import get_list as get_list
    from cadenza.services.lists.records import list_lists as list_lists
    from cadenza.services.lists.records import list_members as list_members
else:
    __getattr__, __dir__ = exports(__name__)
