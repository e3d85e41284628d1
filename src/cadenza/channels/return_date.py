"""Find the date an out-of-office reply says its writer is back.

Only dates after a phrase that announces a return ("back on", "returning", "until",
"wieder im Büro", "de retour"…) count, so "out since December 1" is not a return date.
Numeric dates with slashes are read month first (12/07 is December 7) unless the first
number cannot be a month; dotted ones (07.12.) day first, as written in Europe. A date
without a year is the next such date around `reference` (the day the reply arrived).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_MONTHS = {
    **dict.fromkeys(["january", "jan", "januar", "janvier", "enero"], 1),
    **dict.fromkeys(["february", "feb", "februar", "février", "fevrier", "febrero"], 2),
    **dict.fromkeys(["march", "mar", "märz", "maerz", "mars", "marzo"], 3),
    **dict.fromkeys(["april", "apr", "avril", "abril"], 4),
    **dict.fromkeys(["may", "mai", "mayo"], 5),
    **dict.fromkeys(["june", "jun", "juni", "juin", "junio"], 6),
    **dict.fromkeys(["july", "jul", "juli", "juillet", "julio"], 7),
    **dict.fromkeys(["august", "aug", "août", "aout", "agosto"], 8),
    **dict.fromkeys(["september", "sep", "sept", "septembre", "septiembre"], 9),
    **dict.fromkeys(["october", "oct", "oktober", "octobre", "octubre"], 10),
    **dict.fromkeys(["november", "nov", "novembre", "noviembre"], 11),
    **dict.fromkeys(
        ["december", "dec", "dezember", "dez", "décembre", "decembre", "diciembre"], 12
    ),
}
_WEEKDAYS = {
    **dict.fromkeys(["monday", "montag", "lundi", "lunes"], 0),
    **dict.fromkeys(["tuesday", "dienstag", "mardi", "martes"], 1),
    **dict.fromkeys(["wednesday", "mittwoch", "mercredi", "miércoles", "miercoles"], 2),
    **dict.fromkeys(["thursday", "donnerstag", "jeudi", "jueves"], 3),
    **dict.fromkeys(["friday", "freitag", "vendredi", "viernes"], 4),
}
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = "|".join(_WEEKDAYS)
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th|er|\.)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
# A weekday before a full date belongs to it ("Monday, December 7"): matched together,
# the longer match wins over the bare weekday starting at the same place.
_ON = rf"(?:(?:{_WEEKDAY}),?\s+(?:the\s+|den\s+|le\s+)?)?"
_DATE_FORMS = [
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(rf"\b{_ON}{_MONTH}\s+{_DAY}{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_ON}{_DAY}\s+(?:of\s+|de\s+)?{_MONTH}{_YEAR}\b", re.IGNORECASE),
    re.compile(
        rf"\b{_ON}(?P<a>\d{{1,2}})(?P<sep>[/.])(?P<b>\d{{1,2}})(?:(?P=sep)(?P<c>\d{{2,4}}))?\b",
        re.IGNORECASE,
    ),
    re.compile(rf"\b(?P<wd>{_WEEKDAY})\b", re.IGNORECASE),
    re.compile(r"\b(?P<tomorrow>tomorrow|morgen|demain)\b", re.IGNORECASE),
]
_TRIGGER = re.compile(
    r"\b(?:back|return(?:s|ing)?|in the office|available again|reachable again|until|till"
    r"|through|thru|zurück|wieder|bis|ab dem|ab|de retour|retour|jusqu'au|hasta|regreso)\b",
    re.IGNORECASE,
)
_WINDOW = 60
_STALE = timedelta(days=60)


def find_return_date(text: str, reference: date | None) -> date | None:
    """The return date an auto-reply states, or None when it states none we can read."""
    for trigger in _TRIGGER.finditer(text):
        window = text[trigger.end() : trigger.end() + _WINDOW]
        found = _first_date(window, reference)
        if found is not None:
            return found
    return None


def _first_date(window: str, reference: date | None) -> date | None:
    matches = [m for form in _DATE_FORMS for m in form.finditer(window)]
    for match in sorted(matches, key=lambda m: (m.start(), -len(m.group(0)))):
        found = _to_date(match.groupdict(), reference)
        if found is not None:
            return found
    return None


def _to_date(g: dict[str, str | None], reference: date | None) -> date | None:
    if g.get("tomorrow"):
        return reference + timedelta(days=1) if reference else None
    if g.get("wd"):
        return _next_weekday(_WEEKDAYS[str(g["wd"]).lower()], reference)
    if g.get("y"):
        return _make(int(str(g["y"])), int(str(g["m"])), int(str(g["d"])))
    if g.get("mon"):
        month, day = _MONTHS[str(g["mon"]).lower()], int(str(g["day"]))
        return _with_year(month, day, g.get("year"), reference)
    a, b = int(str(g["a"])), int(str(g["b"]))
    month, day = (b, a) if g["sep"] == "." or a > 12 else (a, b)
    return _with_year(month, day, g.get("c"), reference)


def _with_year(month: int, day: int, year: str | None, reference: date | None) -> date | None:
    if year:
        full = int(year) + (2000 if len(year) == 2 else 0)
        return _make(full, month, day)
    if reference is None:
        return None
    found = _make(reference.year, month, day)
    # "back January 4" written in December means next year's January.
    if found is not None and found < reference - _STALE:
        return _make(reference.year + 1, month, day)
    return found


def _next_weekday(weekday: int, reference: date | None) -> date | None:
    if reference is None:
        return None
    ahead = (weekday - reference.weekday() - 1) % 7 + 1
    return reference + timedelta(days=ahead)


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
