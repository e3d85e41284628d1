"""Contacts: one at a time or from a CSV file, as listings show them."""

from __future__ import annotations

from cadenza.services.contacts.importing import ImportReport as ImportReport
from cadenza.services.contacts.importing import Rejection as Rejection
from cadenza.services.contacts.importing import import_csv as import_csv
from cadenza.services.contacts.records import ContactRow as ContactRow
from cadenza.services.contacts.records import contact_names as contact_names
from cadenza.services.contacts.records import contact_row as contact_row
from cadenza.services.contacts.records import create_contact as create_contact
from cadenza.services.contacts.records import get_contact as get_contact
from cadenza.services.contacts.records import list_contacts as list_contacts
from cadenza.services.contacts.records import load_view as load_view
from cadenza.services.contacts.upsert import Progress as Progress
