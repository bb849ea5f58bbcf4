#!/usr/bin/env bash
# Every GPU benchmark in one go, as it is, wherever a GPU is at hand (< 8 minutes in all).
#
#   bash bench/gpu_all.sh              # times everything, results in bench/results/*_gpu.json
#   bash bench/gpu_all.sh --dry-run    # checks the inputs and prints what it would time (CI)
#
# Installs nothing: it uses the project's requirements only (requirements-dev.txt, which the
# README's test command installs, has ninja and psutil for NVIDIA's code) (`.venv/bin/python` when there is
# one, else `python`). NVIDIA's code is unpacked at run time from ../shared/reference/ into a
# scratch folder outside the project. Each step has its own time cap; a step that fails is
# logged and the others still run. Every results file records the device, torch version,
# commit and the paths it measures (`python -m bench.stale` marks the stale ones).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}"
SCRATCH="${GPU_ALL_SCRATCH:-${TMPDIR:-/tmp}/gan-studio-gpu-all}"
OUT="${GPU_ALL_OUT:-bench/results}"
REFERENCE="$ROOT/../shared/reference"
IMAGES="$ROOT/../shared/images"
DRY_RUN=0
[ "${1:-}" = "--dry-run" ] && DRY_RUN=1

# name | time cap (s) | command
STEPS=(
  "stylegan2 1024 px x8 generation vs NVIDIA (CUDA ops)|80|$PY -m bench.generate_gpu --family stylegan2 --res 1024 --batch 8 --scratch $SCRATCH --out $OUT/generate_stylegan2_gpu.json"
  "stylegan3-T 1024 px x8 generation vs NVIDIA (CUDA ops)|90|$PY -m bench.generate_gpu --family stylegan3 --res 1024 --batch 8 --scratch $SCRATCH --out $OUT/generate_stylegan3_gpu.json"
  "stylegan2 fine-tune 256 px batch 32 vs NVIDIA train.py|110|$PY bench/finetune_sg2_speed.py --rows 256:32 --steps 30 --images 256 --kimg 4 --nvidia $SCRATCH/stylegan2-ada-pytorch --out $OUT/finetune_sg2_gpu.json"
  "Gatys 512 px 300 iterations vs a tutorial-style loop, same backend flags|60|$PY -m bench.style_bench --device cuda --size 512 --steps 300 --repeats 3 --no-app-path --out $OUT/style_gpu.json"
  "DCGAN fine-tune vs a plain loop (goal >= 2x)|50|$PY bench/finetune_bench.py --device cuda --seconds 20 --batch-size 64 --target-images 500 --kid-samples 500 --throughput-steps 100 --throughput-repeats 3 --images-dir $IMAGES --out $OUT/finetune_gpu.json"
  "16-face grid on the GPU, server time vs the earlier code|60|$PY -m bench.cheap_path --device cuda --rounds 8 --no-browser --out $OUT/cheap_path_gpu.json"
)

check_inputs() {
  local ok=0
  for f in "$REFERENCE/stylegan2-ada-pytorch.tar.gz" "$REFERENCE/stylegan3.tar.gz"; do
    if tar tzf "$f" >/dev/null 2>&1; then echo "ok   $f"; else echo "MISSING or unreadable: $f"; ok=1; fi
  done
  for f in "$IMAGES" checkpoints/dcgan-digiface; do
    if [ -e "$f" ]; then echo "ok   $f"; else echo "MISSING: $f"; ok=1; fi
  done
  # One python: the imports, then both tarballs unpack, import, and their weights fit ours.
  "$PY" - "$SCRATCH" <<'EOF' || ok=1
import importlib, importlib.util, sys
from pathlib import Path
for name in ("torch", "gradio", "gradio_client", "httpx", "bench.finetune_sg2_speed",
             "bench.style_bench", "bench.finetune_bench", "bench.cheap_path", "bench.stale"):
    importlib.import_module(name)
print("ok   python imports (torch, gradio, the bench scripts)")
missing = [m for m in ("click", "psutil", "ninja") if importlib.util.find_spec(m) is None]
if missing:  # requirements-dev.txt has them; this script installs nothing
    print("note not installed:", ", ".join(missing), "- NVIDIA's train.py will record its error;"
          " without ninja NVIDIA's CUDA ops fall back to its reference code (recorded);"
          " the test command (requirements-dev.txt) installs them")
from bench import generate_gpu
generate_gpu.check_all(Path(sys.argv[1]))
print("ok   NVIDIA's stylegan2 and stylegan3 code unpack, import, and their weights load into ours")
EOF
  return $ok
}

mkdir -p "$SCRATCH" "$OUT"
if [ "$DRY_RUN" = 1 ]; then
  check_inputs || { echo "gpu_all: inputs missing"; exit 1; }
  echo "would time (on the GPU, each under its cap):"
  total=0
  for step in "${STEPS[@]}"; do
    IFS='|' read -r name cap cmd <<<"$step"
    printf '  %-72s %4ss  %s\n' "$name" "$cap" "$cmd"
    total=$((total + cap))
  done
  echo "caps in all: ${total} s"
  exit 0
fi

"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
  || { echo "gpu_all: no CUDA device here (use --dry-run)"; exit 2; }
export PYTHONPATH="$SCRATCH/shims${PYTHONPATH:+:$PYTHONPATH}"  # pkg_resources/scipy stand-ins
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
failed=0
for step in "${STEPS[@]}"; do
  IFS='|' read -r name cap cmd <<<"$step"
  echo "=== $name (cap ${cap}s)"
  started=$SECONDS
  # shellcheck disable=SC2086  # the command is split into words on purpose
  if ! timeout --signal=INT "$cap" $cmd; then echo "!!! failed or over its cap: $name"; failed=$((failed + 1)); fi
  echo "    took $((SECONDS - started)) s"
done
"$PY" -m bench.stale || true
echo "gpu_all: done in ${SECONDS} s, ${failed} step(s) failed; commit bench/results/*_gpu.json"
exit $((failed > 0))
