#!/usr/bin/env bash
# GPU benchmark and check, in one call on a machine with an NVIDIA GPU, a Python with
# jax-cuda13-pjrt (the PJRT CUDA plugin) and PyTorch with CUDA, and no Go toolchain:
#
#   make build-gpu                 # here: bin/gpu/{fm-image,fm-image-plugin,fm-bench}, built with -tags xla
#   bash bench/gpu.sh              # there, from the repository root (OUT=dir for the results)
#
# It sets up the PJRT plugin path from the jax install, trains a small model on the GPU, runs
# info and generate there, samples the same model on the CPU from the same seed (the largest
# pixel difference is reported), times ref-unet-32 training at b64@32 and the default preset
# for a fixed number of steps, measures sampling, runs the PyTorch peer
# (bench/ref_unet_32.py) on the same GPU, and prints one table. It stays within about 8 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu}
BIN=${BIN:-bin/gpu}
PY=${PYTHON:-python3}
STEPS=${STEPS:-30}
# BACKEND and TORCH_DEVICE let the script be tried on a CPU-only machine
# (BACKEND=fastcpu TORCH_DEVICE=cpu STEPS=2 BIN=bin bash bench/gpu.sh).
BACKEND=${BACKEND:-xla:cuda}
TORCH_DEVICE=${TORCH_DEVICE:-cuda}
mkdir -p "$OUT"
log() { printf '== %s\n' "$*" >&2; }

log "GPU and Python"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$PY" --version

if [ "${BACKEND%%:*}" = xla ]; then
log "PJRT CUDA plugin from the jax install"
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
plugin=$(find "$site" -name 'xla_cuda_plugin.so' -print -quit 2>/dev/null || true)
if [ -z "$plugin" ]; then
	echo "gpu.sh: no xla_cuda_plugin.so under $site: install jax-cuda13-pjrt (pip install jax-cuda13-pjrt)" >&2
	exit 2
fi
mkdir -p "$OUT/pjrt"
ln -sf "$plugin" "$OUT/pjrt/pjrt_c_api_cuda_plugin.so"
export PJRT_PLUGIN_LIBRARY_PATH="$PWD/$OUT/pjrt"
# The NVIDIA libraries come as pip packages (nvidia-*-cu13): put their lib folders on the path.
nvlibs=$(find "$site/nvidia" -maxdepth 3 -type d -name lib 2>/dev/null | paste -sd: -)
export LD_LIBRARY_PATH="${nvlibs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "plugin: $plugin"
fi

fm() { "$BIN/fm-image" --plugin "$BIN/fm-image-plugin" "$@"; }

log "train on the GPU (default preset, 32x32, $((STEPS * 10)) steps on the built-in faces)"
rm -rf "$OUT/model" "$OUT/gpu-samples" "$OUT/cpu-samples"
t0=$(date +%s.%N)
fm train demo/emoji-faces --model "$OUT/model" --backend "$BACKEND" --size 32 --steps $((STEPS * 10)) --seed 1 2>&1 | tail -3
t1=$(date +%s.%N)
fm info --model "$OUT/model" --backend "$BACKEND"

log "generate on the GPU and on the CPU from the same seed"
fm generate --model "$OUT/model" --backend "$BACKEND" --steps 20 --sampler heun --n 16 --seed 1 --out "$OUT/gpu-samples" --grid "$OUT/gpu-grid.png"
fm generate --model "$OUT/model" --backend fastcpu --steps 20 --sampler heun --n 16 --seed 1 --out "$OUT/cpu-samples" --grid "$OUT/cpu-grid.png"
maxdiff=$("$PY" - "$OUT/gpu-samples" "$OUT/cpu-samples" <<'PY'
import os, struct, sys, zlib
def pixels(path):
    # Minimal PNG reader for the 8-bit RGB/RGBA, non-interlaced files fm-image writes.
    data = open(path, "rb").read()
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            ch = {2: 3, 6: 4}[ctype]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, out, prev = zlib.decompress(idat), w * ch, [], bytearray(w * ch)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - ch] if i >= ch else 0
            b, c = prev[i], prev[i - ch] if i >= ch else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += [line[i] for i in range(stride) if i % ch < 3]
        prev = line
    return out
worst = 0
for name in sorted(os.listdir(sys.argv[1])):
    a, b = pixels(os.path.join(sys.argv[1], name)), pixels(os.path.join(sys.argv[2], name))
    worst = max(worst, max(abs(x - y) for x, y in zip(a, b)))
print(worst)
PY
)

log "speed: ref-unet-32 at b64@32, ours on the GPU"
"$BIN/fm-bench" -backends "$BACKEND" -points 64@32 -steps "$STEPS" -torch=false -sample-batch 64 | tee "$OUT/fm-bench.txt"

log "speed: the PyTorch peer on the same GPU (eager)"
"$PY" bench/ref_unet_32.py --device "$TORCH_DEVICE" --batch 64 --size 32 --steps "$STEPS" --sample-batch 64 | tee "$OUT/torch.txt"

# fm-bench's rows: point (size, batch), backend, s/step, images/s, GFLOP/s, CPU s/step,
# GFLOP/CPU-s, peak MiB, sample img/s.
ours=$(awk -v backend="$BACKEND" '$1 == "32x32" && $2 == "b64" && $3 == backend {v = $4} END {print v}' "$OUT/fm-bench.txt")
theirs=$(awk '/^s\/step/ {print $2}' "$OUT/torch.txt")
ours_img=$(awk -v backend="$BACKEND" '$1 == "32x32" && $2 == "b64" && $3 == backend {v = $10} END {print v}' "$OUT/fm-bench.txt")
theirs_img=$(awk '/^sample_img\/s/ {print $2}' "$OUT/torch.txt")
printf '\n| measure | fm-image (%s) | PyTorch (%s, eager) | ratio |\n|---|---|---|---|\n' "$BACKEND" "$TORCH_DEVICE"
printf '| ref-unet-32 training, b64@32, s/step | %s | %s | %s |\n' "${ours:-?}" "${theirs:-?}" \
	"$(awk -v a="${ours:-0}" -v b="${theirs:-0}" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "?" }')"
printf '| sampling, 20 Euler steps, b64@32, images/s | %s | %s | %s |\n' "${ours_img:-?}" "${theirs_img:-?}" \
	"$(awk -v a="${ours_img:-0}" -v b="${theirs_img:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "?" }')"
printf '| default preset, %d training steps on the GPU, wall s (compile included) | %.1f | | |\n' $((STEPS * 10)) "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
printf '| largest pixel difference, GPU vs CPU samples of one model (levels of 255) | %s | | |\n' "$maxdiff"
