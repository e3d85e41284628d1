"""Templates: rendering, shortcodes, strictness, the sandbox and the variable check."""

from __future__ import annotations

import pytest

from cadenza.core import templates
from cadenza.core.contact import ContactView
from cadenza.core.templates import (
    TemplateError,
    build_variables,
    check_syntax,
    render,
    unknown_shortcodes,
    unknown_variables,
)

ANA = ContactView(
    first_name="Ana",
    last_name="Lima",
    email="ana@lima.example",
    company=None,
    fields={"budget": 5000, "title": "VP Sales"},
)


def variables() -> dict[str, object]:
    return build_variables(
        ANA,
        user={"name": "Ben Okafor", "email": "ben@example.com", "phone": "+13125550102"},
        sender={"email": "sales@example.com", "sms": "+13125550100", "name": "Northwind"},
        sequence={"name": "Inbound"},
    )


def test_render_with_every_namespace() -> None:
    text = (
        "{{ contact.first_name }} {{ contact.full_name }} {{ contact.fields.budget }} "
        "{{ user.first_name }} {{ sender.email }} {{ sequence.name }}"
    )
    assert render(text, variables()) == "Ana Ana Lima 5000 Ben sales@example.com Inbound"


def test_shortcodes_are_rewritten_case_insensitively() -> None:
    text = "Hi [FirstName] [lastname], [FullName] / [Email] / [OwnerName] / [SenderName]"
    assert render(text, variables()) == (
        "Hi Ana Lima, Ana Lima / ana@lima.example / Ben Okafor / Northwind"
    )


def test_unknown_bracketed_words_are_left_alone() -> None:
    assert render("[Webinar] Join us, [FirstName]", variables()) == "[Webinar] Join us, Ana"


def test_none_renders_empty() -> None:
    assert render("at {{ contact.company }}.", variables()) == "at ."


def test_undefined_variable_names_the_variable() -> None:
    with pytest.raises(TemplateError, match=r"undefined variable contact\.fields\.size on line 2"):
        render("Hi\n{{ contact.fields.size }}", variables())


def test_default_filter_covers_an_optional_field() -> None:
    assert render("{{ contact.fields.size | default('?') }}", variables()) == "?"


def test_html_mode_escapes_values() -> None:
    values = build_variables(ContactView(first_name="<b>Ann</b>"))
    assert render("<p>{{ contact.first_name }}</p>", values, html=True) == (
        "<p>&lt;b&gt;Ann&lt;/b&gt;</p>"
    )
    assert render("{{ contact.first_name }}", values) == "<b>Ann</b>"


def test_sandbox_refuses_unsafe_attributes() -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ contact.first_name.__class__.__mro__ }}", variables())


def test_syntax_error_on_render_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="line 1"):
        render("{{ contact.first_name ", variables())


def test_compiled_templates_are_cached() -> None:
    text = "cache me {{ contact.first_name | upper }}"
    render(text, variables())
    hits = templates._compile.cache_info().hits
    render(text, variables())
    assert templates._compile.cache_info().hits == hits + 1


def test_build_variables_fills_every_known_name() -> None:
    values = build_variables(ANA)
    assert render("[{{ user.name }}|{{ sender.sms }}|{{ sequence.name }}]", values) == "[||]"
    assert build_variables(ANA, user={"name": "Cara Lind"})["user"]["first_name"] == "Cara"


def test_unknown_variables_with_lines() -> None:
    text = "Hi {{ contact.frist_name }}\n{{ user.nickname }} {{ whatever }}\n[Company]"
    assert unknown_variables(text) == [
        ("contact.frist_name", 1),
        ("user.nickname", 2),
        ("whatever", 2),
    ]


def test_custom_fields_only_through_contact_fields() -> None:
    assert unknown_variables("{{ contact.fields.anything }}") == []
    assert unknown_variables("{{ contact.budget }}") == [("contact.budget", 1)]


def test_local_names_and_methods_are_known() -> None:
    text = (
        "{% for tag in contact.tags %}{{ tag }}{{ loop.index }}{% endfor %}"
        "{% set greeting = 'Hi' %}{{ greeting }} {{ contact.first_name.upper() }}"
        "{{ contact['last_name'] }}{{ range(2) | list }}"
    )
    assert unknown_variables(text) == []
    assert unknown_variables("{{ contact['nope'] }}") == [("contact.nope", 1)]


def test_check_syntax() -> None:
    assert check_syntax("Hi {{ contact.first_name }}") is None
    message = check_syntax("Hi\n{% if contact.first_name %}")
    assert message is not None and message.startswith("line 2:")


def test_macros_the_template_defines_are_known_names() -> None:
    text = "{% macro tag(t) %}#{{ t }}{% endmacro %}{{ tag(contact.first_name) }}"
    assert unknown_variables(text) == []


def test_unknown_shortcodes_with_their_lines() -> None:
    text = "Hi [FirstName] [Frstname],\n\nyour parcel [TrackingNumber]\n[firstname] [SENDERNAME]"
    assert unknown_shortcodes(text) == [("Frstname", 1), ("TrackingNumber", 3)]


def test_brackets_that_are_no_shortcodes() -> None:
    text = (
        "[1] [ ] [a b] [docs](https://x.example) [ref][1] {{ '[Quoted]' }}"
        " {% if x %}[In]{% endif %}"
    )
    assert unknown_shortcodes(text) == [("In", 1)]
