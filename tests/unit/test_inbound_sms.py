"""Texts in both directions: what a reply means, the opt-out phrase, and the development sink."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cadenza.channels.inbound_sms import SmsIntent, classify_sms
from cadenza.channels.outgoing import OutgoingSms, OutgoingVoicemail
from cadenza.channels.sms import SinkProvider, make_provider, read_sink
from cadenza.core.messages import append_opt_out
from cadenza.errors import ConfigurationError
from cadenza.settings import Settings


@pytest.mark.parametrize(
    ("body", "intent"),
    [
        ("STOP", SmsIntent.OPT_OUT),
        ("stop", SmsIntent.OPT_OUT),
        ("  Stop.  ", SmsIntent.OPT_OUT),
        ("STOP!!!", SmsIntent.OPT_OUT),
        ('"stop"', SmsIntent.OPT_OUT),
        ("\nStopAll\n", SmsIntent.OPT_OUT),
        ("stop all", SmsIntent.OPT_OUT),
        ("Unsubscribe", SmsIntent.OPT_OUT),
        ("cancel", SmsIntent.OPT_OUT),
        ("END", SmsIntent.OPT_OUT),
        ("quit.", SmsIntent.OPT_OUT),
        ("Revoke", SmsIntent.OPT_OUT),
        ("OPTOUT", SmsIntent.OPT_OUT),
        ("opt-out", SmsIntent.OPT_OUT),
        ("Opt out", SmsIntent.OPT_OUT),
        ("start", SmsIntent.OPT_IN),
        ("UNSTOP", SmsIntent.OPT_IN),
        ("Help", SmsIntent.HELP),
        ("help?", SmsIntent.HELP),
        ("INFO", SmsIntent.HELP),
        ("yes", SmsIntent.REPLY),  # not a carrier keyword: a person should read it
        ("Please stop texting me", SmsIntent.REPLY),
        ("stop by at 5?", SmsIntent.REPLY),
        ("Sounds good, call me tomorrow", SmsIntent.REPLY),
        ("", SmsIntent.REPLY),
        ("S.T.O.P", SmsIntent.REPLY),
    ],
)
def test_an_inbound_text_is_classified_by_its_whole_content(body: str, intent: SmsIntent) -> None:
    assert classify_sms(body) == intent


PHRASE = "Reply STOP to opt out."


@pytest.mark.parametrize(
    "body",
    [
        "Hi Jane! Reply STOP to opt out.",
        "Hi Jane! Text STOP to unsubscribe",
        "Hi Jane! Reply with 'stop' to end.",
        "Hi Jane! STOP to end",
        "Hi Jane! Opt-out: reply STOP",
        "Hi Jane! To opt out, let me know",
        "Hi Jane! unsubscribe anytime",
    ],
)
def test_a_body_that_already_says_how_to_opt_out_is_left_alone(body: str) -> None:
    assert append_opt_out(body, PHRASE) == body


@pytest.mark.parametrize(
    "body",
    ["Hi Jane, can you stop by our booth?", "Don't stop now, Jane!", "Hi Jane  \n"],
)
def test_the_phrase_is_added_on_its_own_line_otherwise(body: str) -> None:
    assert append_opt_out(body, PHRASE) == body.rstrip() + "\n" + PHRASE


def sms(key: str = "41:intro_sms:1", media: list[str] | None = None) -> OutgoingSms:
    return OutgoingSms(
        key=key, sender="+13125550100", to="+17735550123", body="Hi Jane", media=media or []
    )


def test_the_sink_writes_json_lines_the_ui_can_read_back(tmp_path: Path) -> None:
    path = tmp_path / "data" / "sms-sink.jsonl"
    sink = SinkProvider(path, now=lambda: datetime(2026, 12, 7, 15, 0, tzinfo=UTC))
    first = sink.send_sms(sms())
    sink.send_sms(sms("41:promo:1", media=["https://cdn.example/flyer.png"]))
    sink.send_voicemail(
        OutgoingVoicemail(key="41:vm:1", sender="+13125550100", to="+17735550123",
                          audio_url="https://cdn.example/vm.mp3")
    )  # fmt: skip

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["kind"] for r in lines] == ["sms", "mms", "voicemail"]
    assert lines[0] == {
        "kind": "sms",
        "key": "41:intro_sms:1",
        "from": "+13125550100",
        "to": "+17735550123",
        "body": "Hi Jane",
        "media": [],
        "id": first.provider_id,
        "at": "2026-12-07T15:00:00+00:00",
    }
    assert lines[1]["media"] == ["https://cdn.example/flyer.png"]
    assert lines[2]["audio_url"] == "https://cdn.example/vm.mp3"
    assert read_sink(path) == lines


def test_the_sink_records_a_resent_key_once_even_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sms-sink.jsonl"
    first = SinkProvider(path).send_sms(sms())
    again = SinkProvider(path).send_sms(sms())  # a new process, as after a crash mid-send

    assert again.provider_id == first.provider_id
    assert len(read_sink(path)) == 1


def test_an_in_memory_sink_keeps_records_without_a_file() -> None:
    sink = SinkProvider()
    sink.send_sms(sms())
    assert [r["to"] for r in sink.records] == ["+17735550123"]
    assert not sink.verify_callback("https://x.example/", {}, "anything")


def test_make_provider_defaults_to_the_sink_and_refuses_twilio_without_credentials(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sms-sink.jsonl"
    make_provider(Settings(sms_provider="sink"), path).send_sms(sms())
    assert len(read_sink(path)) == 1
    with pytest.raises(ConfigurationError, match="TWILIO_ACCOUNT_SID"):
        make_provider(Settings(sms_provider="twilio"), path)
