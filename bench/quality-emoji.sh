#!/usr/bin/env bash
# Sample-quality benchmark (see docs/quality.md): train a U-Net (ARCH, default
# small) on a folder of images at 32x32 with a 10% hold-out, then measure SWD
# and the nearest-neighbour ratio at 1..32 steps with Euler and Heun against
# the hold-out. Run from the repository root after `make build`:
#
#   DATA=path/to/emoji-noto-64 bash bench/quality-emoji.sh
#
# DATA (required) is the training folder; docs/quality.md's figures use the
# 1906 Noto emoji at 64x64, of which demo/emoji-faces holds 128. MODEL
# defaults to out/quality/model-$ARCH-32 (it must not exist yet); the samples
# go beside it and the figures land in docs/quality/. Budget here (2 CPU
# cores, fastcpu backend): about 16 minutes of training and 5 of evaluation.
set -euo pipefail
DATA=${DATA:?set DATA to the folder of training images, e.g. DATA=path/to/emoji-noto-64}
ARCH=${ARCH:-small}
STEPS=${STEPS:-5000}
BATCH=${BATCH:-32}
LR=${LR:-1e-3}
MODEL=${MODEL:-out/quality/model-$ARCH-32}
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
