#!/usr/bin/env bash
# LibriTTS: download (if absent) -> lhotse manifests -> tokens -> cuts_train/dev/test, as lifeiteng/vall-e.
# Usage: egs/libritts/prepare.sh [--stage 0] [--stop-stage 3] [--dl-dir download] [--dataset-parts "dev-clean test-clean"]
#        [--audio-extractor Encodec|Builtin] [--codec PATH]
set -euo pipefail
stage=0
stop_stage=3
dl_dir=download
data_dir=data
dataset_parts="train-clean-100 train-clean-360 train-other-500 dev-clean test-clean"
audio_extractor=Encodec
codec=""
text_extractor=espeak
num_jobs=1
recipe_options="stage stop_stage dl_dir data_dir dataset_parts audio_extractor codec text_extractor num_jobs"
. "$(dirname "$0")/../shared/parse_options.sh"
. "$(dirname "$0")/../shared/common.sh"
corpus="$dl_dir/LibriTTS"

if run_stage 0; then
  log "Stage 0: download LibriTTS parts into $dl_dir (skipped for parts already there)"
  for part in $dataset_parts; do
    [ -d "$corpus/$part" ] && continue
    if ! "$LHOTSE" download libritts -p "$part" "$dl_dir"; then
      echo "cannot download LibriTTS $part (offline?): put the corpus at $corpus/$part and rerun with --stage 1" >&2
      exit 1
    fi
  done
fi

if run_stage 1; then
  log "Stage 1: lhotse manifests"
  mkdir -p "$data_dir/manifests"
  "$LHOTSE" prepare libritts $(for p in $dataset_parts; do echo -n "-p $p "; done) "$corpus" "$data_dir/manifests"
fi

if run_stage 2; then
  log "Stage 2: phonemize and encode ($audio_extractor)"
  "$VALLE" tokenize --src-dir "$data_dir/manifests" --output-dir "$data_dir/tokenized" --prefix libritts \
    --dataset-parts "$dataset_parts" --audio-extractor "$audio_extractor" ${codec:+--codec "$codec"} \
    --text-extractor "$text_extractor" --num-jobs "$num_jobs"
fi

if run_stage 3; then
  log "Stage 3: cuts_train (train-*), cuts_dev (dev-clean), cuts_test (test-clean)"
  "$VALLE" combine-cuts --recipe libritts --dir "$data_dir/tokenized"
fi
