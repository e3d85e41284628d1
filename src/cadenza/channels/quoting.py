"""Cut the quoted history off an email reply, keeping only what the person just wrote."""

from __future__ import annotations

import re

# Where mail clients start the quoted original. Attribution lines may wrap over lines.
_MARKERS = [
    # Gmail and Apple Mail: "On Mon, Dec 7, 2026 at 10:02 AM Ana <ana@x> wrote:"
    r"^[ \t]*On\b[^\n]*(?:\n[^\n]*){0,2}?\bwrote:[ \t]*$",
    r"^[ \t]*Am\b[^\n]*(?:\n[^\n]*){0,2}?\bschrieb\b[^\n]*:[ \t]*$",
    r"^[ \t]*Le\b[^\n]*(?:\n[^\n]*){0,2}?\ba écrit[ \t]*:[ \t]*$",
    r"^[ \t]*El\b[^\n]*(?:\n[^\n]*){0,2}?\bescribió:[ \t]*$",
    # Outlook: "-----Original Message-----" or a header block "From: … Sent: …"
    r"^[ \t]*-{2,}[ \t]*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|"
    r"Mensaje original)[ \t]*-{2,}",
    r"^[ \t]*_{10,}[ \t]*\n+[ \t]*[*]*(?:From|Von|De)[ \t]*:",
    r"^[ \t]*[*]*(?:From|Von|De)[ \t]*:[*]*[ \t]+[^\n]*\n[ \t]*[*]*"
    r"(?:Sent|Date|Gesendet|Datum|Envoyé|Enviado)[ \t]*:",
    # Forwarded blocks some clients use for replies
    r"^[ \t]*-{5,}[ \t]*Forwarded message[ \t]*-{5,}",
]
_HISTORY = re.compile("|".join(f"(?:{m})" for m in _MARKERS), re.MULTILINE | re.IGNORECASE)
_QUOTED_LINE = re.compile(r"^[ \t]*>.*(?:\n|$)", re.MULTILINE)


def strip_quoted(text: str) -> str:
    """The new part of a reply: text above the quoted original, without `>` lines."""
    text = text.replace("\r\n", "\n")
    found = _HISTORY.search(text)
    if found:
        text = text[: found.start()]
    text = _QUOTED_LINE.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
