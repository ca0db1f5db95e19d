#!/usr/bin/env bash
# Creates .venv and installs the given requirements file when it, or a file it includes
# (`-r`/`--requirement`, `-c`/`--constraint`, recursively), changed since its last install.
# An install also counts for the files it includes: after `make test` (requirements-dev.txt,
# which includes requirements.txt) `make run` (requirements.txt) has nothing to install,
# until requirements.txt changes. Each file's stamp is .venv/.installed-<name>.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
python=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$python" -m venv .venv

files=()
# Appends $1 and, recursively, the files it includes (relative to its directory) to `files`.
collect() {
  local file=$1 line included
  for included in "${files[@]}"; do [[ $included == "$file" ]] && return; done
  files+=("$file")
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line =~ ^[[:space:]]*(-r|--requirement|-c|--constraint)[[:space:]=]*([^[:space:]#]+) ]]; then
      included=${BASH_REMATCH[2]}
      [[ $included == /* ]] || included=$(dirname "$file")/$included
      collect "$included"
    fi
  done <"$file"
}
collect "$requirements"

stamp_of() { echo ".venv/.installed-$(basename "$1")"; }
stamp=$(stamp_of "$requirements")
stale=false
[[ -f $stamp ]] || stale=true
for file in "${files[@]}"; do
  [[ $file -nt $stamp ]] && stale=true
done
if $stale; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$requirements"
  for file in "${files[@]}"; do touch "$(stamp_of "$file")"; done
fi
