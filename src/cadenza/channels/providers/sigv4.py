"""AWS Signature Version 4 for one HTTP request (the documented algorithm, nothing more).

https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html: a canonical
request, a string to sign with its credential scope, a key derived from the secret by
date, region and service, and the Authorization header that names the signed headers.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


def sign(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    access_key: str,
    secret_key: str,
    region: str,
    service: str,
    now: datetime,
    session_token: str | None = None,
    content_header: bool = True,
) -> dict[str, str]:
    """`headers` plus Host, X-Amz-Date, X-Amz-Content-Sha256 (unless `content_header` is
    False) and the Authorization header."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    parts = urlsplit(url)
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = {**headers, "Host": parts.netloc, "X-Amz-Date": stamp}
    if content_header:
        signed["X-Amz-Content-Sha256"] = payload_hash
    if session_token:
        signed["X-Amz-Security-Token"] = session_token
    canonical_headers = {name.lower(): " ".join(value.split()) for name, value in signed.items()}
    names = ";".join(sorted(canonical_headers))
    canonical = "\n".join(
        (
            method.upper(),
            quote(parts.path or "/", safe="/-_.~"),
            _query(parts.query),
            "".join(f"{name}:{canonical_headers[name]}\n" for name in sorted(canonical_headers)),
            names,
            payload_hash,
        )
    )
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join((ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()))
    key = _signing_key(secret_key, stamp[:8], region, service)
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    signed["Authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={names}, Signature={signature}"
    )
    return signed


def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _query(query: str) -> str:
    pairs = []
    for item in filter(None, query.split("&")):
        name, _, value = item.partition("=")
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))
