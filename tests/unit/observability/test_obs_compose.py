"""docker-compose.yml: the self-hosted Langfuse v4 stack, checked without pulling images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).parents[3]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "observability" / ".env.example"

REQUIRED_ENV = (
    "NEXTAUTH_URL", "DATABASE_URL", "SALT", "ENCRYPTION_KEY", "CLICKHOUSE_MIGRATION_URL",
    "CLICKHOUSE_URL", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", "CLICKHOUSE_CLUSTER_ENABLED",
    "REDIS_HOST", "REDIS_PORT", "REDIS_AUTH",
    "LANGFUSE_S3_EVENT_UPLOAD_BUCKET", "LANGFUSE_S3_EVENT_UPLOAD_ACCESS_KEY_ID",
    "LANGFUSE_S3_EVENT_UPLOAD_SECRET_ACCESS_KEY", "LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT",
    "LANGFUSE_S3_MEDIA_UPLOAD_BUCKET", "LANGFUSE_S3_MEDIA_UPLOAD_ACCESS_KEY_ID",
    "LANGFUSE_S3_MEDIA_UPLOAD_SECRET_ACCESS_KEY", "LANGFUSE_S3_MEDIA_UPLOAD_ENDPOINT",
)
INIT_ENV = (
    "LANGFUSE_INIT_ORG_ID", "LANGFUSE_INIT_ORG_NAME", "LANGFUSE_INIT_PROJECT_ID",
    "LANGFUSE_INIT_PROJECT_NAME", "LANGFUSE_INIT_PROJECT_PUBLIC_KEY",
    "LANGFUSE_INIT_PROJECT_SECRET_KEY", "LANGFUSE_INIT_USER_EMAIL", "LANGFUSE_INIT_USER_NAME",
    "LANGFUSE_INIT_USER_PASSWORD",
)
_VAR = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


def resolve(value: Any) -> str:
    """A compose value with ${VAR:-default} replaced by its default (no .env present)."""
    return _VAR.sub(lambda m: m.group(2) or "", str(value))


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    doc = yaml.safe_load(COMPOSE.read_text())
    return doc["services"]  # type: ignore[no-any-return]


def env_of(service: dict[str, Any]) -> dict[str, str]:
    return {k: resolve(v) for k, v in (service.get("environment") or {}).items()}


def env_example() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_services_and_images(services: dict[str, Any]) -> None:
    assert set(services) == {"langfuse-web", "langfuse-worker", "postgres", "clickhouse",
                             "redis", "minio"}
    images = {name: s["image"] for name, s in services.items()}
    assert images["langfuse-web"].endswith("langfuse/langfuse:4")
    assert images["langfuse-worker"].endswith("langfuse/langfuse-worker:4")
    assert images["postgres"].endswith("postgres:17")
    assert images["redis"].endswith("redis:7")
    ch = re.search(r"clickhouse-server:(\d+)\.(\d+)", images["clickhouse"])
    assert ch and (int(ch[1]), int(ch[2])) >= (25, 12)
    assert "minio" in images["minio"]
    assert "mkdir -p /data/langfuse" in services["minio"]["command"]  # the bucket exists


def test_every_service_has_a_healthcheck_and_langfuse_waits_for_them(
        services: dict[str, Any]) -> None:
    for name, s in services.items():
        assert s.get("healthcheck", {}).get("test"), name
    for app in ("langfuse-web", "langfuse-worker"):
        deps = services[app]["depends_on"]
        assert set(deps) == {"postgres", "clickhouse", "redis", "minio"}
        assert all(d["condition"] == "service_healthy" for d in deps.values())
    assert "/api/public/health" in str(services["langfuse-web"]["healthcheck"]["test"])


def test_required_configuration_is_set(services: dict[str, Any]) -> None:
    for app in ("langfuse-web", "langfuse-worker"):
        env = env_of(services[app])
        missing = [k for k in REQUIRED_ENV if not env.get(k)]
        assert not missing, (app, missing)
        assert env["CLICKHOUSE_CLUSTER_ENABLED"] == "false"
        assert re.fullmatch(r"[0-9a-f]{64}", env["ENCRYPTION_KEY"])
    web = env_of(services["langfuse-web"])
    assert web["NEXTAUTH_SECRET"]
    assert all(web.get(k) for k in INIT_ENV), [k for k in INIT_ENV if not web.get(k)]


def test_only_the_web_ui_listens_beyond_localhost(services: dict[str, Any]) -> None:
    for name, s in services.items():
        for port in s.get("ports", []):
            if name == "langfuse-web":
                assert str(port) == "3000:3000"
            else:
                assert str(port).startswith("127.0.0.1:"), (name, port)


def test_secrets_are_marked_changeme() -> None:
    text = COMPOSE.read_text()
    for key in ("SALT", "ENCRYPTION_KEY", "NEXTAUTH_SECRET", "LANGFUSE_INIT_PROJECT_SECRET_KEY",
                "LANGFUSE_INIT_USER_PASSWORD", "POSTGRES_PASSWORD", "CLICKHOUSE_PASSWORD",
                "MINIO_ROOT_PASSWORD", "REDIS_AUTH"):
        lines = [x for x in text.splitlines() if re.match(rf"\s*{key}:", x)]
        assert lines and all("CHANGEME" in x for x in lines), key


def test_pre_provisioned_keys_equal_the_env_example(services: dict[str, Any]) -> None:
    web = env_of(services["langfuse-web"])
    example = env_example()
    assert example["LANGFUSE_PUBLIC_KEY"] == web["LANGFUSE_INIT_PROJECT_PUBLIC_KEY"]
    assert example["LANGFUSE_SECRET_KEY"] == web["LANGFUSE_INIT_PROJECT_SECRET_KEY"]
    assert example["LANGFUSE_PROJECT_ID"] == web["LANGFUSE_INIT_PROJECT_ID"]
    assert example["LANGFUSE_BASE_URL"] == web["NEXTAUTH_URL"] == "http://localhost:3000"
    assert example["LANGFUSE_PUBLIC_KEY"].startswith("pk-lf-")
    assert example["LANGFUSE_SECRET_KEY"].startswith("sk-lf-")


def test_env_example_configures_the_tracer() -> None:
    from crew.observability import LangfuseSettings

    settings = LangfuseSettings.from_env(env_example())
    assert settings is not None
    assert settings.base_url == "http://localhost:3000" and settings.project_id == "crew-local"


def test_web_and_worker_listen_on_all_interfaces(services: dict[str, Any]) -> None:
    """Langfuse binds to $HOSTNAME (the container id under Docker) unless told otherwise; the
    healthchecks the README waits for reach it on 127.0.0.1 only with HOSTNAME 0.0.0.0."""
    for app in ("langfuse-web", "langfuse-worker"):
        assert env_of(services[app]).get("HOSTNAME") == "0.0.0.0", app
        assert "127.0.0.1" in str(services[app]["healthcheck"]["test"])


def test_the_worker_reaches_minio_inside_the_network(services: dict[str, Any]) -> None:
    worker = env_of(services["langfuse-worker"])
    for key in ("LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT", "LANGFUSE_S3_MEDIA_UPLOAD_ENDPOINT"):
        assert worker[key] == "http://minio:9000", key
    web = env_of(services["langfuse-web"])
    assert web["LANGFUSE_S3_EVENT_UPLOAD_ENDPOINT"] == "http://minio:9000"
    published = services["minio"]["ports"][0].split(":")  # 127.0.0.1:9090:9000
    assert web["LANGFUSE_S3_MEDIA_UPLOAD_ENDPOINT"] == f"http://localhost:{published[1]}"


def test_stateful_services_keep_their_data(services: dict[str, Any]) -> None:
    mounts = {name: [str(v).split(":")[1] for v in s.get("volumes", [])]
              for name, s in services.items()}
    assert "/data" in mounts["redis"]  # queued ingestion events survive a recreate
    assert "--appendonly yes" in services["redis"]["command"]
    assert "/var/lib/postgresql/data" in mounts["postgres"]
    assert "/var/lib/clickhouse" in mounts["clickhouse"]
    assert "/data" in mounts["minio"]
    doc = yaml.safe_load(COMPOSE.read_text())
    used = {str(v).split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert used == set(doc["volumes"])


def test_settings_are_overridable_like_upstream(services: dict[str, Any]) -> None:
    """Every Langfuse setting reads ${VAR:-default} as upstream's compose does (HOSTNAME is
    the one literal: interpolating it would pick up the host's own HOSTNAME)."""
    for app in ("langfuse-web", "langfuse-worker"):
        for key, value in services[app]["environment"].items():
            if key != "HOSTNAME":
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:-[^}]*\}", str(value)), (app, key, value)
