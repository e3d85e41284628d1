"""Contact field rules: phones, emails, time zones, tags, flags, headers, records, merging."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phone_zones

from cadenza.core.contact_fields import (
    Draft,
    clean,
    normalize_email,
    normalize_timezone,
    parse_flag,
    parse_phone,
    parse_tags,
)
from cadenza.core.zones import is_timezone
from cadenza.errors import ValidationFailed
from cadenza.services.contacts.importing import field_key, match_header, plan_columns
from cadenza.services.contacts.upsert import merge_duplicates


@pytest.mark.parametrize(
    "raw",
    ["(312) 555-0123", "312-555-0123", "312.555.0123", "+1 312 555 0123", "1 (312) 555-0123",
     "3125550123", "+13125550123"],
)  # fmt: skip
def test_us_phones_in_any_usual_format_become_e164(raw: str) -> None:
    assert parse_phone(raw, "US") == ("+13125550123", "America/Chicago")


def test_phone_in_another_region_and_its_zone() -> None:
    assert parse_phone("020 7946 0018", "GB") == ("+442079460018", "Europe/London")
    assert parse_phone("+44 20 7946 0018", "US")[0] == "+442079460018"


def test_a_number_spanning_several_zones_gets_none() -> None:
    # 907 (Alaska) spans America/Anchorage and America/Adak: the sequence's fallback applies.
    assert parse_phone("(907) 555-0100", "US") == ("+19075550100", None)


@pytest.mark.parametrize("raw", ["555-12", "abc", "123", "(123) 456-7890", "+1 999 555 0100"])
def test_invalid_phones_are_refused_with_the_value(raw: str) -> None:
    with pytest.raises(ValueError, match="is not a valid phone number") as caught:
        parse_phone(raw, "US")
    assert repr(raw) in str(caught.value)


def _reference_phone(raw: str, region: str) -> tuple[str, str | None] | None:
    """The straightforward way: parse, is_valid_number, time_zones_for_number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    zones = phone_zones.time_zones_for_number(number)
    zone = zones[0] if len(zones) == 1 and is_timezone(zones[0]) else None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), zone


def _ours(raw: str, region: str) -> tuple[str, str | None] | None:
    try:
        return parse_phone(raw, region)
    except ValueError:
        return None


_digits = st.text("0123456789", min_size=3, max_size=4)
_nanp_like = st.builds(
    lambda prefix, a, sep1, b, sep2, c, paren: (
        f"{prefix}({a}){sep1}{b}{sep2}{c}" if paren else f"{prefix}{a}{sep1}{b}{sep2}{c}"
    ),
    st.sampled_from(["", "1", "+1", "+1 ", "1-", "1.", "+44 ", "011 "]),
    _digits, st.sampled_from(["", " ", "-", "."]), _digits,
    st.sampled_from(["", " ", "-", "."]), _digits, st.booleans(),
)  # fmt: skip


@settings(max_examples=400)
@given(
    raw=st.one_of(_nanp_like, st.text("0123456789 ()+-.x", max_size=18)),
    region=st.sampled_from(["US", "CA", "GB", "JM"]),
)
def test_phone_fast_paths_agree_with_phonenumbers(raw: str, region: str) -> None:
    assert _ours(raw, region) == _reference_phone(raw, region)


def test_phone_fast_paths_agree_on_every_us_area_code() -> None:
    rng = random.Random(5)
    for area in range(200, 1000):
        raw = f"({area}) {rng.randrange(200, 1000)}-{rng.randrange(10_000):04d}"
        assert _ours(raw, "US") == _reference_phone(raw, "US"), raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Ana.Garcia@Example.COM", "ana.garcia@example.com"),
        ("o'brien+sales@sub.example.co.uk", "o'brien+sales@sub.example.co.uk"),
        ("user@xn--bcher-kva.ch", "user@bücher.ch"),
        ("José@Bücher.ch", "josé@bücher.ch"),
    ],
)
def test_emails_are_normalized_and_lowercased(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw", ["dev@example", "a@@b.com", "no-at-sign", "a..b@example.com", "a@localhost", "@x.com"]
)
def test_invalid_emails_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(ValueError, match=r"is not a valid email address \(.+\)"):
        normalize_email(raw)


def _reference_email(raw: str) -> str | None:
    try:
        return validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


_local = st.text("abcXYZ019._-+'!é", min_size=0, max_size=12)
_domain = st.one_of(
    st.sampled_from(["example.com", "EXAMPLE.org", "xn--bcher-kva.ch", "localhost", "test",
                     "a..b.com", "-a.com", "a-.com", "example.local", "x.y", "123.45",
                     "ex_ample.com"]),
    st.text("abc-.0", max_size=12),
)  # fmt: skip


@settings(max_examples=400)
@given(raw=st.one_of(st.builds("{}@{}".format, _local, _domain), st.text("ab@.-", max_size=10)))
def test_email_fast_path_agrees_with_email_validator(raw: str) -> None:
    try:
        ours: str | None = normalize_email(raw)
    except ValueError:
        ours = None
    assert ours == _reference_email(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("America/Chicago", "America/Chicago"),
        ("america/chicago", "America/Chicago"),
        ("EST", "America/New_York"),
        ("MST", "America/Denver"),
        ("Etc/GMT+5", "Etc/GMT+5"),
        ("Pacific Time", "America/Los_Angeles"),
        ("Central Standard Time", "America/Chicago"),
        ("utc", "UTC"),
    ],
)
def test_time_zones_by_name_or_common_abbreviation(raw: str, expected: str) -> None:
    assert normalize_timezone(raw) == expected


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="'Mars/Base' is not a time zone"):
        normalize_timezone("Mars/Base")


def test_tags_split_on_any_separator_without_repeats() -> None:
    assert parse_tags(" webinar ; trial, vip|webinar ,, ") == ["webinar", "trial", "vip"]
    assert parse_tags("single") == ["single"]
    assert parse_tags("  ") == []


@pytest.mark.parametrize("raw", ["1", "yes", "Y", "TRUE", "x", "on"])
def test_truthy_flags(raw: str) -> None:
    assert parse_flag(raw) is True


@pytest.mark.parametrize("raw", ["0", "no", "N", "false", "off"])
def test_falsy_flags(raw: str) -> None:
    assert parse_flag(raw) is False


def test_a_flag_that_is_neither_is_refused() -> None:
    with pytest.raises(ValueError, match="'maybe' is not yes or no"):
        parse_flag("maybe")


@pytest.mark.parametrize(
    ("header", "field"),
    [("First Name", "first_name"), ("firstname", "first_name"), ("first_name", "first_name"),
     ("LAST NAME", "last_name"), ("E-mail", "email"), ("Email Address", "email"),
     ("Mobile", "phone"), ("Phone Number", "phone"), ("Cell", "phone"), ("Time Zone", "timezone"),
     ("tz", "timezone"), ("Lead Source", "lead_source"), ("Do Not Call", "dnc"), ("Tags", "tags"),
     ("Owner Email", "owner"), ("Name", "full_name")],
)  # fmt: skip
def test_headers_match_fields_forgivingly(header: str, field: str) -> None:
    assert match_header(header) == field


def test_other_headers_become_custom_field_keys() -> None:
    assert match_header("Job Title") is None
    assert field_key("Job Title") == "job_title"
    assert field_key(" Favourite  Colour (2) ") == "favourite_colour_2"


def test_mapping_overrides_guesses_and_names_custom_fields() -> None:
    header = ["Phone", "Work Line", "Job Title", "E-mail"]
    columns = plan_columns(header, {"phone": "work line", "fields.title": "Job Title"})
    assert columns.known == {"phone": [1], "email": [3]}
    # The unmapped "Phone" column is kept as a custom field rather than dropped.
    assert columns.custom == {2: "title", 0: "phone"}
    record = columns.record(["555", "+13125550123", "CTO", "a@example.com"])
    assert record["phone"] == "+13125550123"
    assert record["fields.title"] == "CTO"


def test_a_field_with_several_columns_takes_the_first_non_empty() -> None:
    columns = plan_columns(["Mobile", "Phone"], {})
    assert columns.known == {"phone": [0, 1]}
    assert columns.record(["", "312-555-0123"])["phone"] == "312-555-0123"
    assert columns.column_of("phone", ["", "312-555-0123"]) == "Phone"


def test_mapping_a_missing_column_or_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="no column 'Mobile'"):
        plan_columns(["Phone"], {"phone": "Mobile"})
    with pytest.raises(ValidationFailed, match="unknown field"):
        plan_columns(["Phone"], {"shoe_size": "Phone"})


def test_clean_reports_every_problem_of_a_record() -> None:
    owners = {"ana@example.com": 1}
    raw = {"email": "x@", "phone": "555-12", "owner": "zoe@example.com", "dnc": "maybe"}
    _, problems = clean(raw, region="US", owners=owners)
    assert [name for name, _ in problems] == ["email", "phone", "owner", "dnc"]
    assert ("owner", "no user 'zoe@example.com'") in problems


def test_clean_requires_an_email_or_a_phone() -> None:
    _, problems = clean({"first_name": "Ana", "email": "  "}, region="US", owners={})
    assert problems == [("", "no email or phone")]


def test_clean_keeps_only_given_values_and_never_clears_a_flag() -> None:
    draft, problems = clean(
        {"email": "Ana@Example.com", "dnc": "no", "sms_opted_out": "yes", "fields.title": "CTO",
         "owner": "ANA@example.com", "company": ""},
        region="US", owners={"ana@example.com": 7},
    )  # fmt: skip
    assert problems == []
    assert draft.values == {"email": "ana@example.com", "sms_opted_out": True, "owner_id": 7}
    assert draft.fields == {"title": "CTO"}


def _draft(**raw: str) -> Draft:
    draft, problems = clean(raw, region="US", owners={})
    assert problems == []
    return draft


def test_rows_of_one_file_merge_by_email_then_phone() -> None:
    rows = [
        _draft(email="ana@example.com", first_name="Ana", tags="a"),
        _draft(email="ANA@example.com", phone="312-555-0123", tags="b"),
        _draft(phone="(312) 555-0123", company="Acme"),
        _draft(email="ben@example.com", phone="312-555-0123"),  # another person, same line
    ]
    targets, merged = merge_duplicates(rows)
    assert merged == 2
    assert [t.email for t in targets] == ["ana@example.com", "ben@example.com"]
    ana = targets[0]
    assert ana.values["company"] == "Acme" and ana.values["first_name"] == "Ana"
    assert ana.tags == ["a", "b"]
