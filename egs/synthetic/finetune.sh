#!/usr/bin/env bash
# Fine-tune the shipped checkpoint on new synthetic voices, then evaluate it beside the demo's systems.
#
#   egs/synthetic/finetune.sh                        # AR + NAR, with the flags of stage 8's AR run (one GPU, 8 minutes)
#   egs/synthetic/finetune.sh --train-stage 2        # the NAR alone (what docs/pretrained names next)
#   egs/synthetic/finetune.sh --seeds "10 11 12" --max-minutes 30 --base-lr 0.001
#
# Why a recipe of its own: the stages after stage 3 of valle/assets/valle-synth-small.pt were trained this way by hand
# (docs/pretrained/README.md): new corpora with other seeds, mixed with the demo's training part so that the demo's
# unseen test voices and sentences stay unseen, then `valle train --resume` the shipped file at a low rate
# (from stage 4 with a fresh ScaledAdam, 0.005-0.02 diverged), in float32 (bf16 diverged where
# float32 trained on the very same batches: docs/train.md).
# Stages:
#   0  the demo's corpus and tokens (the evaluation corpus; its 32 training voices are trained on too)
#   1  one new corpus per --seeds entry (--speakers x --utterances-per-speaker each), tokenized with the shipped codec
#   2  mix: the demo's training part + up to --hours-per-corpus of each new corpus, minus any voice or sentence of
#      the demo's test part (egs/synthetic/local/mix_corpora.py), into $data_dir/mix
#   3  valle train --resume $init (--train-stage 0: both halves, 1: the AR, 2: the NAR)
#   4  export $exp_dir/finetuned.pt (float16, with the sampling --init recommends)
#   5  `valle demo --system finetuned=...`: the demo's unseen voices, next to the shipped model ($exp_dir/eval/report.md)
set -euo pipefail
stage=0
stop_stage=5
init=""                 # default: valle/assets/valle-synth-small.pt
seeds="10"              # corpora seeds 1-9 made the shipped checkpoint's data; 0 is the demo's
speakers=80
utterances_per_speaker=200
hours_per_corpus=100    # all of each new corpus (~16 h at the defaults)
data_dir=data_ft
exp_dir=exp_ft
train_stage=0
scheduled_sampling=0.2  # the AR trains on a fifth of its own draws (what made stage 8)
base_lr=0.002
warmup_steps=100
max_duration=600
max_minutes=8
max_steps=""
dtype=float32
num_threads=4
num_workers=8
num_jobs=$(nproc 2>/dev/null || echo 2)
eval_items=16
recipe_options="stage stop_stage init seeds speakers utterances_per_speaker hours_per_corpus data_dir exp_dir
 train_stage scheduled_sampling base_lr warmup_steps max_duration max_minutes max_steps dtype num_threads num_workers
 num_jobs eval_items"
. "$(dirname "$0")/../shared/parse_options.sh"
. "$(dirname "$0")/../shared/common.sh"

init=${init:-$repo_root/valle/assets/valle-synth-small.pt}
python_bin="$repo_root/.venv/bin/python"
[ -x "$python_bin" ] || python_bin=python3
[ -f "$init" ] || { echo "$0: --init $init not found; give a valle checkpoint to start from" >&2; exit 2; }
case "$train_stage" in 0|1|2) ;; *) echo "$0: --train-stage must be 0, 1 or 2, got '$train_stage'" >&2; exit 2 ;; esac
[ -n "${seeds// /}" ] || { echo "$0: --seeds is empty; give one corpus seed or more, e.g. --seeds \"10 11\"" >&2; exit 2; }
for s in $seeds; do
  [[ "$s" =~ ^[0-9]+$ ]] && [ "$s" != 0 ] || {
    echo "$0: --seeds must be positive integers other than 0 (the demo's corpus), got '$s'" >&2; exit 2; }
done

# Each corpus's own prepare.sh run, with the shipped codec (the checkpoint's codes must mean the same).
prepare() {  # prepare <dir> <seed> <speakers> <utterances per speaker>
  mkdir -p "$1/data" && cp "$repo_root/valle/assets/synth-codec.pt" "$1/data/codec.pt"
  (cd "$1" && bash "$repo_root/egs/synthetic/prepare.sh" --seed "$2" --speakers "$3" \
    --utterances-per-speaker "$4" --num-jobs "$num_jobs")
}

if run_stage 0; then
  log "Stage 0: the demo's corpus (the evaluation corpus) in $data_dir/demo"
  prepare "$data_dir/demo" 0 40 24  # valle demo's corpus settings (valle/assets/synth-corpus.json)
fi

if run_stage 1; then
  for s in $seeds; do
    log "Stage 1: new corpus, seed $s ($speakers x $utterances_per_speaker) in $data_dir/s$s"
    prepare "$data_dir/s$s" "$s" "$speakers" "$utterances_per_speaker"
  done
fi

if run_stage 2; then
  log "Stage 2: mix the demo's training part with the new corpora into $data_dir/mix"
  b_args=()
  for s in $seeds; do
    b_args+=(--b "$data_dir/s$s/data/tokenized" --b-corpus "$data_dir/s$s/download/SynthTTS")
  done
  "$python_bin" "$repo_root/egs/synthetic/local/mix_corpora.py" --a "$data_dir/demo/data/tokenized" \
    --eval-corpus "$data_dir/demo/download/SynthTTS" --hours-b "$hours_per_corpus" "${b_args[@]}" \
    --out "$data_dir/mix" --h5 "$data_dir/mix/codes.h5"
fi

if run_stage 3; then
  log "Stage 3: fine-tune $init (--train-stage $train_stage) into $exp_dir"
  budget=()
  [ "$max_minutes" != 0 ] && budget+=(--max-minutes "$max_minutes")
  [ -n "$max_steps" ] && budget+=(--max-steps "$max_steps")
  start=(--resume latest)
  [ -f "$exp_dir/latest.txt" ] || start=(--resume "$init")
  # the architecture flags are the shipped checkpoint's (8 x 192, 4 heads, prefix mode 1): --resume needs them equal
  "$VALLE" train --manifest-dir "$data_dir/mix" --exp-dir "$exp_dir" --train-stage "$train_stage" \
    --decoder-dim 192 --nhead 4 --num-decoder-layers 8 --prefix-mode 1 \
    --base-lr "$base_lr" --warmup-steps "$warmup_steps" --max-duration "$max_duration" --num-epochs 100 \
    --dtype "$dtype" --scheduled-sampling "$scheduled_sampling" --attention-dropout 0.1 --num-threads "$num_threads" \
    --num-workers "$num_workers" --log-interval 50 --valid-interval 200 --save-every-n 200 --keep-last-k 2 \
    --tensorboard false "${budget[@]}" "${start[@]}"
fi

if run_stage 4; then
  model="$exp_dir/model-best-valid.pt"
  [ -f "$model" ] || model="$exp_dir/model-last.pt"
  log "Stage 4: export $model to $exp_dir/finetuned.pt"
  # valle train carried $init's recommended sampling into its checkpoints; the export keeps it
  "$VALLE" export-model "$model" "$exp_dir/finetuned.pt" --dtype float16
fi

if run_stage 5; then
  log "Stage 5: evaluate $exp_dir/finetuned.pt on the demo's unseen voices (report in $exp_dir/eval/report.md)"
  "$VALLE" demo --work-dir "$exp_dir/eval" --minutes 0 --eval-items "$eval_items" --system "finetuned=$exp_dir/finetuned.pt"
fi
