"""Read a lead notification email (a web form's "new submission") into contact fields.

Forms write `Key: value` lines, or HTML tables (a label cell beside or above a value cell).
Known labels ("E-mail", "Phone Number", "Name"…) become contact fields; every other one
becomes a custom field. Without an email address or a phone number there is no lead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any

from cadenza.channels.email import html_to_text
from cadenza.channels.errors import LeadParseError
from cadenza.channels.inbound_email import parse_message

_ALIASES = {
    "name": ["name", "full name", "your name", "contact name", "fullname", "nombre completo"],
    "first_name": ["first name", "firstname", "first", "given name", "fname", "vorname",
                   "prénom", "prenom", "nombre"],
    "last_name": ["last name", "lastname", "last", "surname", "family name", "lname",
                  "nachname", "nom", "apellido", "apellidos"],
    "email": ["email", "e mail", "email address", "e mail address", "your email",
              "your e mail", "mail", "work email", "business email", "courriel"],
    "phone": ["phone", "phone number", "telephone", "telephone number", "tel", "mobile",
              "mobile phone", "mobile number", "cell", "cell phone", "your phone",
              "contact number", "phone no", "telefon", "téléphone", "teléfono", "telefono"],
    "company": ["company", "company name", "organization", "organisation", "business",
                "business name", "employer", "firma", "unternehmen", "entreprise",
                "société", "empresa"],
    "lead_source": ["lead source", "source", "utm source", "how did you hear about us"],
}  # fmt: skip
_CANONICAL = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}
# Header lines of a forwarded notification, not answers of the form.
_NOT_FIELDS = frozenset({"from", "to", "cc", "bcc", "date", "sent", "subject", "reply to"})
_KEY_LINE = re.compile(r"^\s*[*_]*(?P<key>[^\W\d_][^:\n]{0,48}?)[*_]*\s*:[*_]*\s*(?P<value>.*)$")
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass
class LeadFields:
    """Contact fields read from a lead email; `fields` holds the form's other answers."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    lead_source: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def as_contact(self) -> dict[str, Any]:
        """The contact as `contacts import` rows name its fields (unknown ones left out)."""
        known = {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "company": self.company,
            "lead_source": self.lead_source,
        }
        return {**{k: v for k, v in known.items() if v}, "fields": dict(self.fields)}


def parse_lead_email(raw: bytes) -> LeadFields:
    """The lead in a notification email; raises LeadParseError without email and phone."""
    message = parse_message(raw)
    lead = lead_from_pairs(_pairs(message))
    if lead.email is None:
        lead.email = _reply_to(message)
    if not (lead.email or lead.phone):
        subject = " ".join(str(message.get("Subject", "")).split())
        raise LeadParseError(f"no email address or phone number found in {subject!r}")
    return lead


def lead_from_pairs(pairs: list[tuple[str, str]]) -> LeadFields:
    """Contact fields from (label, value) pairs, the first answer to each field winning."""
    lead = LeadFields()
    for label, value in pairs:
        key = _normalise(label)
        name = _CANONICAL.get(key)
        if name == "name":
            first, last = split_name(value)
            lead.first_name = lead.first_name or first
            lead.last_name = lead.last_name or last
        elif name == "email":
            found = _EMAIL.search(value)
            lead.email = lead.email or (found.group(0).lower() if found else None)
        elif name == "phone":
            has_number = sum(c.isdigit() for c in value) >= 7
            lead.phone = lead.phone or (value if has_number else None)
        elif name is not None:
            if getattr(lead, name) is None:
                setattr(lead, name, value)
        elif key and key not in _NOT_FIELDS:
            lead.fields.setdefault(key.replace(" ", "_"), value)
    return lead


def split_name(full: str) -> tuple[str | None, str | None]:
    """("Jane", "van der Berg") from "Jane van der Berg"; "Doe, Jane" is read last-first."""
    if "," in full:
        last, _, first = full.partition(",")
        return first.strip() or None, last.strip() or None
    words = full.split()
    if not words:
        return None, None
    return words[0], " ".join(words[1:]) or None


def _pairs(message: EmailMessage) -> list[tuple[str, str]]:
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    markup = str(html_part.get_content()) if html_part is not None else ""
    pairs = _TableReader.pairs(markup) if markup else []
    if text_part is not None:
        pairs += text_pairs(str(text_part.get_content()))
    elif markup:
        pairs += text_pairs(html_to_text(markup))
    return pairs


def text_pairs(text: str) -> list[tuple[str, str]]:
    """(label, value) pairs of `Label: value` lines; a value may continue on the next lines."""
    pairs: list[list[str]] = []
    open_pair: list[str] | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip() in ("--", "-- "):
            break  # the signature: the form ends here
        match = _KEY_LINE.match(line)
        if match and not match["value"].startswith("//"):
            open_pair = [match["key"].strip(), match["value"].strip()]
            pairs.append(open_pair)
        elif not line.strip():
            open_pair = None if open_pair is None or open_pair[1] else open_pair
        elif open_pair is not None:
            open_pair[1] = f"{open_pair[1]}\n{line.strip()}".strip()
    return [(key, value) for key, value in pairs if value]


class _TableReader(HTMLParser):
    """Table rows as lists of (text, bold) cells; nested tables keep their own rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[tuple[str, bool]]] = []
        self._open: list[list[list[Any]]] = []  # rows being read, innermost last
        self._bold = 0

    @classmethod
    def pairs(cls, markup: str) -> list[tuple[str, str]]:
        """(label, value) pairs from rows `label | value` or a bold label row above a value."""
        reader = cls()
        reader.feed(markup)
        reader.close()
        found: list[tuple[str, str]] = []
        label: str | None = None
        for row in reader.rows:
            cells = [(text, bold) for text, bold in row if text]
            if len(cells) >= 2:
                found.append((cells[0][0].rstrip(":"), cells[1][0]))
                label = None
            elif len(cells) == 1:
                text, bold = cells[0]
                if bold or text.endswith(":"):
                    label = text.rstrip(":")
                elif label is not None:
                    found.append((label, text))
                    label = None
        return found

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self._open.append([])
        elif tag in ("td", "th") and self._open:
            self._open[-1].append(["", tag == "th"])
        elif tag in ("strong", "b"):
            self._bold += 1
        elif tag == "br":
            self.handle_data("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr" and self._open:
            cells = self._open.pop()
            self.rows.append([(_clean(text), bold) for text, bold in cells])
        elif tag in ("strong", "b"):
            self._bold = max(0, self._bold - 1)

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1]:
            cell = self._open[-1][-1]
            cell[0] += data
            if data.strip() and self._bold:
                cell[1] = True


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\xa0", " ").split("\n"))
    return "\n".join(line for line in lines if line)


def _normalise(label: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", label.lower()).split())


def _reply_to(message: EmailMessage) -> str | None:
    # Form plugins often set Reply-To to the person who filled the form in.
    reply_to = parseaddr(str(message.get("Reply-To", "")))[1].lower()
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    return reply_to if reply_to and reply_to != sender and _EMAIL.fullmatch(reply_to) else None
