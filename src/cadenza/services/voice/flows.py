"""The call flows as TwiML: what the provider plays at each turn of a call, and what it does.

Progressive dialer: the contact answers (machine detection says whether a person did), hears
the message and presses 1 (the ring group's agents are dialed in turn), 2 (a callback task)
or 9 (do-not-contact). Preview dialer: an agent answers and hears who is about to be called,
repeated until a key, then the contact is dialed. Power dialer: the rep's own phone answers
and is bridged to the contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from cadenza.services.events import record_event
from cadenza.services.voice import callbacks, twiml
from cadenza.services.voice.calls import current_agent
from cadenza.services.voice.urls import url
from cadenza.settings import Settings
from cadenza.store.models import Contact, VoiceCall

Form = Mapping[str, str]
MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")
GOODBYE = "Thank you. Goodbye."


def answer(session: Session, call: VoiceCall, form: Form, settings: Settings) -> str:
    """The callee picked up: what they hear first."""
    call.status = "in-progress"
    if call.kind == "power":
        return _bridge(call, settings)
    if call.kind == "preview":
        return _announce(session, call, settings)
    answered_by = form.get("AnsweredBy") or call.answered_by or "human"
    call.answered_by = answered_by
    if answered_by in MACHINE:
        return _machine(call)
    return _offer(call, settings)


def gather(session: Session, call: VoiceCall, form: Form, now: datetime, settings: Settings) -> str:
    """The contact pressed a key after the message (or none: the message once more)."""
    digit = (form.get("Digits") or "").strip()[:1]
    if digit:
        call.digits = (call.digits or "") + digit
    if digit == "1":
        return _dial_agent(call, settings)
    if digit == "2":
        due = callbacks.create(session, call, now, settings, picked=None)
        ask = "Enter the time for our call back as four digits, like 1 4 3 0 for 2 30 PM."
        return twiml.response(
            twiml.gather(url(settings.base_url, "callback", call=call.id), twiml.say(ask),
                         digits=4, timeout=8),
            twiml.say(f"We will call you back {callbacks.spoken(session, call, due, settings)}. "
                      f"{GOODBYE}"),
            twiml.hangup(),
        )  # fmt: skip
    if digit == "9":
        _do_not_call(session, call, now, settings)
        return twiml.response(twiml.say(f"You will not get calls from us again. {GOODBYE}"),
                              twiml.hangup())  # fmt: skip
    return _offer(call, settings, again=True)


def callback_time(
    session: Session, call: VoiceCall, form: Form, now: datetime, settings: Settings
) -> str:
    """The contact typed the time they want the callback at (HHMM, their local time)."""
    due = callbacks.create(session, call, now, settings, picked=form.get("Digits") or "")
    return twiml.response(
        twiml.say(
            f"We will call you back {callbacks.spoken(session, call, due, settings)}. {GOODBYE}"
        ),
        twiml.hangup(),
    )


def preview_key(session: Session, call: VoiceCall, form: Form, settings: Settings) -> str:
    """The agent pressed a key after the announcement: the contact is dialed now."""
    agent = current_agent(call)
    call.agent_id = int(agent["id"]) if agent else None
    call.data = {**call.data, "bridging_at": form.get("Timestamp", "")}
    contact = session.get(Contact, call.contact_id)
    number = call.to if contact is None else (contact.phone or call.to)
    action = url(settings.base_url, "dial", call=call.id)
    return twiml.response(twiml.dial(number, caller_id=call.line, action=action, timeout=30))


def dial_result(session: Session, call: VoiceCall, form: Form, settings: Settings) -> str:
    """A `<Dial>` ended: talk time counted, or the next agent of the group rung."""
    status = form.get("DialCallStatus", "")
    seconds = _seconds(form.get("DialCallDuration"))
    if status == "completed" or seconds > 0:
        call.talk_seconds += seconds
        call.data = {**call.data, "bridged": True}
        if call.kind == "progressive":
            agent = current_agent(call)
            call.agent_id = int(agent["id"]) if agent else call.agent_id
        return twiml.response(twiml.hangup())
    call.data = {**call.data, "dial_status": status}
    if call.kind != "progressive":
        return twiml.response(twiml.hangup())  # the contact did not answer the bridge
    call.agent_index += 1
    if current_agent(call) is not None:
        return _dial_agent(call, settings)
    callbacks.create(session, call, call.created_at, settings, picked=None, missed=True)
    return twiml.response(
        twiml.say("Sorry, no one could take your call. We will call you back soon."),
        twiml.hangup(),
    )


def _offer(call: VoiceCall, settings: Settings, *, again: bool = False) -> str:
    message, repeat = str(call.data.get("message", "")), int(call.data.get("repeat", 1))
    action = url(settings.base_url, "gather", call=call.id)
    return twiml.response(
        twiml.gather(action, twiml.say(message, loop=1 if again else repeat)),
        twiml.say(GOODBYE),
        twiml.hangup(),
    )


def _machine(call: VoiceCall) -> str:
    if call.data.get("on_machine", "voicemail") != "voicemail":
        return twiml.response(twiml.hangup())  # retried (or not) when the call completes
    recording = call.data.get("voicemail")
    spoken = str(call.data.get("voicemail_text") or GOODBYE)
    verb = twiml.play(str(recording)) if recording else twiml.say(spoken)
    call.data = {**call.data, "left_voicemail": True}
    return twiml.response(verb, twiml.hangup())


def _dial_agent(call: VoiceCall, settings: Settings) -> str:
    agent = current_agent(call)
    if agent is None:
        return twiml.response(
            twiml.say("Sorry, no one is available to take your call. Goodbye."), twiml.hangup()
        )
    action = url(settings.base_url, "dial", call=call.id)
    return twiml.response(twiml.dial(str(agent["phone"]), caller_id=call.line, action=action))


def _announce(session: Session, call: VoiceCall, settings: Settings) -> str:
    contact = session.get(Contact, call.contact_id)
    agent = current_agent(call) or {"name": "there"}
    text = announcement(str(call.data.get("announcement", "")), str(agent["name"]), contact)
    action = url(settings.base_url, "preview", call=call.id)
    repeat = int(call.data.get("repeat", 3))
    prompt = twiml.say(f"{text} Press any key to connect.", loop=repeat)
    return twiml.response(twiml.gather(action, prompt, timeout=3), twiml.hangup())


def announcement(template: str, agent_name: str, contact: Contact | None) -> str:
    """The preview announcement with the agent's and the contact's names and state."""
    fields = contact.fields if contact is not None else {}
    state = str(fields.get("state") or fields.get("State") or "an unknown state")
    values = {
        "[AgentName]": agent_name.split(" ")[0] if agent_name else "there",
        "[FirstName]": contact.first_name if contact else "",
        "[LastName]": contact.last_name if contact else "",
        "[State]": state,
    }
    for code, value in values.items():
        template = template.replace(code, value)
    return " ".join(template.split())


def _bridge(call: VoiceCall, settings: Settings) -> str:
    action = url(settings.base_url, "dial", call=call.id)
    return twiml.response(twiml.dial(call.to, caller_id=call.line, action=action, timeout=30))


def _do_not_call(session: Session, call: VoiceCall, now: datetime, settings: Settings) -> None:
    reason = "pressed 9 on a dialer call to stop getting calls"
    call.data = {**call.data, "dnc_reason": reason}
    record_event(session=session, contact_id=call.contact_id, name="dnc_changed",
                 data={"dnc": True, "reason": reason, "call_sid": call.sid}, now=now,
                 settings=settings)  # fmt: skip


def _seconds(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0
