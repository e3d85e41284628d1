"""A template over its limits is a TemplateError, quickly: never a hang, MemoryError or crash."""

from __future__ import annotations

import time

import pytest

from cadenza.core.contact import ContactView
from cadenza.core.templates import TemplateError, build_variables, render
from cadenza.errors import CadenzaError

VARIABLES = build_variables(
    ContactView(first_name="Ana", tags=["vip", "web"], fields={"budget": 5_000_000}),
    user={"name": "Ben Okafor"},
)
TOO_LARGE = "template output is larger than 1,000,000 characters"
TOO_DEEP = "template is nested too deeply"


def refused(text: str, *, html: bool = False) -> str:
    """The message of the TemplateError the template raises, checked to come well within 2 s."""
    started = time.perf_counter()
    with pytest.raises(TemplateError) as caught:
        render(text, VARIABLES, html=html)
    assert time.perf_counter() - started < 2
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
            "template took longer than 0.5 s",
        ),
        (
            "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
            "range() is over the limit of 10,000 numbers",
        ),
        ("{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", TOO_DEEP),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", TOO_DEEP),
        ("{{ " + "(" * 500 + "1" + ")" * 500 + " }}", TOO_DEEP),
        ("{{ 'x' * 10**10 }}", TOO_LARGE),
        ("{{ '%999999999d' | format(1) }}", TOO_LARGE),
        ("{{ '%999999999d' % 1 }}", TOO_LARGE),
        ("{{ 'a'.center(999999999) }}", TOO_LARGE),
        ("{{ 'a' | center(999999999) }}", TOO_LARGE),
        ("{{ '{:>999999999}'.format(1) }}", TOO_LARGE),
        ("{{ 'ab'.replace('', 'x' * 999999) }}", TOO_LARGE),
        ("{{ 2 ** 100000 }}", "template computes a number of more than 10,000 bits"),
        ("{{ [1] | slice(999999999) | list }}", "template asks for 999,999,999 pieces"),
    ],
)
def test_a_template_over_its_limits_is_refused_quickly(text: str, message: str) -> None:
    assert refused(text).startswith(message)


@pytest.mark.parametrize(
    "text",
    [
        # Doubling a namespace value: each turn is cheap, the tenth is a gigabyte.
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        # Keeping many large texts in a list.
        "{% set kept = [] %}{% for i in range(10000) %}{{ kept.append('x' * 999999) }}{% endfor %}",
        # A macro whose output grows past the limit before it is ever printed.
        "{% set big = 'x' * 999999 %}{% macro m() %}{% for i in range(10000) %}{{ big }}"
        "{% endfor %}{% endmacro %}{{ m() | length }}",
        "{% set big = 'x' * 999999 %}{% for i in range(10000) %}{{ big }}{% endfor %}",
    ],
)
def test_what_grows_across_turns_is_stopped_at_the_limit(text: str) -> None:
    assert refused(text) == TOO_LARGE
    assert refused(text, html=True) == TOO_LARGE


def test_the_output_may_reach_the_limit_but_not_pass_it() -> None:
    exact = "{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}"
    assert len(render(exact, VARIABLES)) == 1_000_000
    assert refused(exact + ".") == TOO_LARGE


def test_a_template_error_is_a_cadenza_error_the_step_turns_into_an_error_task() -> None:
    assert issubclass(TemplateError, CadenzaError)


def test_bounded_templates_render_as_before() -> None:
    text = (
        "{% macro tag(t) %}#{{ t | upper }}{% endmacro %}"
        "{% for t in contact.tags %}{{ tag(t) }}{% if not loop.last %}, {% endif %}{% endfor %}"
        " ({{ contact.tags | length }}) {{ '{:,}'.format(contact.fields.budget) }}"
        " {{ '%05.1f' | format(3.14159) }} {{ [user, user] | join('/', attribute='name') }}"
        "{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}"
        " {{ ns.n }} {{ dict(budget=5000000).budget }} {{ 2 ** 10 }} {{ '-' * 3 }}"
    )
    assert render(text, VARIABLES) == (
        "#VIP, #WEB (2) 5,000,000 003.1 Ben Okafor/Ben Okafor 6 5000000 1024 ---"
    )


def test_call_blocks_set_blocks_and_html_escaping_still_work() -> None:
    text = (
        "{% macro box() %}<b>{{ caller() }}</b>{% endmacro %}"
        "{% call box() %}{{ contact.first_name }}{% endcall %}"
        "{% set signed %}{{ '<' }}{{ user.name }}{% endset %}{{ signed }}"
    )
    assert render(text, VARIABLES, html=True) == "<b>Ana</b>&lt;Ben Okafor"


def test_a_shallow_recursive_loop_still_renders() -> None:
    tree = (
        "{% for n in [[[1]], 2] recursive %}"
        "{% if n is iterable %}{{ loop(n) }}{% else %}{{ n }}{% endif %}{% endfor %}"
    )
    assert render(tree, VARIABLES) == "12"
