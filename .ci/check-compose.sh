#!/usr/bin/env bash
# Check docker-compose.yml without pulling any image.
# 1. `docker compose config -q` (or docker-compose v1) when a compose tool is installed —
#    validates syntax and interpolation. The Compose v2 plugin is not in Debian bookworm's
#    apt here, so this step is skipped (with a note) where no tool exists.
# 2. Always: the structural checks in tests/unit/observability/test_obs_compose.py (services,
#    images, required env, healthchecks, port bindings, INIT keys == observability/.env.example,
#    HOSTNAME 0.0.0.0 on web and worker, the worker reaching MinIO at http://minio:9000,
#    volumes for redis/postgres/clickhouse/minio, ${VAR:-default} for every Langfuse setting).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3

if docker compose version >/dev/null 2>&1; then
  docker compose -f docker-compose.yml config -q
  echo "check-compose: docker compose config: ok"
elif command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f docker-compose.yml config -q
  echo "check-compose: docker-compose config: ok"
else
  echo "check-compose: no docker compose tool installed; structural checks only"
fi

"$PY" -m pytest -q -p no:cacheprovider tests/unit/observability/test_obs_compose.py
echo "check-compose: ok"
