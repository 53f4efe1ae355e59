#!/usr/bin/env bash
# Quality benchmark of issue #6: train a U-Net (ARCH, default small) on the
# Noto emoji at 32x32 with a 10% hold-out, then measure SWD and the
# nearest-neighbour ratio at 1..32 steps with Euler and Heun against the
# hold-out. Run from the repository root after `make build`. MODEL defaults to
# a temporary folder; the figures land in docs/quality/. Budget here (2 CPU
# cores, fastcpu backend): about 16 minutes of training and 5 of evaluation.
set -euo pipefail
DATA=${DATA:-../shared/data/emoji-noto-64}
ARCH=${ARCH:-small}
STEPS=${STEPS:-5000}
BATCH=${BATCH:-32}
LR=${LR:-1e-3}
MODEL=${MODEL:-/tmp/fm-image-bench/model-$ARCH-32}
OUT=docs/quality
mkdir -p "$OUT" "$(dirname "$MODEL")"

bin/fm-image train "$DATA" --model "$MODEL" --arch "$ARCH" --size 32 \
  --steps "$STEPS" --batch "$BATCH" --lr "$LR" --seed 1 --holdout 0.1

bin/fm-image eval --model "$MODEL" --n 200 --steps 1,2,4,8,16,32 \
  --sampler euler,heun --seed 0 --force \
  --plot "$OUT/swd-vs-nfe.png" --json "$OUT/eval.json" | tee "$OUT/eval.txt"

bin/fm-image generate --model "$MODEL" --steps 16 --sampler heun --n 64 \
  --seed 0 --force --out "$(dirname "$MODEL")/samples-heun-16" \
  --grid "$OUT/samples-heun-16.png"
