"""`cadenza subscriptions …` as an operator runs it: a CRM endpoint on loopback gets the
events of a `worker --once`, the log and the test send say what happened, bad input is
refused without a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli_users import Cli
from tests.integration.test_webhooks import Receiver, serve


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(tmp_path)
    runner.env["CADENZA_WEBHOOK_ALLOW"] = '["127.0.0.1"]'
    runner.env["CADENZA_ENVIRONMENT"] = "development"
    assert runner("init").returncode == 0
    yield runner


def test_an_operator_subscribes_a_crm_and_reads_the_delivery_log(cli: Cli) -> None:
    with serve(Receiver()) as crm:
        added = cli("subscriptions", "add", f"http://127.0.0.1:{crm.port}/in",
                    "--type", "enrolled", "--name", "CRM")  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert "signing secret (Standard Webhooks): whsec_" in added.stdout
        assert cli("demo").returncode == 0
        enrolled = cli("enroll", "Inbound lead follow-up", "--tag", "web-lead")
        assert enrolled.returncode == 0, enrolled.stderr
        worked = cli("worker", "--once")
        assert worked.returncode == 0, worked.stderr
        types = {json.loads(seen.body)["type"] for seen in crm.requests}
        assert types == {"enrolled"} and len(crm.requests) >= 1

        log = cli("subscriptions", "deliveries", "1", "--json")
        rows = json.loads(log.stdout)
        assert rows and {r["status"] for r in rows} == {"delivered"}
        assert len(rows) == len(crm.requests)
        tested = cli("subscriptions", "test", "1")
        assert tested.returncode == 0 and "test delivered: HTTP 200" in tested.stdout
        listed = json.loads(cli("subscriptions", "list", "--json").stdout)
        assert listed[0]["delivered"] == len(rows) + 1 and listed[0]["types"] == ["enrolled"]
        off = cli("subscriptions", "off", "1")
        assert off.returncode == 0 and "[off" in off.stdout


def test_a_bad_subscription_is_refused_with_its_reasons_and_no_traceback(cli: Cli) -> None:
    refused = cli("subscriptions", "add", "http://169.254.169.254/x", "--type", "opend")
    assert refused.returncode == 1
    assert "169.254.169.254" in refused.stderr and "'opend'" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout
    assert json.loads(cli("subscriptions", "list", "--json").stdout) == []
    missing = cli("subscriptions", "test", "7")
    assert missing.returncode == 1 and "no subscription 7" in missing.stderr
