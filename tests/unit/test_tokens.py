"""Signed tokens and tracking links: only links Cadenza wrote are honoured, and only as written."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from cadenza.channels.errors import InvalidToken
from cadenza.channels.tokens import b64url, sign_token, unb64url, verify_token
from cadenza.channels.tracking import (
    PIXEL_GIF,
    click_url,
    open_pixel_url,
    read_click_token,
    read_open_token,
    read_unsubscribe_token,
    rewrite_links,
    unsubscribe_url,
)

SECRET = "s3cret"
BASE = "https://cadenza.example.com/"


def test_a_token_round_trips_its_data() -> None:
    data = {"k": "41:intro:1", "u": "https://x.example/ü?a=1&b=2", "n": 3}
    token = sign_token(data, SECRET)

    assert verify_token(token, SECRET) == data
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature altered
        lambda t: b64url(b'{"k":"other"}') + t[t.index(".") :],  # data swapped
        lambda t: t.split(".")[0],  # signature cut off
        lambda t: t + "x",
        lambda t: "",
        lambda t: "!!!.???",
        lambda t: "é." + t.split(".")[1],
    ],
)
def test_an_altered_token_is_refused(mangle: object) -> None:
    token = sign_token({"k": "41:intro:1"}, SECRET)
    assert callable(mangle)
    with pytest.raises(InvalidToken):
        verify_token(mangle(token), SECRET)


def test_a_token_from_another_secret_is_refused() -> None:
    with pytest.raises(InvalidToken, match="not issued"):
        verify_token(sign_token({"k": "a"}, "another secret"), SECRET)


def _independently_signed(body: bytes) -> str:
    key = hmac.new(SECRET.encode(), b"cadenza:tokens", hashlib.sha256).digest()
    part = base64.urlsafe_b64encode(body).rstrip(b"=").decode()
    mac = hmac.new(key, part.encode(), hashlib.sha256).digest()[:16]
    return part + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def test_the_token_format_is_the_documented_one() -> None:
    token = _independently_signed(b'{"k":"41:intro:1"}')
    assert verify_token(token, SECRET) == {"k": "41:intro:1"}


def test_a_signed_non_object_is_refused() -> None:
    with pytest.raises(InvalidToken, match="malformed"):
        verify_token(_independently_signed(b"[1, 2]"), SECRET)


def test_base64url_rejects_foreign_characters() -> None:
    assert unb64url(b64url(b"\xff\x00abc")) == b"\xff\x00abc"
    with pytest.raises(ValueError):
        unb64url("ab+/")


def test_click_links_redirect_only_to_the_url_they_were_made_for() -> None:
    url = click_url(BASE, "41:intro:1", "https://acme.example/p?a=1", SECRET)
    assert url.startswith("https://cadenza.example.com/t/c/")

    target = read_click_token(url.rsplit("/", 1)[1], SECRET)
    assert (target.key, target.url) == ("41:intro:1", "https://acme.example/p?a=1")


def test_a_token_cannot_be_used_for_another_purpose() -> None:
    click = click_url(BASE, "41:intro:1", "https://acme.example/", SECRET).rsplit("/", 1)[1]
    opened = open_pixel_url(BASE, "41:intro:1", SECRET).rsplit("/", 1)[1]
    unsubscribe = unsubscribe_url(BASE, "41:intro:1", 41, SECRET).rsplit("/", 1)[1]

    assert read_open_token(opened, SECRET).key == "41:intro:1"
    assert read_unsubscribe_token(unsubscribe, SECRET).contact_id == 41
    with pytest.raises(InvalidToken):
        read_unsubscribe_token(click, SECRET)
    with pytest.raises(InvalidToken):
        read_click_token(opened.removesuffix(".gif"), SECRET)
    with pytest.raises(InvalidToken):
        read_open_token(unsubscribe, SECRET)


def test_a_signed_click_token_for_a_non_web_url_does_not_redirect() -> None:
    token = sign_token({"p": "c", "k": "41:intro:1", "u": "javascript:alert(1)"}, SECRET)
    with pytest.raises(InvalidToken, match="no web address"):
        read_click_token(token, SECRET)


def test_rewrite_links_touches_only_web_links_in_anchors() -> None:
    markup = (
        '<link href="https://cdn.example/style.css">'
        '<a class="x" href="https://a.example/?q=1&amp;r=2">A</a>'
        "<A HREF='http://b.example/'>B</A>"
        "<a href=https://c.example/path>C</a>"
        '<a href="mailto:me@example.com">mail</a>'
        '<a href="#top">top</a>'
        '<img src="https://img.example/x.png">'
    )
    seen: list[str] = []

    def track(url: str) -> str:
        seen.append(url)
        return f"https://t.example/{len(seen)}?x=<>"

    out = rewrite_links(markup, track)

    assert seen == ["https://a.example/?q=1&r=2", "http://b.example/", "https://c.example/path"]
    assert '<a class="x" href="https://t.example/1?x=&lt;&gt;">A</a>' in out
    assert '<A HREF="https://t.example/2?x=&lt;&gt;">B</A>' in out
    assert '<link href="https://cdn.example/style.css">' in out
    assert 'href="mailto:me@example.com"' in out and 'href="#top"' in out
    assert '<img src="https://img.example/x.png">' in out


def test_the_pixel_is_a_one_by_one_gif() -> None:
    assert PIXEL_GIF.startswith(b"GIF89a")
    assert PIXEL_GIF[6:10] == b"\x01\x00\x01\x00"  # width 1, height 1
