#!/usr/bin/env bash
# Helpers sourced by every recipe: logging, the valle executable, stage selection.
log() { echo -e "$(date '+%Y-%m-%d %H:%M:%S') ($(basename "$0")) $*"; }
# Prefer the repository's virtualenv; fall back to whatever `valle`/`lhotse` is on PATH.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -x "$repo_root/.venv/bin/valle" ]; then
  VALLE="$repo_root/.venv/bin/valle"; LHOTSE="$repo_root/.venv/bin/lhotse"
else
  VALLE=valle; LHOTSE=lhotse
fi
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
