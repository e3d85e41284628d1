"""Ringless voicemail: a recording dropped into the mailbox without ringing the phone.

Twilio offers no such thing; Slybroadcast does, through a documented form POST to its
gateway (`c_uid`, `c_password`, `c_url` + `c_audio`, `c_phone`, `c_callerID`, `c_date`),
answering `OK` with a session id, or `ERROR` and what is wrong.
"""

from __future__ import annotations

import re

import httpx

from cadenza.channels.errors import AccountError, PermanentError, TransientError
from cadenza.channels.outgoing import OutgoingVoicemail, SendResult

SLYBROADCAST_URL = "https://www.mobile-sphere.com/gateway/vmb.php"
AUDIO_TYPES = {"wav": "wav", "mp3": "Mp3", "m4a": "m4a"}


class Slybroadcast:
    """Voicemail drops through Slybroadcast; `transport` replaces the network in tests."""

    name = "slybroadcast"

    def __init__(
        self, uid: str, password: str, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._uid, self._password = uid, password
        self._client = httpx.Client(transport=transport, timeout=15.0)

    def send_voicemail(self, msg: OutgoingVoicemail) -> SendResult:
        """Submit a one-number campaign delivered now, with the step's recording."""
        form = {
            "c_uid": self._uid,
            "c_password": self._password,
            "c_url": msg.audio_url,
            "c_audio": audio_type(msg.audio_url),
            "c_phone": _digits(msg.to),
            "c_callerID": _digits(msg.sender),
            "c_date": "now",
            "c_title": msg.key,
        }
        try:
            response = self._client.post(SLYBROADCAST_URL, data=form)
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach Slybroadcast: {exc}") from exc
        if response.status_code >= 500:
            raise TransientError(f"Slybroadcast answered {response.status_code}")
        text = response.text.strip()
        if not text.upper().startswith("OK"):
            detail = text.removeprefix("ERROR").strip() or f"HTTP {response.status_code}"
            if re.search(r"password|login|c_uid|account", detail, re.IGNORECASE):
                raise AccountError(f"Slybroadcast refused the account: {detail}")
            raise PermanentError(f"Slybroadcast refused the voicemail: {detail}")
        session = re.search(r"session_id\s*=\s*(\S+)", text)
        return SendResult(provider_id=session.group(1) if session else "", detail="OK")

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()


def audio_type(url: str) -> str:
    """The `c_audio` value for a recording URL (wav, Mp3 or m4a, from its extension)."""
    found = re.search(r"\.([A-Za-z0-9]+)(?:[?#]|$)", url)
    kind = AUDIO_TYPES.get(found.group(1).lower() if found else "")
    if kind is None:
        raise PermanentError(f"a ringless voicemail's recording is WAV, MP3 or M4A: {url}")
    return kind


def _digits(number: str) -> str:
    # Slybroadcast's examples write North American numbers as ten digits, without +1.
    digits = re.sub(r"\D", "", number)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
