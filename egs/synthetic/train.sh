#!/usr/bin/env bash
# Train VALL-E on the synthetic corpus, then evaluate it beside the demo's systems.
#
#   egs/synthetic/train.sh                      # the "cpu" profile: the recipe of the earlier CPU-trained checkpoints
#   egs/synthetic/train.sh --profile gpu-small  # stage 3 of valle/assets/valle-synth-small.pt (one GPU, minutes)
#   egs/synthetic/train.sh --profile gpu        # a bigger model on more voices, on every visible GPU
#
# Profiles (any of their settings can be overridden with its flag, e.g. --speakers 80 --max-minutes 30):
#   cpu  40 speakers x 200 utterances (5.7 h of training audio), 4 layers x 128, 1 thread, a time budget
#   gpu-small  the cpu profile's corpus, 8 layers x 192, float32 (bf16 bent a trained checkpoint's gradients until it
#              diverged, and at this size float32 was no slower: docs/train.md), 600 s batches, 10 passes per epoch, 6 min
#              (stage 3 of the shipped checkpoint; stage 4 continued it on 120 voices: docs/pretrained/README.md)
#   gpu  400 speakers x 250 utterances (~90 h), 12 layers x 1024 (the reference's default size), bf16 with the
#        attention blocks in float32 (--fp32-attention: bf16 alone diverged where this trained as float32 did;
#        at this size 12 % slower than bf16, 58 % faster than float32: docs/train.md), DDP over all GPUs, 20 epochs
# Every profile trains on single utterances (--concat-prompt-prob 0), as its checkpoint was made; pass
# --concat-prompt-prob 0.5 to also train on [prompt utterance ; utterance] pairs, and --scheduled-sampling P to
# feed the AR some of its own draws (docs/train.md); neither has helped so far.
# Stages: 0-4 egs/synthetic/prepare.sh (corpus, manifests, codec, tokens, splits; the codec shipped in
# valle/assets is reused unless --codec fit), 5 `valle train`, 6 `valle demo --system trained=...` (the
# demo's unseen-voice test items, WER / SIM / DNSMOS next to ground truth, codec and untrained baselines).
set -euo pipefail
profile=cpu
stage=0
stop_stage=6
dl_dir=download
data_dir=data
exp_dir=exp
codec=shipped            # shipped | fit
num_jobs=2
# left empty: taken from the profile
speakers=""
utterances_per_speaker=""
decoder_dim=""
nhead=""
num_decoder_layers=""
max_duration=""
num_epochs=""
max_minutes=""
max_steps=""
dtype=""
fp32_attention=""
num_threads=""
num_workers=""
attention_dropout=""
repeat_train=""
concat_prompt_prob=""
scheduled_sampling=""
world_size=""
base_lr=""
init=""                  # weights to start from (a model-*.pt or epoch-N.pt); empty = random
eval_items=16
recipe_options="profile stage stop_stage dl_dir data_dir exp_dir codec num_jobs speakers utterances_per_speaker
 decoder_dim nhead num_decoder_layers max_duration num_epochs max_minutes max_steps dtype fp32_attention num_threads num_workers attention_dropout repeat_train concat_prompt_prob scheduled_sampling world_size
 base_lr init eval_items"
. "$(dirname "$0")/../shared/parse_options.sh"
. "$(dirname "$0")/../shared/common.sh"

# profile defaults: name=value pairs applied to every option still empty
case "$profile" in
  cpu) defaults="speakers=40 utterances_per_speaker=200 decoder_dim=128 nhead=4 num_decoder_layers=4
        max_duration=40 num_epochs=200 max_minutes=110 dtype=float32 fp32_attention=false num_threads=1 num_workers=0 attention_dropout=0 repeat_train=1 concat_prompt_prob=0 scheduled_sampling=0 world_size=1 base_lr=0.03" ;;
  gpu-small) defaults="speakers=40 utterances_per_speaker=200 decoder_dim=192 nhead=4 num_decoder_layers=8
        max_duration=600 num_epochs=100 max_minutes=6 dtype=float32 fp32_attention=false num_threads=4 num_workers=8 attention_dropout=0.1
        repeat_train=10 concat_prompt_prob=0 scheduled_sampling=0 world_size=1 base_lr=0.05" ;;
  gpu) gpus=$(nvidia-smi -L 2>/dev/null | wc -l || true)
       defaults="speakers=400 utterances_per_speaker=250 decoder_dim=1024 nhead=16 num_decoder_layers=12
        max_duration=120 num_epochs=20 max_minutes=0 dtype=bfloat16 fp32_attention=true num_threads=4 num_workers=4 attention_dropout=0.1 repeat_train=1 concat_prompt_prob=0 scheduled_sampling=0 world_size=${gpus:-1} base_lr=0.05" ;;
  *) echo "$0: --profile must be cpu, gpu-small or gpu, got '$profile'" >&2; exit 2 ;;
esac
for pair in $defaults; do
  name="${pair%%=*}"
  [ -n "${!name}" ] || printf -v "$name" '%s' "${pair#*=}"
done
[ "$world_size" -ge 1 ] 2>/dev/null || { echo "$0: no GPU found for --profile gpu (pass --world-size N)" >&2; exit 2; }
case "$codec" in shipped|fit) ;; *) echo "$0: --codec must be shipped or fit, got '$codec'" >&2; exit 2 ;; esac

if run_stage 4; then
  if [ "$codec" = shipped ] && [ ! -f "$data_dir/codec.pt" ]; then
    mkdir -p "$data_dir" && cp "$repo_root/valle/assets/synth-codec.pt" "$data_dir/codec.pt"
  fi
  # prepare.sh's stages 0-4, limited to the part of them this run asked for
  prep_stop=$(( stop_stage < 4 ? stop_stage : 4 ))
  if [ "$stage" -le "$prep_stop" ]; then
    bash "$(dirname "$0")/prepare.sh" --stage "$stage" --stop-stage "$prep_stop" --speakers "$speakers" \
      --utterances-per-speaker "$utterances_per_speaker" --dl-dir "$dl_dir" --data-dir "$data_dir" \
      --num-jobs "$num_jobs"
  fi
fi

if run_stage 5; then
  log "Stage 5: train ${num_decoder_layers} x ${decoder_dim} ($profile profile) into $exp_dir"
  budget=()
  [ "$max_minutes" != 0 ] && budget+=(--max-minutes "$max_minutes")
  [ -n "$max_steps" ] && budget+=(--max-steps "$max_steps")
  start=(--resume latest)
  [ -n "$init" ] && [ ! -f "$exp_dir/latest.txt" ] && start=(--resume "$init")
  "$VALLE" train --manifest-dir "$data_dir/tokenized" --exp-dir "$exp_dir" \
    --decoder-dim "$decoder_dim" --nhead "$nhead" --num-decoder-layers "$num_decoder_layers" --prefix-mode 1 \
    --max-duration "$max_duration" --num-epochs "$num_epochs" --dtype "$dtype" --fp32-attention "$fp32_attention" --num-threads "$num_threads" \
    --world-size "$world_size" --base-lr "$base_lr" --warmup-steps 200 --num-workers "$num_workers" --log-interval 50 \
    --attention-dropout "$attention_dropout" --repeat-train "$repeat_train" --concat-prompt-prob "$concat_prompt_prob" --scheduled-sampling "$scheduled_sampling" --tensorboard false --keep-last-k 2 --save-every-n 300 --valid-interval 400 "${budget[@]}" "${start[@]}"
fi

if run_stage 6; then
  model="$exp_dir/model-best-valid.pt"
  [ -f "$model" ] || model="$exp_dir/model-last.pt"
  log "Stage 6: evaluate $model on the demo's unseen voices (report in $exp_dir/eval/report.md)"
  "$VALLE" demo --work-dir "$exp_dir/eval" --minutes 0 --eval-items "$eval_items" --system "trained=$model"
fi
