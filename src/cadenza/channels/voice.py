"""Phone calls placed by a provider: Twilio Programmable Voice, and the development sink.

A call is created through the provider's REST API with the URL it fetches TwiML from when
the callee answers (`answer_url`) and the URL it posts each status to (`status_url`);
Cadenza's voice webhooks answer both. The sink places nothing: it records the call, with the
answer it simulates, as one JSON line, and says so in its result so the caller can play the
simulated call through the same flow.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from cadenza.channels.errors import TransientError
from cadenza.channels.outgoing import OutgoingVoicemail, SendResult
from cadenza.channels.ringless import Slybroadcast
from cadenza.channels.twilio import API_BASE, IDEMPOTENCY_HEADER, _classify, _json, _url_variants
from cadenza.channels.twilio import twilio_signature as twilio_signature
from cadenza.errors import ConfigurationError
from cadenza.settings import Settings

# The statuses Twilio posts to the status callback (besides `completed`, always sent).
STATUS_EVENTS = ("initiated", "ringing", "answered", "completed")
SIMULATED = "simulated:"  # a sink result's detail: "simulated:<answer>"


@dataclass(frozen=True, kw_only=True)
class OutgoingCall:
    """A call to place: from `sender` (a line) to `to`; `detect_machine` asks for AMD."""

    key: str
    sender: str
    to: str
    answer_url: str
    status_url: str
    detect_machine: bool = False
    timeout: int = 30


class VoiceProvider(Protocol):
    """What the dispatcher and the voice webhooks need from a voice provider."""

    name: str

    def place_call(self, call: OutgoingCall) -> SendResult:
        """Create the call; its provider id is the call's SID. SendError on failure."""
        ...

    def verify_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], signature: str
    ) -> bool:
        """True when a callback to `url` with `params` really comes from the provider."""
        ...

    def close(self) -> None:
        """Release what the provider holds."""
        ...


class TwilioVoice:
    """Calls through Twilio's REST API; `transport` replaces the network in tests."""

    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        transport: httpx.BaseTransport | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        self._sid, self._token = account_sid, auth_token
        self._client = httpx.Client(
            transport=transport, auth=(account_sid, auth_token), timeout=timeout
        )

    def place_call(self, call: OutgoingCall) -> SendResult:
        """POST /Accounts/{Sid}/Calls.json, form-encoded: the call and its callbacks."""
        form: dict[str, str | list[str]] = {
            "To": call.to,
            "From": call.sender,
            "Url": call.answer_url,
            "Method": "POST",
            "StatusCallback": call.status_url,
            "StatusCallbackMethod": "POST",
            "StatusCallbackEvent": list(STATUS_EVENTS),
            "Timeout": str(call.timeout),
        }
        if call.detect_machine:
            # Synchronous AMD that waits for the greeting's end, so that a message left on a
            # machine starts after the beep; AnsweredBy comes with the request to `Url`.
            form["MachineDetection"] = "DetectMessageEnd"
        url = f"{API_BASE}/Accounts/{self._sid}/Calls.json"
        try:
            response = self._client.post(url, data=form, headers={IDEMPOTENCY_HEADER: call.key})
        except httpx.TimeoutException as exc:
            raise TransientError("Twilio did not answer in time") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"cannot reach Twilio: {exc}") from exc
        if not response.is_success:
            raise _classify(response)
        data = _json(response)
        return SendResult(provider_id=str(data.get("sid", "")), detail=str(data.get("status", "")))

    def verify_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], signature: str
    ) -> bool:
        """True when `signature` (X-Twilio-Signature) is Twilio's for this URL and form."""
        return any(
            hmac.compare_digest(twilio_signature(self._token, candidate, params), signature)
            for candidate in _url_variants(url)
        )

    def close(self) -> None:
        """Release the HTTP connections."""
        self._client.close()


class VoiceSink:
    """Records every call instead of placing it, with the answer it simulates (JSON lines)."""

    name = "sink"

    def __init__(
        self,
        path: Path | None = None,
        *,
        answer: str = "human",
        digits: str = "1",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.path, self.answer, self.digits, self._now = path, answer, digits, now
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def place_call(self, call: OutgoingCall) -> SendResult:
        """Record the call and the answer it will be played with."""
        sid = "CAsink" + hashlib.sha256(call.key.encode()).hexdigest()[:28]
        record: dict[str, Any] = {
            "kind": "call", "key": call.key, "id": sid, "from": call.sender, "to": call.to,
            "detect_machine": call.detect_machine, "answer": self.answer, "digits": self.digits,
        }  # fmt: skip
        if self._now is not None:
            record["at"] = self._now().isoformat()
        self.record(record)
        return SendResult(provider_id=sid, detail=SIMULATED + self.answer)

    def record(self, record: dict[str, Any]) -> None:
        """Append one line (a call, or a step of its simulated course)."""
        with self._lock:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as sink:
                    sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            self.records.append(record)

    def verify_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], signature: str
    ) -> bool:
        """The sink never calls back, so no callback is its own."""
        return False

    def close(self) -> None:
        """Nothing to release."""


class VoicemailProvider(Protocol):
    """Who drops ringless voicemail (Slybroadcast, or an SMS provider that says it cannot)."""

    def send_voicemail(self, msg: OutgoingVoicemail) -> SendResult:
        """Drop the recording, or raise UnsupportedByProvider with the reason."""
        ...


def make_voicemail_provider(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> VoicemailProvider | None:
    """Slybroadcast when the settings name it (None: the SMS provider drops voicemail)."""
    if settings.voicemail_provider != "slybroadcast":
        return None
    if not (settings.slybroadcast_uid and settings.slybroadcast_password):
        raise ConfigurationError(
            "CADENZA_VOICEMAIL_PROVIDER=slybroadcast needs CADENZA_SLYBROADCAST_UID and "
            "CADENZA_SLYBROADCAST_PASSWORD"
        )
    return Slybroadcast(settings.slybroadcast_uid, settings.slybroadcast_password, transport)


def make_voice_provider(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
) -> VoiceProvider:
    """The provider the settings name: the sink (writing the sink file) or Twilio."""
    if settings.voice_provider == "sink":
        return VoiceSink(
            Path(settings.voice_sink_path),
            answer=settings.voice_sink_answer,
            digits=settings.voice_sink_digits,
            now=now,
        )
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise ConfigurationError(
            "CADENZA_VOICE_PROVIDER=twilio needs CADENZA_TWILIO_ACCOUNT_SID and "
            "CADENZA_TWILIO_AUTH_TOKEN"
        )
    return TwilioVoice(settings.twilio_account_sid, settings.twilio_auth_token, transport)
