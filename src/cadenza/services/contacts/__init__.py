"""Contacts: one at a time or from a CSV file, as listings show them; edited; their notes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from cadenza.services.contacts.editing import delete_contact as delete_contact
    from cadenza.services.contacts.editing import update_contact as update_contact
    from cadenza.services.contacts.fields import FieldRow as FieldRow
    from cadenza.services.contacts.fields import define_field as define_field
    from cadenza.services.contacts.fields import delete_field as delete_field
    from cadenza.services.contacts.fields import field_types as field_types
    from cadenza.services.contacts.fields import list_fields as list_fields
    from cadenza.services.contacts.importing import ImportReport as ImportReport
    from cadenza.services.contacts.importing import Rejection as Rejection
    from cadenza.services.contacts.importing import import_csv as import_csv
    from cadenza.services.contacts.merging import Merged as Merged
    from cadenza.services.contacts.merging import merge as merge
    from cadenza.services.contacts.notes import NoteRow as NoteRow
    from cadenza.services.contacts.notes import add_note as add_note
    from cadenza.services.contacts.notes import delete_note as delete_note
    from cadenza.services.contacts.notes import list_notes as list_notes
    from cadenza.services.contacts.records import ContactRow as ContactRow
    from cadenza.services.contacts.records import contact_names as contact_names
    from cadenza.services.contacts.records import contact_row as contact_row
    from cadenza.services.contacts.records import create_contact as create_contact
    from cadenza.services.contacts.records import get_contact as get_contact
    from cadenza.services.contacts.records import list_contacts as list_contacts
    from cadenza.services.contacts.records import load_view as load_view
    from cadenza.services.contacts.single import find_contact as find_contact
    from cadenza.services.contacts.single import upsert_contact as upsert_contact
    from cadenza.services.contacts.upsert import Progress as Progress
else:
    __getattr__, __dir__ = exports(__name__)
