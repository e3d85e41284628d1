"""Find the date an out-of-office reply says its writer is back.

Only dates after a phrase that announces a return ("back on", "returning", "until",
"wieder im Büro", "de retour", "fino al", "do dnia"…) count, so "out since December 1" is
not a return date. Numeric dates with slashes are ambiguous: they are read day first where
the language of the reply or the sender's country writes them so (German, French, British,
Polish…: 07/12 is 7 December), month first otherwise, and the other way when the first
reading cannot be a date or falls before the message itself. Dotted ones (07.12.) are always
day first. A date without a year is the next such date around `reference`. A return date is
never before the message was written (`not_before`): such a date is no return date.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

# English, German, French, Spanish, Italian, Dutch, Portuguese, Polish (genitive too).
_MONTHS = {
    **dict.fromkeys(["january", "jan", "januar", "janvier", "enero", "gennaio", "januari",
                     "janeiro", "stycznia", "styczeń", "jänner"], 1),
    **dict.fromkeys(["february", "feb", "februar", "février", "fevrier", "febrero",
                     "febbraio", "februari", "fevereiro", "lutego", "luty"], 2),
    **dict.fromkeys(["march", "mar", "märz", "maerz", "mars", "marzo", "maart", "março",
                     "marco", "marca", "marzec"], 3),
    **dict.fromkeys(["april", "apr", "avril", "abril", "aprile", "kwietnia", "kwiecień"], 4),
    **dict.fromkeys(["may", "mai", "mayo", "maggio", "mei", "maio", "maja", "maj"], 5),
    **dict.fromkeys(["june", "jun", "juni", "juin", "junio", "giugno", "junho", "czerwca",
                     "czerwiec"], 6),
    **dict.fromkeys(["july", "jul", "juli", "juillet", "julio", "luglio", "julho", "lipca",
                     "lipiec"], 7),
    **dict.fromkeys(["august", "aug", "août", "aout", "agosto", "augustus", "sierpnia",
                     "sierpień"], 8),
    **dict.fromkeys(["september", "sep", "sept", "septembre", "septiembre", "settembre",
                     "setembro", "września", "wrzesień"], 9),
    **dict.fromkeys(["october", "oct", "oktober", "octobre", "octubre", "ottobre", "okt",
                     "outubro", "października", "październik"], 10),
    **dict.fromkeys(["november", "nov", "novembre", "noviembre", "novembro", "listopada",
                     "listopad"], 11),
    **dict.fromkeys(["december", "dec", "dezember", "dez", "décembre", "decembre",
                     "diciembre", "dicembre", "dezembro", "grudnia", "grudzień"], 12),
}  # fmt: skip
_WEEKDAYS = {
    **dict.fromkeys(["monday", "montag", "lundi", "lunes", "lunedì", "maandag",
                     "segunda-feira", "poniedziałek"], 0),
    **dict.fromkeys(["tuesday", "dienstag", "mardi", "martes", "martedì", "dinsdag",
                     "terça-feira", "wtorek"], 1),
    **dict.fromkeys(["wednesday", "mittwoch", "mercredi", "miércoles", "miercoles",
                     "mercoledì", "woensdag", "quarta-feira", "środa"], 2),
    **dict.fromkeys(["thursday", "donnerstag", "jeudi", "jueves", "giovedì", "donderdag",
                     "quinta-feira", "czwartek"], 3),
    **dict.fromkeys(["friday", "freitag", "vendredi", "viernes", "venerdì", "vrijdag",
                     "sexta-feira", "piątek"], 4),
}  # fmt: skip
_MONTH = r"(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = "|".join(_WEEKDAYS)
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th|er|\.)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
# A weekday before a full date belongs to it ("Monday, December 7"): matched together,
# the longer match wins over the bare weekday starting at the same place.
_ON = rf"(?:(?:{_WEEKDAY}),?\s+(?:the\s+|den\s+|le\s+|el\s+|il\s+)?)?"
_DATE_FORMS = [
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(rf"\b{_ON}{_MONTH}\s+{_DAY}{_YEAR}\b", re.IGNORECASE),
    re.compile(rf"\b{_ON}{_DAY}\s+(?:of\s+|de\s+)?{_MONTH}(?:\s+de)?{_YEAR}\b", re.IGNORECASE),
    re.compile(
        rf"\b{_ON}(?P<a>\d{{1,2}})(?P<sep>[/.-])(?P<b>\d{{1,2}})(?:(?P=sep)(?P<c>\d{{2,4}}))?\b",
        re.IGNORECASE,
    ),
    re.compile(rf"\b(?P<wd>{_WEEKDAY})\b", re.IGNORECASE),
    re.compile(r"\b(?P<tomorrow>tomorrow|morgen|demain)\b", re.IGNORECASE),
]
_TRIGGER = re.compile(
    r"\b(?:back|return(?:s|ing)?|in the office|available again|reachable again|until|till"
    r"|through|thru|to|zurück|tillbaka|tilbage|tilbake|wieder|bis|ab dem|ab|de retour|retour"
    r"|jusqu'(?:au|à)|au"
    r"|hasta|regres\w*|vuelta|fino al?|al|rientr\w*|torner\w*|tot en met|tot|terug|vanaf"
    r"|até|retorno|regresso|volto|do|powr\w*)(?!\w)",
    re.IGNORECASE,
)
# Languages and countries that write numeric dates day first (07/12 is 7 December).
_DAY_FIRST_WORDS = re.compile(
    r"\b(?:bis|zurück|wieder|jusqu'(?:au|à)|de retour|hasta|regreso|regresaré|fino al?|rientro"
    r"|tot en met|terug|até|retorno|do dnia|powrotu|urlaub|cong[ée]s?|vacaciones|ferie|vakantie"
    r"|f[ée]rias|büro|bureau|oficina|ufficio|kantoor|escritório|biuro)(?!\w)",
    re.IGNORECASE,
)
_DAY_FIRST_LANGUAGES = re.compile(
    r"^(?:de|fr|es|it|nl|pt|pl|en-(?:gb|au|nz|ie|in|za)|da|sv|nb|no|fi|cs|sk|hu|ro|hr|tr|ru"
    r"|uk|el)", re.IGNORECASE,
)  # fmt: skip
_DAY_FIRST_COUNTRIES = re.compile(
    r"\.(?:de|at|ch|fr|be|es|it|nl|pt|br|pl|uk|au|nz|ie|in|za|dk|se|no|fi|cz|sk|hu|ro|hr"
    r"|tr|ru|ua|gr|mx|ar|cl|co|pe)$", re.IGNORECASE,
)  # fmt: skip
_WINDOW = 60
_STALE = timedelta(days=60)


def prefers_day_first(text: str, content_language: str = "", sender: str = "") -> bool:
    """True when the reply's language or its sender's country writes dates day first."""
    if content_language.strip():
        return bool(_DAY_FIRST_LANGUAGES.match(content_language.strip()))
    domain = sender.rsplit("@", 1)[-1].lower()
    if _DAY_FIRST_COUNTRIES.search(domain):
        return True
    return bool(_DAY_FIRST_WORDS.search(text))


def find_return_date(
    text: str,
    reference: date | None,
    *,
    day_first: bool = False,
    not_before: date | None = None,
) -> date | None:
    """The return date an auto-reply states, or None when it states none we can read."""
    floor = not_before or reference
    for trigger in _TRIGGER.finditer(text):
        # Short words ("to", "al", "do") announce a date only when one follows at once.
        gap = 3 if len(trigger.group(0)) <= 2 else _WINDOW
        window = text[trigger.end() : trigger.end() + _WINDOW]
        found = _first_date(window, reference, day_first, floor, gap)
        if found is not None:
            return found
    return None


def _first_date(
    window: str, reference: date | None, day_first: bool, floor: date | None, gap: int
) -> date | None:
    matches = [m for form in _DATE_FORMS for m in form.finditer(window)]
    for match in sorted(matches, key=lambda m: (m.start(), -len(m.group(0)))):
        if match.start() > gap:
            break
        for found in _readings(match.groupdict(), reference, day_first):
            if found is not None and (floor is None or found >= floor):
                return found
    return None


def _readings(
    g: dict[str, str | None], reference: date | None, day_first: bool
) -> list[date | None]:
    """The dates a match may mean, the likeliest first (numeric ones both ways)."""
    if g.get("a") is None:
        return [_to_date(g, reference)]
    a, b = int(str(g["a"])), int(str(g["b"]))
    if g["sep"] == "." or a > 12:
        return [_with_year(b, a, g.get("c"), reference)]
    if b > 12:
        return [_with_year(a, b, g.get("c"), reference)]
    month_first = _with_year(a, b, g.get("c"), reference)
    day_first_date = _with_year(b, a, g.get("c"), reference)
    return [day_first_date, month_first] if day_first else [month_first, day_first_date]


def _to_date(g: dict[str, str | None], reference: date | None) -> date | None:
    if g.get("tomorrow"):
        return reference + timedelta(days=1) if reference else None
    if g.get("wd"):
        return _next_weekday(_WEEKDAYS[str(g["wd"]).lower()], reference)
    if g.get("y"):
        return _make(int(str(g["y"])), int(str(g["m"])), int(str(g["d"])))
    month, day = _MONTHS[str(g["mon"]).lower()], int(str(g["day"]))
    return _with_year(month, day, g.get("year"), reference)


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
