#!/usr/bin/env bash
# Creates .venv and installs the given requirements file when it, or a file it includes
# (`-r`/`--requirement`, `-c`/`--constraint`, recursively), changed since its last install.
# An install also counts for the files it includes: after `make test` (requirements-dev.txt,
# which includes requirements.txt) `make run` (requirements.txt) has nothing to install,
# until requirements.txt changes. Each file's stamp is .venv/.installed-<name>, holding the
# sha256 of the content installed: a content check, not a date, so a fresh checkout (newer
# files, same content) or a git worktree sharing the venv installs nothing.
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
stamp_of() { echo ".venv/.installed-$(basename "$1")"; }
# The sha256 of a file's content and of every file it includes: its install is stale when
# any of them changed.
tree_of() {
  files=()
  collect "$1"
  for file in "${files[@]}"; do sha256sum <"$file"; done | sha256sum | cut -d" " -f1
}
files=()
collect "$requirements"
installed=("${files[@]}")
tree=$(tree_of "$requirements")
stamp=$(stamp_of "$requirements")
if [[ ! -f $stamp || $(cat "$stamp") != "$tree" ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r "$requirements"
  for file in "${installed[@]}"; do tree_of "$file" >"$(stamp_of "$file")"; done
fi
