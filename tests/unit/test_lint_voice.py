"""Lint of the voice steps: their fields, their templates, and the call triggers."""

from __future__ import annotations

from cadenza.core import reach
from cadenza.core.lint import lint_text

HEAD = 'name: x\nsenders: {sms: "+13125550100"}\n'


def _problems(text: str) -> list[str]:
    _definition, found = lint_text(HEAD + text, "t.yaml")
    return [str(problem) for problem in found]


def test_voice_steps_with_their_fields_lint_clean() -> None:
    text = """steps:
  - {key: l, action: add_line, line: "+13125550199"}
  - {key: p, action: progressive_dialer, group: g, retries: 2, on_machine: retry}
  - {key: v, action: preview_dialer, group: g, repeat: 5}
  - {key: q, action: power_dialer, assignee: contact_owner, script: "Hi {{ contact.first_name }}"}
  - {key: r, action: remove_from_dialer}
  - {key: d, action: ringless_voicemail, recording: "https://a.example/vm.mp3"}
"""
    assert _problems(text) == []


def test_every_mistake_in_voice_steps_is_reported_at_its_line() -> None:
    text = """steps:
  - {key: p, action: progressive_dialer, group: g, message: "{{ contact.frist_name }}"}
  - {key: v, action: preview_dialer, group: g, repeat: 0, on_machine: retry}
  - {key: l, action: add_line, line: "555"}
  - {key: d, action: ringless_voicemail}
"""
    found = _problems(text)
    assert any(p.startswith("t.yaml:4:") and "contact.first_name" in p for p in found)
    assert any(p.startswith("t.yaml:5:") and "repeat" in p for p in found)
    assert any(p.startswith("t.yaml:5:") and "on_machine" in p for p in found)
    assert any(p.startswith("t.yaml:6:") and "line" in p for p in found)
    assert any(p.startswith("t.yaml:7:") and "recording" in p for p in found)


def test_call_triggers_read_a_duration_only_on_call_logged() -> None:
    good = """enrollment:
  triggers: [{on: call_logged, disposition: answered, min_duration: 60, measure: wait}]
steps: [{key: a, action: add_tag, tag: t}]
"""
    assert _problems(good) == []
    bad = """enrollment:
  triggers: [{on: tag_added, tag: x, measure: talk}, {on: call_logged, measure: total}]
steps: [{key: a, action: add_tag, tag: t}]
"""
    found = " ".join(_problems(bad))
    assert "apply to call_logged, not tag_added" in found
    assert "give both" in found


def test_automated_calls_obey_quiet_hours_and_stop_a_persons_call_only_dnc() -> None:
    for action in ("progressive_dialer", "preview_dialer", "ringless_voicemail"):
        row = reach.of(action)
        assert row.quiet and row.blocked_by == ("dnc", "sms_opted_out") and row.sent
    assert reach.of("power_dialer").blocked_by == ("dnc",)
    assert reach.of("power_dialer").quiet
