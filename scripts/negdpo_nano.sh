#!/usr/bin/env bash
# Tarsier2's DPO on the nano world: corrupted-video negatives (avcap pairs negatives), the AutoDQ
# filter, vanilla DPO (avcap train negdpo), and Table 10's ablation -- full / w/o negative sampling /
# w/o preference filtering -- on the same budget, beside MrDPO. Run by scripts/train_nano.sh after
# MrDPO (it starts from the same SFT model); alone for a quick trial on the shipped model:
#
#   START=builtin:nano N_DPO=64 N_HELDOUT=16 bash scripts/negdpo_nano.sh
#
# Budget: every setting trains on the same number of pairs (the smallest yield of the three) and,
# when MrDPO's round 1 exists, for as many optimizer steps as that round (the same LoRA, learning
# rate and batch): one gDPO round's compute. Writes runs/nano/negdpo/report.json and REPORT.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ] && [ -f .venv/bin/activate ]; then source .venv/bin/activate; fi

RUN="${RUN:-runs/nano}"
START="${START:-$RUN/sft/model}"
N_DPO="${N_DPO:-600}"          # used only when the preference set is missing (seed 2, as train_nano.sh)
N_HELDOUT="${N_HELDOUT:-200}"  # used only when the held-out set is missing (seed 3)
OUT="$RUN/negdpo"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"

[ -f "$RUN/data/dpo/train.json" ] || avcap synth dataset "$RUN/data/dpo" --n "$N_DPO" --seed 2 --no-speech
[ -f "$RUN/data/heldout/train.json" ] || avcap synth dataset "$RUN/data/heldout" --n "$N_HELDOUT" --seed 3 --no-speech

# 1. Candidates: y (clean), ỹ (corrupted) and y' (a second clean sample, for w/o NS); exact AutoDQ.
#    Exit status 1 means some videos failed (recorded in their rows); the others are usable.
avcap pairs negatives --data "$RUN/data/dpo/train.json" --model "$START" --judge symbolic \
  --max-new-tokens 128 --second-sample -b 8 --out "$OUT/pairs.jsonl" --no-progress || [ $? -eq 1 ]

# 2. The same budget for every setting.
read -r PAIRS STEPS < <(python - "$OUT/pairs.stats.json" "$RUN/mrdpo/round_1/report.json" <<'PY'
import json, os, sys
stats = json.load(open(sys.argv[1]))
kept = [stats["negative"]["kept"], stats["second"]["kept"], stats["negative"]["candidates"] - stats["negative"]["empty"]]
steps = ""
if os.path.isfile(sys.argv[2]):
    steps = json.load(open(sys.argv[2]))["train"]["global_step"]
print(max(1, min(kept)), steps or "-")
PY
)
echo "negdpo: $PAIRS pairs per setting, steps ${STEPS/-/one epoch}"
budget=(--num_pairs "$PAIRS")
[ "$STEPS" = "-" ] || budget+=(--optim.max_steps "$STEPS")

train() {  # train NAME [FLAGS...]
  local name=$1; shift
  if [ ! -f "$OUT/$name/report.json" ]; then
    if [ "$name" != full ] && [ -f "$OUT/full/eval_start.json" ]; then  # one start model: evaluated once
      mkdir -p "$OUT/$name"; cp -rn "$OUT/full/eval_start.json" "$OUT/full/eval_start" "$OUT/$name/"
    fi
    avcap train negdpo --config configs/nano/negdpo.yaml --model.name "$START" --data "$OUT/pairs.jsonl" \
      --eval_data "$RUN/data/heldout/train.json" --media_root "$RUN/data" --output_dir "$OUT/$name" \
      "${budget[@]}" "$@"
  fi
}
train full
train no_ns --no-negative-sampling
train no_pf --no-filter

# 3. The table: before / after for each setting, MrDPO beside them, pair yield per corruption kind.
python -m avcap.train.negdpo_report "$RUN"
