"""The container image and compose file hold what docs/deploy.md promises."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"POSTGRES_PASSWORD": "pw-for-test", "CADENZA_SECRET_KEY": "k" * 64}


def _compose_client() -> list[str] | None:
    """`docker compose` (the plugin), else the standalone `docker-compose`, else None."""
    if shutil.which("docker"):
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return ["docker", "compose"]
    found = shutil.which("docker-compose")
    return [found] if found else None


def _config(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    client = _compose_client()
    if client is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    return subprocess.run(
        [*client, "-f", str(ROOT / "compose.yaml"), "config"],
        env={k: v for k, v in os.environ.items() if k not in SECRETS} | env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )


def test_compose_validates_with_its_secrets_given() -> None:
    done = _config(SECRETS)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load(done.stdout)
    assert {"db", "migrate", "web", "worker", "mail"} <= set(config["services"])
    assert "k" * 64 in done.stdout


def test_compose_refuses_to_start_without_its_secrets() -> None:
    done = _config({"POSTGRES_PASSWORD": "pw-for-test"})
    assert done.returncode != 0
    assert "CADENZA_SECRET_KEY" in done.stderr


def test_compose_runs_one_server_and_several_workers_after_the_migration() -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert services["web"]["command"][:2] == ["cadenza", "serve"]
    assert "--no-worker" in services["web"]["command"]
    assert services["worker"]["command"] == ["cadenza", "worker"]
    assert "replicas" in services["worker"]["deploy"]
    assert services["migrate"]["command"] == ["cadenza", "init"]
    for name in ("web", "worker"):
        environment = services[name]["environment"]
        assert environment["CADENZA_ENVIRONMENT"] == "production"
        # No default secret: `${VAR:?message}` makes compose refuse to run without it.
        assert environment["CADENZA_SECRET_KEY"].startswith("${CADENZA_SECRET_KEY:?")
        assert "${POSTGRES_PASSWORD:?" in environment["CADENZA_DATABASE_URL"]
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_image_is_multi_stage_unprivileged_and_checks_readiness() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert any(line.startswith("COPY --from=build") for line in lines)
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("root", "0")
    health = next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    assert "/readyz" in " ".join(lines[health : health + 2])
    assert "CADENZA_ENVIRONMENT=production" in " ".join(lines)
    assert "CADENZA_SECRET_KEY" not in " ".join(lines)  # never baked into the image
