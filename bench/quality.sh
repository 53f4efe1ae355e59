#!/usr/bin/env bash
# Sample-quality benchmark (docs/quality.md): train a model the way a user
# does, `fm-image train DATA --duration D` with the default recipe (plus
# TRAIN_FLAGS, to measure another recipe), then sample it at 1 to 32 steps
# from fixed noise and score the samples:
#
#   FD, precision, recall  Fréchet distance and k-NN precision/recall on
#                          ImageNet InceptionV3 features (fd_inception.py),
#                          against REF_N training images resized to the
#                          model's size; the real-vs-real floor is FLOOR_N
#                          other training images against the same reference.
#   SWD, NN ratio          fm-image eval against the 10% hold-out.
#
# Run from the repository root:
#
#   DATA=path/to/emoji-noto-64 bash bench/quality.sh                 # 20 minutes of training
#   DATA=... DURATION=5m OUT=out/quality/old TRAIN_FLAGS="--objective flow-matching --batch 16 --lr 2e-4" bash bench/quality.sh
#
# DATA (required) is the training folder; REF (default OUT/ref) the folder
# of reference images, made on the first run and reused when it exists;
# EVAL_ONLY=1 evaluates an existing OUT/model without training. OUT (default out/quality/run) must
# not hold a model yet; the tables, plots and grids are copied to DOCS
# (default docs/quality/ and OUT's last name). SAMPLERS (default: the
# model's own, then euler, heun, midpoint, rk4) and STEPS (default 1 2 4 8 16
# 32) choose the settings sampled. FD_TOOL (default ../shared/tools/fd_inception.py)
# needs python3 with torch and PIL (Debian: python3-torch, python3-pil) and,
# once, npm to fetch its weights; without it the FD columns are skipped and
# the script says so. Evaluation takes about 5 minutes on 2 cores after the
# training budget.
set -euo pipefail
DATA=${DATA:?set DATA to the folder of training images, e.g. DATA=path/to/emoji-noto-64}
DURATION=${DURATION:-20m}
OUT=${OUT:-out/quality/run}
DOCS=${DOCS:-docs/quality/$(basename "$OUT")}
TRAIN_FLAGS=${TRAIN_FLAGS:-}
N=${N:-500}
STEPS=${STEPS:-1 2 4 8 16 32}
REF_N=${REF_N:-1215}
FLOOR_N=${FLOOR_N:-500}
FD_TOOL=${FD_TOOL:-../shared/tools/fd_inception.py}
export GOEXPERIMENT=${GOEXPERIMENT:-simd}

REF=${REF:-$OUT/ref}
if [ "${EVAL_ONLY:-0}" = 1 ]; then
  [ -e "$OUT/model" ] || { echo "quality.sh: EVAL_ONLY=1 but $OUT/model does not exist" >&2; exit 2; }
elif [ -e "$OUT/model" ]; then
  echo "quality.sh: $OUT/model exists; choose another OUT (or EVAL_ONLY=1 to evaluate it)" >&2; exit 2
fi
mkdir -p "$OUT" bin
go build -o bin/fm-image ./cmd/fm-image
go build -o bin/fm-image-plugin ./cmd/fm-image-plugin
go build -o bin/fmquality ./bench/fmquality

# The interpreter for the FD tool: Debian's /usr/bin/python3 (where python3-torch
# installs) when it has torch and PIL, else python3 on PATH.
PY=python3
if /usr/bin/python3 -c 'import torch, PIL' 2>/dev/null; then PY=/usr/bin/python3; fi

fd_ok=1
if [ ! -f "$FD_TOOL" ]; then
  echo "quality.sh: $FD_TOOL not found: FD, precision and recall are skipped" >&2; fd_ok=0
elif ! "$PY" -c 'import torch, PIL' 2>/dev/null; then
  echo "quality.sh: python3 lacks torch or PIL (apt-get install python3-torch python3-pil): FD, precision and recall are skipped" >&2; fd_ok=0
fi

echo "== reference images (training part of the same 10% split, resized) =="
if [ ! -d "$REF/ref" ]; then
  if [ $fd_ok = 1 ]; then fdflag=(-fd "$FD_TOOL"); else fdflag=(-fd /nonexistent); fi
  bin/fmquality prep -data "$DATA" -out "$REF" -ref-n "$REF_N" -floor-n "$FLOOR_N" "${fdflag[@]}" || [ $fd_ok = 0 ]
fi

if [ "${EVAL_ONLY:-0}" != 1 ]; then
  echo "== train: fm-image train DATA --duration $DURATION --holdout 0.1 --seed 1 $TRAIN_FLAGS =="
  # shellcheck disable=SC2086 # TRAIN_FLAGS is a list of flags
  bin/fm-image train "$DATA" --model "$OUT/model" --duration "$DURATION" --holdout 0.1 --seed 1 $TRAIN_FLAGS
fi
bin/fm-image info --model "$OUT/model" | tee "$OUT/info.txt"

sampler=$(bin/fm-image info --model "$OUT/model" --json | python3 -c 'import json, sys; print(json.load(sys.stdin).get("Sampler") or "euler")')
# Every sampler offered: the model's own first (flowmap for a few-step
# model), then the velocity samplers, unless SAMPLERS names some.
SAMPLERS=${SAMPLERS:-$(echo "$sampler euler heun midpoint rk4" | tr ' ' '\n' | awk '!seen[$0]++' | tr '\n' ' ')}
nfe_per_step() { case $1 in heun|midpoint) echo 2 ;; rk4) echo 4 ;; *) echo 1 ;; esac; }

echo "== samples: $N per sampler and step count from the same noise; grids of 64 =="
table="$OUT/fd.tsv"
printf 'sampler\tsteps\tnfe\tfd\tprecision\trecall\n' >"$table"
for m in $SAMPLERS; do
  for s in $STEPS; do
    dir="$OUT/samples-$m-$s"
    rm -rf "$dir" "$OUT/grid-$m-$s"
    bin/fm-image generate --model "$OUT/model" --sampler "$m" --n "$N" --steps "$s" --seed 1000 --out "$dir" >/dev/null
    bin/fm-image generate --model "$OUT/model" --sampler "$m" --n 64 --steps "$s" --seed 7 --out "$OUT/grid-$m-$s" --grid "$OUT/grid-$m-$s.png" >/dev/null
    row="$m\t$s\t$(( s * $(nfe_per_step "$m") ))"
    if [ $fd_ok = 1 ]; then
      "$PY" "$FD_TOOL" "$REF/ref" "$dir" --json "$dir.fd.json" >/dev/null
      printf "$row\t%s\n" "$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.2f\t%.3f\t%.3f" % (r["fd"], r["precision"], r["recall"]))' "$dir.fd.json")" >>"$table"
    else
      printf "$row\t-\t-\t-\n" >>"$table"
    fi
    [ "${KEEP_SAMPLES:-0}" = 1 ] || rm -rf "$dir" "$OUT/grid-$m-$s"
    echo "  $m $s steps done"
  done
done

echo "== SWD and nearest-neighbour ratio against the hold-out (fm-image eval) =="
bin/fm-image eval --model "$OUT/model" --n 200 --steps "$(echo $STEPS | tr ' ' ,)" \
  --sampler "$(echo $SAMPLERS | tr ' ' ,)" --seed 0 --force --plot "$OUT/swd.png" --json "$OUT/eval.json" | tee "$OUT/eval.txt"

floor=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("FD %.2f, precision %.3f, recall %.3f" % (r["fd"], r["precision"], r["recall"]))' "$REF/floor.json" 2>/dev/null || echo "not measured")
echo "== FD against $REF_N training images (real-vs-real floor: $floor) =="
column -t "$table"
floor_fd=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["fd"])' "$REF/floor.json" 2>/dev/null || echo 0)
[ $fd_ok = 1 ] && bin/fmquality plot -out "$OUT/fd.png" -floor "$floor_fd" "$table"
mkdir -p "$DOCS"
cp "$table" "$OUT/info.txt" "$OUT/eval.txt" "$OUT/eval.json" "$OUT/swd.png" "$OUT"/grid-*.png "$DOCS"/
[ -f "$OUT/fd.png" ] && cp "$OUT/fd.png" "$DOCS"/
echo "tables, plots (fd.png, swd.png) and grids (grid-SAMPLER-STEPS.png) in $DOCS; model and samples in $OUT"
