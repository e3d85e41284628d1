"""TwiML answers, built as XML elements so that no text can break out of its element."""

from __future__ import annotations

from xml.etree import ElementTree as ET

Verb = ET.Element


def response(*verbs: Verb) -> str:
    """The TwiML document `<Response>` holding the verbs, in order."""
    root = ET.Element("Response")
    root.extend(verbs)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")


def say(text: str, *, loop: int = 1) -> Verb:
    """`<Say>` the text (`loop` times)."""
    verb = ET.Element("Say", {"loop": str(loop)} if loop != 1 else {})
    verb.text = text
    return verb


def play(url: str) -> Verb:
    """`<Play>` a recording."""
    verb = ET.Element("Play")
    verb.text = url
    return verb


def gather(action: str, *inside: Verb, digits: int = 1, timeout: int = 5) -> Verb:
    """`<Gather>` keys while the verbs inside play; the keys are posted to `action`."""
    verb = ET.Element(
        "Gather",
        {"action": action, "method": "POST", "numDigits": str(digits), "timeout": str(timeout)},
    )
    verb.extend(inside)
    return verb


def dial(number: str, *, caller_id: str, action: str, timeout: int = 20) -> Verb:
    """`<Dial>` one number; its result (DialCallStatus, DialCallDuration) goes to `action`."""
    verb = ET.Element(
        "Dial",
        {"callerId": caller_id, "action": action, "method": "POST", "timeout": str(timeout)},
    )
    ET.SubElement(verb, "Number").text = number
    return verb


def redirect(url: str) -> Verb:
    """`<Redirect>` to another TwiML URL."""
    verb = ET.Element("Redirect", {"method": "POST"})
    verb.text = url
    return verb


def hangup() -> Verb:
    """`<Hangup/>`."""
    return ET.Element("Hangup")
