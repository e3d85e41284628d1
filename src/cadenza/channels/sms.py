"""SMS, MMS and ringless voicemail behind one provider interface; the development sink.

The dispatcher calls `send_sms` / `send_voicemail`; inbound endpoints call
`verify_callback` with the URL the provider was given (`base_url` + path), the POST form
and the signature header. `make_provider` picks the implementation from the settings.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from cadenza.channels.outgoing import OutgoingSms, OutgoingVoicemail, SendResult
from cadenza.channels.twilio import TwilioProvider
from cadenza.errors import ConfigurationError
from cadenza.settings import Settings

# Where the inbound API must receive delivery reports; providers are told `base_url` + this.
STATUS_CALLBACK_PATH = "/api/v1/inbound/sms/status"


class SmsProvider(Protocol):
    """What the dispatcher and the inbound endpoints need from an SMS provider."""

    name: str

    def send_sms(self, msg: OutgoingSms) -> SendResult:
        """Send an SMS (or an MMS when `msg.media` is set); raise SendError on failure."""
        ...

    def send_voicemail(self, msg: OutgoingVoicemail) -> SendResult:
        """Drop a ringless voicemail, or raise UnsupportedByProvider."""
        ...

    def verify_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], signature: str
    ) -> bool:
        """True when a callback to `url` with `params` really comes from the provider."""
        ...


class SinkProvider:
    """Keeps every message instead of sending it: JSON lines in a file, or only in memory.

    Resending a key records nothing new, as a provider honouring idempotency keys would.
    """

    name = "sink"

    def __init__(
        self, path: Path | None = None, *, now: Callable[[], datetime] | None = None
    ) -> None:
        self.path = path
        self.records: list[dict[str, Any]] = read_sink(path) if path else []
        self._now = now
        self._keys = {r.get("key") for r in self.records}
        self._lock = threading.Lock()

    def send_sms(self, msg: OutgoingSms) -> SendResult:
        """Record the SMS (`kind` "mms" when it has media)."""
        record = {"kind": "mms" if msg.media else "sms", "key": msg.key, "from": msg.sender,
                  "to": msg.to, "body": msg.body, "media": list(msg.media)}  # fmt: skip
        return self._record(record)

    def send_voicemail(self, msg: OutgoingVoicemail) -> SendResult:
        """Record the voicemail drop."""
        record = {"kind": "voicemail", "key": msg.key, "from": msg.sender, "to": msg.to,
                  "audio_url": msg.audio_url}  # fmt: skip
        return self._record(record)

    def verify_callback(
        self, url: str, params: Mapping[str, str | Sequence[str]], signature: str
    ) -> bool:
        """The sink never calls back, so no callback is its own."""
        return False

    def _record(self, record: dict[str, Any]) -> SendResult:
        provider_id = "sink-" + hashlib.sha256(record["key"].encode()).hexdigest()[:24]
        with self._lock:
            if record["key"] in self._keys:
                return SendResult(provider_id=provider_id, detail="already recorded")
            record["id"] = provider_id
            if self._now is not None:
                record["at"] = self._now().isoformat()
            self._append(record)
        return SendResult(provider_id=provider_id, detail="recorded")

    def _append(self, record: dict[str, Any]) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as sink:
                sink.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.records.append(record)
        self._keys.add(record["key"])


def read_sink(path: Path) -> list[dict[str, Any]]:
    """Every message a sink recorded in `path`, oldest first (for the UI and the CLI)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# Opt-out instructions already in a body. A bare "stop" in prose ("don't stop by") is not
# one, so the word must come with what to do: "reply STOP", "STOP to end", "opt out".
def make_provider(
    settings: Settings,
    sink_path: Path,
    *,
    transport: httpx.BaseTransport | None = None,
    now: Callable[[], datetime] | None = None,
) -> SmsProvider:
    """The provider the settings name: the sink (writing `sink_path`) or Twilio."""
    if settings.sms_provider == "sink":
        return SinkProvider(sink_path, now=now)
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        raise ConfigurationError(
            "CADENZA_SMS_PROVIDER=twilio needs CADENZA_TWILIO_ACCOUNT_SID and "
            "CADENZA_TWILIO_AUTH_TOKEN"
        )
    return TwilioProvider(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        transport,
        status_callback=settings.base_url.rstrip("/") + STATUS_CALLBACK_PATH,
    )
