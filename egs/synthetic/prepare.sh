#!/usr/bin/env bash
# Fully offline recipe: synthetic multi-speaker corpus -> manifests -> built-in codec -> tokens -> splits.
# Usage: egs/synthetic/prepare.sh [--stage 0] [--stop-stage 4] [--speakers 40] [--utterances-per-speaker 24]
#        [--dl-dir download] [--data-dir data] [--codec-size 1024]
set -euo pipefail
stage=0
stop_stage=4
speakers=40
utterances_per_speaker=24
seed=0
dl_dir=download
data_dir=data
codec_size=1024
num_jobs=1
recipe_options="stage stop_stage speakers utterances_per_speaker seed dl_dir data_dir codec_size num_jobs"
. "$(dirname "$0")/../shared/parse_options.sh"
. "$(dirname "$0")/../shared/common.sh"
corpus="$dl_dir/SynthTTS"
parts="train-clean-100 dev-clean test-clean"

if run_stage 0; then
  log "Stage 0: generate the synthetic corpus in $corpus"
  "$VALLE" synth-corpus --out "$corpus" --speakers "$speakers" \
    --utterances-per-speaker "$utterances_per_speaker" --seed "$seed"
fi

if run_stage 1; then
  log "Stage 1: lhotse manifests in $data_dir/manifests"
  mkdir -p "$data_dir/manifests"
  "$LHOTSE" prepare libritts $(for p in $parts; do echo -n "-p $p "; done) "$corpus" "$data_dir/manifests"
fi

if run_stage 2; then
  log "Stage 2: fit the built-in codec on the training audio"
  [ -f "$data_dir/codec.pt" ] || "$VALLE" fit-codec --audio "$corpus/train-clean-100" \
    --codebook-size "$codec_size" --out "$data_dir/codec.pt"
fi

if run_stage 3; then
  log "Stage 3: phonemize and encode"
  "$VALLE" tokenize --src-dir "$data_dir/manifests" --output-dir "$data_dir/tokenized" --prefix libritts \
    --dataset-parts "$parts" --audio-extractor Builtin --codec "$data_dir/codec.pt" --num-jobs "$num_jobs"
fi

if run_stage 4; then
  log "Stage 4: cuts_train/dev/test and statistics"
  "$VALLE" combine-cuts --recipe synthetic --dir "$data_dir/tokenized"
fi
