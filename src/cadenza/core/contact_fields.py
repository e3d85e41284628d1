"""The rules for a contact's fields, shared by import, single creation and lead intake."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from cadenza.core.zones import is_timezone

if TYPE_CHECKING:
    from phonenumbers import PhoneMetadata, PhoneNumber

# phonenumbers and email-validator take ~60 ms to import: they are imported by the functions
# that check a number or an address (`import x` of a loaded module costs ~0.1 µs), so that
# reading contacts, users or senders does not pay for them.

TEXT_LIMITS = {
    "first_name": 200,
    "last_name": 200,
    "company": 200,
    "lead_source": 200,
    "disposition": 100,
    "external_id": 200,
}
FLAGS = ("dnc", "sms_opted_out", "email_unsubscribed", "email_bounced")
KNOWN_FIELDS = (*TEXT_LIMITS, "email", "phone", "timezone", "owner", "tags", *FLAGS)
TAG_LIMIT = 100
TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "x", "on"})
FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})

# A North American number written the usual ways; anything else goes through parse().
_NANP = re.compile(r"(?:\+?1[\s.-]?)?(?:\(([2-9]\d\d)\)|([2-9]\d\d))[\s.-]?(\d{3})[\s.-]?(\d{4})")
_SIMPLE_EMAIL = re.compile(r"([^@]+)@([A-Za-z0-9.-]+)")
_TAG_SEPARATORS = re.compile(r"[;,|]")
# Words people write for a zone; each also with "time", "standard time", "daylight time".
_ZONE_WORDS = {
    "America/New_York": "et est edt eastern",
    "America/Chicago": "ct cst cdt central",
    "America/Denver": "mt mst mdt mountain",
    "America/Los_Angeles": "pt pst pdt pacific",
    "America/Anchorage": "akt akst akdt alaska",
    "Pacific/Honolulu": "hst hast hawaii",
    "UTC": "utc gmt z",
}
_ZONE_ABBREVIATIONS = {
    word + suffix: zone
    for zone, words in _ZONE_WORDS.items()
    for word in words.split()
    for suffix in ("", "time", "standardtime", "daylighttime")
}


@lru_cache(maxsize=65536)
def parse_phone(raw: str, region: str) -> tuple[str, str | None]:
    """(E.164, time zone or None) for a phone number; ValueError when it is not valid."""
    found = _plain_nanp(raw, region)
    if found is not None:
        return found
    import phonenumbers
    from phonenumbers import PhoneNumberFormat, PhoneNumberType
    from phonenumbers import timezone as phone_zones

    number = _parsed(raw, region)
    # The type is what is_valid_number computes; computing it once serves the zone look-up too.
    kind = _number_type(number) if number else PhoneNumberType.UNKNOWN
    if number is None or kind == PhoneNumberType.UNKNOWN:
        raise ValueError(f"{raw!r} is not a valid phone number")
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if phonenumbers.is_number_type_geographical(kind, number.country_code or 0):
        return e164, _geographic_zone(e164[1:])
    return e164, _single_zone(phone_zones.time_zones_for_number(number))


def _plain_nanp(raw: str, region: str) -> tuple[str, str | None] | None:
    """A plainly written North American geographic number, answered without parse().

    The same answer as the general path (property-tested), three times faster; None for
    anything else, which then takes the general path.
    """
    if _calling_code(region) != 1 or (match := _NANP.fullmatch(raw)) is None:
        return None
    import phonenumbers

    digits = (match[1] or match[2]) + match[3] + match[4]
    metadata = _main_metadata(1)
    kind = (
        phonenumbers.phonenumberutil._number_type_helper(digits, metadata)
        if metadata
        else phonenumbers.PhoneNumberType.UNKNOWN
    )
    if not phonenumbers.is_number_type_geographical(kind, 1):
        return None
    return "+1" + digits, _geographic_zone("1" + digits)


@lru_cache(maxsize=256)
def _calling_code(region: str) -> int:
    import phonenumbers

    return phonenumbers.country_code_for_region(region.upper())


def _parsed(raw: str, region: str) -> PhoneNumber | None:
    import phonenumbers

    try:
        return phonenumbers.parse(raw, region.upper())
    except phonenumbers.NumberParseException:
        return None


def _number_type(number: PhoneNumber) -> int:
    """phonenumbers.number_type(number), computed once rather than twice for most numbers.

    number_type first finds the region by trying each region's types in turn (the calling
    code's main region first), then computes the type again. When the main region's types
    match, that is the answer. The helper is phonenumbers' own; tests compare the results.
    """
    import phonenumbers

    metadata = _main_metadata(number.country_code or 0)
    if metadata is not None:
        digits = phonenumbers.national_significant_number(number)
        kind = phonenumbers.phonenumberutil._number_type_helper(digits, metadata)
        if kind != phonenumbers.PhoneNumberType.UNKNOWN:
            return kind
    return phonenumbers.number_type(number)


@lru_cache(maxsize=256)
def _main_metadata(country_code: int) -> PhoneMetadata | None:
    """The metadata of the region tried first for a calling code, when it is tried by type."""
    import phonenumbers

    metadata = phonenumbers.PhoneMetadata.metadata_for_region(
        phonenumbers.region_code_for_country_code(country_code)
    )
    return metadata if metadata is not None and metadata.leading_digits is None else None


def _geographic_zone(digits: str) -> str | None:
    """A geographic number's zone (digits: E.164 without '+'), as phonenumbers finds it.

    time_zones_for_geographical_number takes the longest prefix of the number found in the
    zone data; no prefix there is longer than _zone_prefix_length, so that many digits
    decide, and the answer is cached by them.
    """
    return _zone_by_prefix(digits[: _zone_prefix_length(digits[0])])


@lru_cache(maxsize=10)
def _zone_prefix_length(first_digit: str) -> int:
    from phonenumbers.tzdata import TIMEZONE_DATA

    return max((len(key) for key in TIMEZONE_DATA if key.startswith(first_digit)), default=1)


@lru_cache(maxsize=65536)
def _zone_by_prefix(prefix: str) -> str | None:
    from phonenumbers.tzdata import TIMEZONE_DATA

    for length in range(len(prefix), 0, -1):
        zones = TIMEZONE_DATA.get(prefix[:length])
        if zones is not None:
            return _single_zone(zones)
    return None


def _single_zone(zones: Sequence[str]) -> str | None:
    """The zone when there is exactly one (and this machine knows it), else None."""
    return zones[0] if len(zones) == 1 and is_timezone(zones[0]) else None


def normalize_email(raw: str) -> str:
    """The normalized, lowercased address; ValueError naming the problem when it is invalid."""
    import email_validator

    match = _SIMPLE_EMAIL.fullmatch(raw)
    if match and email_validator.rfc_constants.DOT_ATOM_TEXT.match(match[1]):
        # Plain ASCII addresses: email-validator's verdict on the domain, cached per domain.
        domain = _checked_domain(match[2])
        if domain is not None:
            local = match[1]
            lengths = (
                len(raw),
                len(local) + 1 + len(domain[0].encode()),
                len(local) + 1 + len(domain[1]),
            )
            if max(lengths) <= 254:
                return f"{local}@{domain[0]}".lower()
    try:
        return email_validator.validate_email(raw, check_deliverability=False).normalized.lower()
    except email_validator.EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        raise ValueError(f"{raw!r} is not a valid email address ({reason})") from None


@lru_cache(maxsize=8192)
def _checked_domain(domain: str) -> tuple[str, str] | None:
    """(domain, ASCII domain) as email-validator normalizes them, or None when invalid."""
    import email_validator

    try:
        result = email_validator.validate_email(f"a@{domain}", check_deliverability=False)
    except email_validator.EmailNotValidError:
        return None
    return result.domain, result.ascii_domain


@lru_cache(maxsize=1)
def _zones_by_lower_name() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()} | {"utc": "UTC"}


def normalize_timezone(raw: str) -> str:
    """An IANA name (any case) or a common US name or abbreviation, as its IANA name.

    'EST', 'MST' and 'HST' are IANA names too, but fixed offsets without daylight saving:
    people who write them mean the region's local time, so they map to its zone.
    """
    found = _ZONE_ABBREVIATIONS.get(re.sub(r"[^a-z]", "", raw.lower())) if "/" not in raw else None
    found = found or (raw if is_timezone(raw) else _zones_by_lower_name().get(raw.lower()))
    if found is None:
        raise ValueError(f"{raw!r} is not a time zone (use an IANA name like America/Chicago)")
    return found


def parse_tags(raw: str) -> list[str]:
    """Tags separated by ';', ',' or '|', trimmed, without repeats."""
    if _TAG_SEPARATORS.search(raw) is None:
        return [raw.strip()] if raw.strip() else []
    tags = [tag.strip() for tag in _TAG_SEPARATORS.split(raw)]
    return list(dict.fromkeys(tag for tag in tags if tag))


def parse_flag(raw: str) -> bool:
    """yes/no, true/false, 1/0, y/n, x, on/off (any case)."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"{raw!r} is not yes or no")


@dataclass(eq=False, slots=True)  # identity, not field equality: drafts are looked up in lists
class Draft:
    """A checked contact holding only the values given; merging lets later values win."""

    values: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    zone_guess: str | None = None  # from the phone number; used only when no zone is known

    @property
    def email(self) -> str | None:
        return self.values.get("email")

    @property
    def phone(self) -> str | None:
        return self.values.get("phone")

    def merge(self, later: Draft) -> None:
        """Fold a later record for the same person into this one."""
        self.values.update(later.values)
        self.tags.extend(tag for tag in later.tags if tag not in self.tags)
        self.fields.update(later.fields)
        self.zone_guess = later.zone_guess or self.zone_guess


Problems = list[tuple[str, str]]


def clean(
    raw: Mapping[str, str], *, region: str, owners: Mapping[str, int]
) -> tuple[Draft, Problems]:
    """Check one record (field name -> text; `fields.x` for custom fields) into a draft.

    Empty values are absent from the draft. Flags are only ever set: a 'no' never clears one.
    """
    draft = Draft()
    problems: Problems = []
    for name, value in raw.items():
        text = value.strip()
        if not text:
            continue
        # Plain text and custom fields first and inline: this loop is the import's hot path.
        if len(text) <= TEXT_LIMITS.get(name, -1):
            draft.values[name] = text
        elif name.startswith("fields.") and len(name) > len("fields."):
            draft.fields[name[len("fields.") :]] = text
        else:
            try:
                _HANDLERS.get(name, _unknown)(draft, name, text, region, owners)
            except ValueError as exc:
                problems.append((name, str(exc)))
    if not problems and draft.email is None and draft.phone is None:
        problems.append(("", "no email or phone"))
    return draft, problems


Handler = Callable[[Draft, str, str, str, Mapping[str, int]], None]


def _email(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    draft.values["email"] = normalize_email(text)


def _phone(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    draft.values["phone"], draft.zone_guess = parse_phone(text, region)


def _zone(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    draft.values["timezone"] = normalize_timezone(text)


def _owner(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    if text.lower() not in owners:
        raise ValueError(f"no user {text!r}")
    draft.values["owner_id"] = owners[text.lower()]


def _tags(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    for tag in parse_tags(text):
        if len(tag) > TAG_LIMIT:
            raise ValueError(f"tag {tag!r} is longer than {TAG_LIMIT} characters")
        if tag not in draft.tags:
            draft.tags.append(tag)


def _flag(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    if parse_flag(text):
        draft.values[name] = True


def _text(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    raise ValueError(f"longer than {TEXT_LIMITS[name]} characters")


def _full_name(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    first, _, last = text.partition(" ")
    draft.values.setdefault("first_name", first)
    draft.values.setdefault("last_name", last.strip())


def _unknown(draft: Draft, name: str, text: str, region: str, owners: Mapping[str, int]) -> None:
    raise ValueError("unknown field")


_HANDLERS: dict[str, Handler] = {
    "email": _email,
    "phone": _phone,
    "timezone": _zone,
    "owner": _owner,
    "tags": _tags,
    "full_name": _full_name,
    **dict.fromkeys(FLAGS, _flag),
    **dict.fromkeys(TEXT_LIMITS, _text),
}
