"""Open pixel, click redirect and unsubscribe links: written into emails, read by endpoints.

Paths under `base_url`: `/t/o/{token}.gif` (open), `/t/c/{token}` (click, redirect to the URL
inside the token and nowhere else), `/u/{token}` (unsubscribe: GET confirms, POST is RFC 8058
one-click). Each token names its purpose so that one kind cannot be replayed as another.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from cadenza.channels.errors import InvalidToken
from cadenza.channels.tokens import sign_token, verify_token

OPEN_PATH = "/t/o/"
CLICK_PATH = "/t/c/"
UNSUBSCRIBE_PATH = "/u/"
# What the open endpoint answers: a transparent 1x1 GIF.
PIXEL_GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


@dataclass(frozen=True)
class LinkTarget:
    """What a verified token says: the message key, and the URL or contact it is about."""

    key: str
    url: str | None = None
    contact_id: int | None = None


def open_pixel_url(base_url: str, key: str, secret: str) -> str:
    """The URL of the 1x1 image that records an open of message `key`."""
    return f"{_base(base_url)}{OPEN_PATH}{sign_token({'p': 'o', 'k': key}, secret)}.gif"


def click_url(base_url: str, key: str, url: str, secret: str) -> str:
    """The tracked link that records a click in message `key` and redirects to `url`."""
    return f"{_base(base_url)}{CLICK_PATH}{sign_token({'p': 'c', 'k': key, 'u': url}, secret)}"


def unsubscribe_token(key: str, contact_id: int | None, secret: str) -> str:
    """The token of the unsubscribe link and of the List-Unsubscribe mailto subject."""
    return sign_token({"p": "u", "k": key, "c": contact_id}, secret)


def unsubscribe_url(base_url: str, key: str, contact_id: int | None, secret: str) -> str:
    """The one-click unsubscribe URL for the contact message `key` was sent to."""
    return unsubscribe_link(base_url, unsubscribe_token(key, contact_id, secret))


def unsubscribe_link(base_url: str, token: str) -> str:
    """The one-click unsubscribe URL carrying an `unsubscribe_token`."""
    return f"{_base(base_url)}{UNSUBSCRIBE_PATH}{token}"


def read_open_token(token: str, secret: str) -> LinkTarget:
    """The message an open pixel token is for (a trailing `.gif` is accepted)."""
    return LinkTarget(key=_read(token.removesuffix(".gif"), secret, "o")["k"])


def read_click_token(token: str, secret: str) -> LinkTarget:
    """The message and the original http(s) URL of a click token: the only redirect target."""
    data = _read(token, secret, "c")
    url = data.get("u")
    if not isinstance(url, str) or not is_http_url(url):
        raise InvalidToken("this link has no web address to go to")
    return LinkTarget(key=data["k"], url=url)


def read_unsubscribe_token(token: str, secret: str) -> LinkTarget:
    """The message and contact an unsubscribe token was issued for."""
    data = _read(token, secret, "u")
    contact = data.get("c")
    return LinkTarget(key=data["k"], contact_id=contact if isinstance(contact, int) else None)


def is_http_url(url: str) -> bool:
    """True for absolute http:// and https:// URLs, the only ones tracked or redirected to."""
    return re.match(r"(?i)https?://[^/\s]", url) is not None


_A_TAG = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"""(\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)


def rewrite_links(
    markup: str, replace: Callable[[str], str], only: Collection[str] | None = None
) -> str:
    """`markup` with its http(s) `<a href>` replaced by `replace(original_url)`.

    `only`: the URLs that may be replaced (the links a template wrote itself); others,
    such as a link a contact's own value carried into the body, are left as they are.
    """

    def one_href(match: re.Match[str]) -> str:
        raw = next(g for g in match.groups()[1:] if g is not None)
        url = html.unescape(raw).strip()
        if not is_http_url(url) or (only is not None and url not in only):
            return match.group(0)
        return f'{match.group(1)}"{html.escape(replace(url), quote=True)}"'

    return _A_TAG.sub(lambda tag: _HREF.sub(one_href, tag.group(0), count=1), markup)


def literal_links(template: str) -> list[str]:
    """The http(s) links a template writes itself: `<a href>` values with no template code."""
    found: list[str] = []
    for tag in _A_TAG.finditer(template):
        match = _HREF.search(tag.group(0))
        if match is None:
            continue
        raw = next(g for g in match.groups()[1:] if g is not None)
        if "{" in raw or "[" in raw:
            continue  # a value filled in at rendering: not the definition's own link
        url = html.unescape(raw).strip()
        if is_http_url(url) and url not in found:
            found.append(url)
    return found


def _read(token: str, secret: str, purpose: str) -> dict[str, Any]:
    data = verify_token(token, secret)
    if data.get("p") != purpose or not isinstance(data.get("k"), str):
        raise InvalidToken("this link is not valid here")
    return data


def _base(base_url: str) -> str:
    return base_url.rstrip("/")
