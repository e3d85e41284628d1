"""The development sink's calls, played through the same flows Twilio's webhooks drive.

The sink places no call: it says which answer it simulates (a person, a machine, busy, no
answer) and which key the person presses. Here the call takes that course turn by turn —
the TwiML of each turn appended to the sink's file beside the call — so that a dialer step
under `make run` ends in a logged call, a callback task or a do-not-contact, as it would.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from cadenza.channels.outgoing import SendResult
from cadenza.channels.voice import SIMULATED, VoiceSink
from cadenza.services.voice import flows, logged
from cadenza.services.voice.calls import call_for
from cadenza.settings import Settings

log = logging.getLogger(__name__)
TALK_SECONDS = 60  # how long the simulated person talks to the agent


def play_safely(
    session: Session, row: Any, result: SendResult, now: datetime, settings: Settings
) -> None:
    """`play` in a savepoint: a simulated call that fails never loses the sends recorded."""
    try:
        with session.begin_nested():
            play(session, row, result, now, settings)
    except Exception:
        log.exception("the simulated call failed", extra={"key": row["key"]})


def play(session: Session, row: Any, result: SendResult, now: datetime, settings: Settings) -> None:
    """Play one simulated call: answer, the key, the agent's dial, the final status."""
    answer = result.detail.removeprefix(SIMULATED)
    call = call_for(session, sid=result.provider_id, message_id=int(row["id"]), call_id=None,
                    now=now)  # fmt: skip
    file = VoiceSink(Path(settings.voice_sink_path))

    def turn(name: str, twiml: str) -> None:
        file.record({"kind": "turn", "id": call.sid, "turn": name, "twiml": twiml})

    if answer in ("busy", "no-answer"):
        logged.status(session, call, {"CallStatus": answer, "CallDuration": "0"}, now, settings)
        return
    by = "machine_end_beep" if answer == "machine" else "human"
    turn("answer", flows.answer(session, call, {"AnsweredBy": by}, settings))
    total = 20
    if by == "human" and call.kind == "progressive":
        turn("gather", flows.gather(session, call, {"Digits": settings.voice_sink_digits}, now,
                                    settings))  # fmt: skip
        if call.digits == "1":
            done = {"DialCallStatus": "completed", "DialCallDuration": str(TALK_SECONDS)}
            turn("dial", flows.dial_result(session, call, done, settings))
            total += TALK_SECONDS
    elif call.kind == "preview":
        turn("preview", flows.preview_key(session, call, {"Digits": "1"}, settings))
        done = {"DialCallStatus": "completed", "DialCallDuration": str(TALK_SECONDS)}
        turn("dial", flows.dial_result(session, call, done, settings))
        total += TALK_SECONDS
    final = {"CallStatus": "completed", "CallDuration": str(total)}
    logged.status(session, call, final, now, settings)
