#!/usr/bin/env bash
# The test command: sets everything up, then runs the whole suite on PostgreSQL + Redis.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh
bash scripts/browser.sh
bash scripts/venv.sh requirements-dev.txt

export DATABASE_URL=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/collab}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/1}
.venv/bin/ruff check .
DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python manage.py makemigrations --check --dry-run >/dev/null
exec .venv/bin/pytest --create-db --timeout 300 "$@"
