#!/usr/bin/env bash
# Creates .venv and installs the given requirements file when it changed.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
python=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
stamp=.venv/.installed-$(basename "$requirements")
if [[ ! -f $stamp || $requirements -nt $stamp || requirements.txt -nt $stamp ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$requirements"
  touch "$stamp"
fi
