#!/usr/bin/env bash
# AVoCaDO GRPO on the nano world, small budget: the shipped builtin:nano (an SFT + MrDPO model) as
# the start, GRPO with the symbolic judge, and the paper's Table 4 ablation on the same budget:
#   rc        R_C only
#   rc_rd     R_C + R_D
#   rc_rd_rl  R_C + R_D + R_L (eq. 9, the full reward)
#   sft       SFT on the same prompts (their ground-truth captions), same steps and LoRA: the control
# then held-out Total/Miss/Hall, checklist coverage, dialogue F1, length before/after and the mean
# reward per step -> $RUN/report.json, $RUN/report.md, $RUN/report.html (SVG plot).
#
#   bash scripts/grpo_nano.sh              # runs/grpo_nano, a few minutes per run on 2 CPU cores
#   N_TRAIN=8 N_HELDOUT=4 STEPS=2 bash scripts/grpo_nano.sh    # a quick trial
#
# Data: --no-speech (espeak-ng is not needed), so R_D is 1 unless a caption invents speech; drop
# NO_SPEECH= to make speech rows where espeak-ng is installed. Every step is resumable.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then source .venv/bin/activate; fi
RUN="${RUN:-runs/grpo_nano}"
N_TRAIN="${N_TRAIN:-32}"      # GRPO prompts (seed 2)
N_HELDOUT="${N_HELDOUT:-16}"  # held-out videos (seed 3)
STEPS="${STEPS:-16}"          # optimizer steps of every run (2 clips x G=8 per step)
LR="${LR:-5e-4}"
START="${START:-builtin:nano}"
NO_SPEECH="${NO_SPEECH---no-speech}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
mkdir -p "$RUN"
[ -f "$RUN/data/train/train.json" ] || avcap synth dataset "$RUN/data/train" --n "$N_TRAIN" --seed 2 $NO_SPEECH
[ -f "$RUN/data/heldout/train.json" ] || avcap synth dataset "$RUN/data/heldout" --n "$N_HELDOUT" --seed 3 $NO_SPEECH
avcap data checklist --data "$RUN/data/train/train.json" --judge symbolic --out "$RUN/checklists.jsonl"

common=(--config configs/nano/grpo.yaml --model.name "$START" --data "$RUN/data/train/train.json"
        --eval_data "$RUN/data/heldout/train.json" --optim.max_steps "$STEPS" --optim.learning_rate "$LR"
        --rewards.checklists "$RUN/checklists.jsonl")
run() {  # run NAME [overrides...]
  local name=$1; shift
  if [ ! -f "$RUN/$name/report.json" ]; then
    # The start model's held-out evaluation is the same for every run: made once, copied.
    if [ -f "$RUN/rc/eval_start.json" ] && [ "$name" != rc ]; then
      mkdir -p "$RUN/$name" && cp -rn "$RUN/rc/eval_start.json" "$RUN/rc/eval_start" "$RUN/$name/"
    fi
    begin=$(date +%s)
    avcap train grpo "${common[@]}" --output_dir "$RUN/$name" "$@"
    echo -e "$name\t$(( $(date +%s) - begin ))" >> "$RUN/seconds.tsv"
  fi
}
run rc --rewards.dialogue false --rewards.length false
run rc_rd --rewards.length false
run rc_rd_rl
if [ ! -f "$RUN/sft/report.json" ]; then
  begin=$(date +%s)
  avcap train sft --model.name "$START" --model.device cpu --data "$RUN/data/train/train.json" \
    --output_dir "$RUN/sft" --optim.max_steps "$STEPS" --optim.batch_size 2 --optim.learning_rate "$LR" \
    --optim.warmup_ratio 0 --optim.scheduler constant --optim.save_steps 0 --lora.r 96 --lora.dropout 0 \
    --train_groups visual_aligner --disable_dropout true
  echo -e "sft\t$(( $(date +%s) - begin ))" >> "$RUN/seconds.tsv"
fi
python -m avcap.train.grpo_report "$RUN" --eval-config configs/nano/grpo.yaml
