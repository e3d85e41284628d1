"""The Host allow-list: which names a server answers to, read from the settings."""

from __future__ import annotations

from cadenza.api.limits import allowed_hosts, host_allowed, host_of
from cadenza.settings import Settings


def test_the_default_is_the_base_url_host_and_the_local_names() -> None:
    settings = Settings(
        environment="production", secret_key="k" * 32, base_url="https://crm.example.com/"
    )
    assert allowed_hosts(settings) == ("crm.example.com", "localhost", "127.0.0.1", "::1")


def test_a_list_replaces_the_local_names_but_keeps_the_base_url_host() -> None:
    settings = Settings(
        environment="production",
        secret_key="k" * 32,
        base_url="https://crm.example.com",
        allowed_hosts=["Proxy.Example.com", "*.internal.example"],
    )
    allowed = allowed_hosts(settings)
    assert allowed == ("crm.example.com", "proxy.example.com", "*.internal.example")
    assert host_allowed(host_of("proxy.example.com:443"), allowed)
    assert host_allowed(host_of("a.internal.example"), allowed)
    assert not host_allowed(host_of("internal.example.evil"), allowed)
    assert not host_allowed(host_of("localhost:8000"), allowed)
    assert not host_allowed(host_of(""), allowed)


def test_host_headers_lose_their_port_and_case() -> None:
    assert host_of("LOCALHOST:8000") == "localhost"
    assert host_of("[::1]:8000") == "::1"
    assert host_of("example.com") == "example.com"
    assert host_allowed("anything.example", ("*",))
