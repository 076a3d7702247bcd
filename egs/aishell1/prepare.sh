#!/usr/bin/env bash
# AISHELL-1 (Mandarin): download (if absent) -> lhotse manifests -> pinyin tokens + codes -> splits.
# dev = the first 400 dev cuts; the other dev cuts join train (as lifeiteng/vall-e).
# Usage: egs/aishell1/prepare.sh [--stage 0] [--stop-stage 3] [--dl-dir download] [--audio-extractor Encodec|Builtin] [--codec PATH]
set -euo pipefail
stage=0
stop_stage=3
dl_dir=download
data_dir=data
text_extractor=pypinyin_initials_finals
audio_extractor=Encodec
codec=""
num_jobs=1
recipe_options="stage stop_stage dl_dir data_dir text_extractor audio_extractor codec num_jobs"
. "$(dirname "$0")/../shared/parse_options.sh"
. "$(dirname "$0")/../shared/common.sh"

if run_stage 0; then
  log "Stage 0: download AISHELL-1 into $dl_dir"
  if [ ! -d "$dl_dir/aishell/data_aishell" ] && ! "$LHOTSE" download aishell "$dl_dir"; then
    echo "cannot download AISHELL-1 (offline?): put it at $dl_dir/aishell/data_aishell and rerun with --stage 1" >&2
    exit 1
  fi
fi

if run_stage 1; then
  log "Stage 1: lhotse manifests"
  mkdir -p "$data_dir/manifests"
  "$LHOTSE" prepare aishell "$dl_dir/aishell" "$data_dir/manifests"
fi

if run_stage 2; then
  log "Stage 2: pinyin tokens and codes ($audio_extractor)"
  "$VALLE" tokenize --src-dir "$data_dir/manifests" --output-dir "$data_dir/tokenized" --prefix aishell \
    --dataset-parts "train dev test" --text-extractor "$text_extractor" --no-normalize \
    --audio-extractor "$audio_extractor" ${codec:+--codec "$codec"} --num-jobs "$num_jobs"
fi

if run_stage 3; then
  log "Stage 3: cuts_train (train + dev[400:]), cuts_dev (dev[:400]), cuts_test"
  "$VALLE" combine-cuts --recipe aishell --dir "$data_dir/tokenized"
fi
