#!/usr/bin/env bash
# LJSpeech: download (if absent) -> lhotse manifests -> 12,500/200/400 split -> tokens -> cuts_train/dev/test.
# Usage: egs/ljspeech/prepare.sh [--stage 0] [--stop-stage 4] [--dl-dir download] [--audio-extractor Encodec|Builtin] [--codec PATH]
set -euo pipefail
stage=0
stop_stage=4
dl_dir=download
data_dir=data
audio_extractor=Encodec
codec=""
num_jobs=1
recipe_options="stage stop_stage dl_dir data_dir audio_extractor codec num_jobs"
. "$(dirname "$0")/../shared/parse_options.sh"
. "$(dirname "$0")/../shared/common.sh"

if run_stage 0; then
  log "Stage 0: download LJSpeech into $dl_dir"
  if [ ! -d "$dl_dir/LJSpeech-1.1" ] && ! "$LHOTSE" download ljspeech "$dl_dir"; then
    echo "cannot download LJSpeech (offline?): put it at $dl_dir/LJSpeech-1.1 and rerun with --stage 1" >&2
    exit 1
  fi
fi

if run_stage 1; then
  log "Stage 1: lhotse manifests"
  mkdir -p "$data_dir/manifests"
  "$LHOTSE" prepare ljspeech "$dl_dir/LJSpeech-1.1" "$data_dir/manifests"
fi

if run_stage 2; then
  log "Stage 2: split into train/dev/test (12,500 / 200 / 400)"
  # --overwrite: stage 1 rewrote the 'all' manifests, and this split of them is the same on every rerun
  "$VALLE" split-manifests --manifest-dir "$data_dir/manifests" --prefix ljspeech --part all --overwrite
fi

if run_stage 3; then
  log "Stage 3: phonemize and encode ($audio_extractor)"
  "$VALLE" tokenize --src-dir "$data_dir/manifests" --output-dir "$data_dir/tokenized" --prefix ljspeech \
    --dataset-parts "train dev test" --audio-extractor "$audio_extractor" ${codec:+--codec "$codec"} \
    --num-jobs "$num_jobs"
fi

if run_stage 4; then
  log "Stage 4: cuts_train/dev/test and statistics"
  "$VALLE" combine-cuts --recipe ljspeech --dir "$data_dir/tokenized"
fi
