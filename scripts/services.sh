#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis run on 127.0.0.1 (installing them if this machine has none).
# `services.sh postgres`: PostgreSQL only (redis-server is installed but not started; the
# test command starts a Redis of its own on a free port).
set -euo pipefail
mode=${1:-all}

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if ((${#need_apt[@]})); then
  echo "installing ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

if [[ $mode == all ]] && ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

# The suite needs a superuser role that can create its test databases without a password.
if ! psql -h 127.0.0.1 -U postgres -tAc "select 1" >/dev/null 2>&1; then
  echo "PostgreSQL at 127.0.0.1:5432 does not accept user postgres without a password" >&2
  exit 1
fi
