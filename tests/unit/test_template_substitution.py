"""Plain substitutions (`Hi {{ contact.first_name }}`) are filled without a Jinja render, and
read exactly as the render would: escaping, None, undefined values, the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup

from cadenza.core import templates
from cadenza.core.contact import ContactView
from cadenza.core.templates import TemplateError, build_variables, render

ANA = ContactView(
    first_name="Ana <b>&",
    last_name="O'Lima",
    email="ana@lima.example",
    company=None,
    tags=["vip", "<x>"],
    fields={"budget": 5000, "note": '"quoted" <i>', "html": Markup("<b>ok</b>"), "none": None},
    last_contacted_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
)
VARIABLES = build_variables(ANA, user={"name": "Ben O'Kafor"}, sequence={"name": "In & out"})

SUBSTITUTIONS = [
    "",
    'no code at all, <a href="https://acme.example/?a=1&b=2">link</a>',
    "Hi {{ contact.first_name }}, {{ contact.last_name }}!",
    "Hi [FirstName] from [OwnerName] ({{ sequence.name }})",
    "{{ contact.company }}|{{ contact.fields.none }}|{{ contact.fields.budget }}",
    "{{ contact.fields.note }} {{ contact.fields.html }} {{ contact.tags }}",
    "{{ contact.last_contacted_at }} {{ contact.last_contacted_at.year }} {{ contact.dnc }}",
    "{{ contact.fields }}{# a comment #} {{- user.first_name -}} !",
    "line one\n{{ user.email }}\n",
    "{{ contact.items }} {{ user.keys }}",  # dict methods: what the sandbox gives, as Jinja
    "{{ contact.first_name.__class__ }}",  # unsafe: the sandbox's undefined, as Jinja
    "{{ range }}",  # a name only Jinja's globals hold
]


def full_render(text: str, html: bool) -> str:
    """What Jinja itself renders, the substitution path turned off."""
    original = templates._substitute
    templates._substitute = lambda *_args: None  # type: ignore[assignment]
    try:
        return render(text, VARIABLES, html=html)
    finally:
        templates._substitute = original


def outcome(call: Any) -> tuple[str, str]:
    try:
        return "ok", call()
    except TemplateError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("html", [False, True])
@pytest.mark.parametrize("text", SUBSTITUTIONS)
def test_substitutions_read_as_the_full_render(text: str, html: bool) -> None:
    assert templates._substitution(text, html) is not None
    fast = outcome(lambda: render(text, VARIABLES, html=html))
    assert fast == outcome(lambda: full_render(text, html))


@pytest.mark.parametrize(
    "text",
    [
        "{{ contact.fields.missing }}",  # undefined: the full render names it
        "{{ contact.nope.deeper }}",
        "{{ nobody }}",
    ],
)
def test_what_only_the_render_can_say_is_said_by_it(text: str) -> None:
    with pytest.raises(TemplateError) as fast:
        render(text, VARIABLES)
    with pytest.raises(TemplateError) as full:
        full_render(text, False)
    assert str(fast.value) == str(full.value)


def test_plain_substitutions_are_not_compiled() -> None:
    text = "Hi {{ contact.first_name }} (not compiled)"
    misses = templates._compile.cache_info().misses
    assert render(text, VARIABLES, html=True) == "Hi Ana &lt;b&gt;&amp; (not compiled)"
    assert templates._compile.cache_info().misses == misses


@pytest.mark.parametrize(
    "text",
    [
        "{{ contact.first_name | upper }}",
        "{% if contact.dnc %}x{% endif %}",
        "{{ contact['first_name'] }}",
        "{{ 'text' }}",
        "{% for t in contact.tags %}{{ t }}{% endfor %}",
    ],
)
def test_anything_more_is_rendered_by_jinja(text: str) -> None:
    assert templates._substitution(text, False) is None


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="ab <>&\"'\n{}#%-", max_size=6),
            st.sampled_from(
                ["{{ contact.first_name }}", "{{ contact.fields.note }}", "{{ user.name }}",
                 "[Company]", "{{ contact.fields.absent }}", "{{ sender.email }}"]
            ),
        ),
        max_size=6,
    ),
    st.booleans(),
)  # fmt: skip
def test_any_mix_of_text_and_fields_reads_as_the_full_render(pieces: list[str], html: bool) -> None:
    text = "".join(pieces)
    assert outcome(lambda: render(text, VARIABLES, html=html)) == outcome(
        lambda: full_render(text, html)
    )
