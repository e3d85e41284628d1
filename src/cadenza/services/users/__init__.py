"""People who work sequences: users and their roles, groups (round robin), API keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.users.apikeys import SCOPES as SCOPES
    from cadenza.services.users.apikeys import Bearer as Bearer
    from cadenza.services.users.apikeys import actor_of as actor_of
    from cadenza.services.users.apikeys import authenticate as authenticate
    from cadenza.services.users.apikeys import bearer as bearer
    from cadenza.services.users.apikeys import create_key as create_key
    from cadenza.services.users.apikeys import list_keys as list_keys
    from cadenza.services.users.apikeys import revoke as revoke
    from cadenza.services.users.apikeys import scopes_of as scopes_of
    from cadenza.services.users.people import ROLES as ROLES
    from cadenza.services.users.people import add_group as add_group
    from cadenza.services.users.people import add_user as add_user
    from cadenza.services.users.people import get_user_by_email as get_user_by_email
    from cadenza.services.users.people import group_members as group_members
    from cadenza.services.users.people import list_groups as list_groups
    from cadenza.services.users.people import list_users as list_users
    from cadenza.services.users.people import next_round_robin as next_round_robin
else:
    __getattr__, __dir__ = exports(__name__)
