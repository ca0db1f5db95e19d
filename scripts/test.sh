#!/usr/bin/env bash
# The test command (`make test`, CI's `.ci/run`): sets everything up, then runs the suite
# twice, each pass checking the database it claims to run on:
#   1. PostgreSQL + Redis: every test, the end-to-end ones with real server processes included;
#   2. SQLite + Redis (the embedded default `make run` uses): the REST, socket and service
#      tests again, without the end-to-end ones, the PostgreSQL-only concurrency tests and
#      the `db_independent` ones (what they check is the same on any database).
#
# Safe beside other runs on a shared machine: the test databases are named after this run
# (test_<db>_<run>; pytest-xdist adds _gw0, _gw1 …) and dropped at the end whatever happens,
# and the Redis is a redis-server of this run's own on a free port, stopped at the end.
#
#   TEST_DATABASE_URL  PostgreSQL server and base name (default postgres://postgres@127.0.0.1:5432/collab)
#   TEST_REDIS_URL     a Redis db the suite may flush (default: its own redis-server)
#   TEST_WORKERS       pytest-xdist workers per pass (default 2; 0 runs in one process)
# Extra arguments go to both pytest passes, e.g. `bash scripts/test.sh tests/presence -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh postgres
bash scripts/browser.sh
bash scripts/venv.sh requirements-dev.txt

run_id="$(date +%s)_$$"
database_url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/collab}
base_name=${database_url##*/}
base_name=${base_name%%\?*}
pg_test_name=${TEST_DATABASE_NAME:-test_${base_name}_${run_id}}
pg_server=${database_url%/*}/postgres
scratch=$(mktemp -d "${TMPDIR:-/tmp}/collab-test-$run_id.XXXX")
redis_pid=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $redis_pid ]]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  # The suite drops its databases itself; this catches a run killed half-way. FORCE ends
  # connections a crashed test may have left open.
  DATABASE_URL=$pg_server .venv/bin/python - "$pg_test_name" <<'PY' || true
import os, sys
import psycopg
url = os.environ["DATABASE_URL"]
prefix = sys.argv[1]
with psycopg.connect(url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
    names = [row[0] for row in conn.execute("select datname from pg_database where datname = %s or datname like %s", (prefix, prefix.replace("_", r"\_") + r"\_gw%"))]
    for name in names:
        conn.execute(f'drop database if exists "{name}" with (force)')
        print(f"dropped leftover test database {name}")
PY
  rm -rf "$scratch"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -n ${TEST_REDIS_URL:-} ]]; then
  redis_url=$TEST_REDIS_URL
else
  for _ in 1 2 3 4 5; do
    port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$scratch" --loglevel warning \
      --logfile "$scratch/redis.log" &
    redis_pid=$!
    for _ in $(seq 1 50); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    redis_pid=""
  done
  [[ -n $redis_pid ]] || { echo "could not start a redis-server for the tests" >&2; exit 1; }
  redis_url="redis://127.0.0.1:$port/1"
  # This run started the server, so every db of it is the suite's to flush: mark them as the
  # suite's before pytest starts (collection may already write keys, e.g. schema generation).
  for db in $(seq 0 15); do redis-cli -p "$port" -n "$db" set collab-test-suite:owned 1 >/dev/null; done
fi

.venv/bin/ruff check .
DATABASE_URL=$pg_server .venv/bin/python manage.py makemigrations --check --dry-run >/dev/null

workers=${TEST_WORKERS:-2}
xdist=()
# `--dist load` (xdist's default), the long tests handed out first (tests/conftest.py). Not
# loadgroup or loadfile: under either, schemathesis ran one operation of 64 per test
# (tests/core/test_schemathesis.py reported 2 passed instead of 128, green); a pass now
# fails when fewer tests report than were collected (tests/conftest.py).
((workers > 0)) && xdist=(-n "$workers" --dist load)
export REDIS_URL=$redis_url

status=0
echo "== pass 1: PostgreSQL ($pg_test_name) + Redis ($redis_url)"
DATABASE_URL=$database_url TEST_DATABASE_NAME=$pg_test_name COLLAB_TEST_DB_VENDOR=postgresql \
  .venv/bin/pytest --create-db --timeout 300 "${xdist[@]}" "$@" || status=$?

echo "== pass 2: SQLite ($scratch/test.sqlite3) + Redis ($redis_url)"
DATABASE_URL="sqlite:///$scratch/collab.sqlite3" TEST_DATABASE_NAME="$scratch/test.sqlite3" COLLAB_TEST_DB_VENDOR=sqlite \
  .venv/bin/pytest --create-db --timeout 300 -m "not e2e and not browser and not db_independent" "${xdist[@]}" "$@" || status=$?

exit "$status"
