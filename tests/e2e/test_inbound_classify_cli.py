"""`cadenza inbound classify`: the real command over real-world shaped mail, no database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CADENZA = str(Path(sys.executable).parent / "cadenza")
CORPUS = Path(__file__).parent.parent / "fixtures" / "mail" / "corpus"


def cadenza(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    # A database that cannot be reached: the command must not need one.
    env["CADENZA_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    return subprocess.run(
        [CADENZA, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60
    )


def test_json_gives_one_object_per_file_with_kind_recipient_date_and_reasons(
    tmp_path: Path,
) -> None:
    files = [
        "bounce/o365_recipient_not_found.eml",
        "bounce/gmail_over_quota.eml",
        "auto_reply/exchange_de_bis.eml",
        "complaint/yahoo_arf.eml",
        "receipt/outlook_read_receipt.eml",
    ]
    done = cadenza("inbound", "classify", "--json", *(str(CORPUS / f) for f in files), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)
    assert [v["file"] for v in verdicts] == [str(CORPUS / f) for f in files]
    assert [(v["kind"], v["recipient"], v["return_date"]) for v in verdicts] == [
        ("hard_bounce", "d.brown@corp.example", None),
        ("soft_bounce", "full.inbox@gmail.com", None),
        ("auto_reply", None, "2026-12-11"),
        ("complaint", "lisa.m@yahoo.com", None),
        ("receipt", None, None),
    ]
    assert all(v["reasons"] and all(isinstance(r, str) for r in v["reasons"]) for v in verdicts)
    assert "mailbox full" in " ".join(verdicts[1]["reasons"])


def test_text_output_says_what_and_why(tmp_path: Path) -> None:
    bounce = CORPUS / "bounce/exim_user_unknown.eml"
    done = cadenza("inbound", "classify", str(bounce), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{bounce}: hard_bounce\n")
    assert "recipient: p.meier@firma.example" in done.stdout
    assert "no such recipient" in done.stdout


def test_a_file_that_is_no_email_is_unknown(tmp_path: Path) -> None:
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"\x00\xffnot mail at all")
    done = cadenza("inbound", "classify", "--json", str(junk), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["kind"] == "unknown"


def test_an_unreadable_file_is_one_clear_error_and_exit_1(tmp_path: Path) -> None:
    good = str(CORPUS / "bounce/qmail_no_mailbox.eml")
    for missing in (str(tmp_path / "missing.eml"), str(tmp_path)):
        done = cadenza("inbound", "classify", "--json", good, missing, cwd=tmp_path)

        assert done.returncode == 1
        assert done.stderr.startswith(f"error: cannot read {missing}")
        assert "Traceback" not in done.stderr and done.stdout == ""
