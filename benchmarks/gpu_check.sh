#!/usr/bin/env bash
# The GPU check: one JSON of figures from one CUDA device, in at most 10 minutes.
#
#   bash benchmarks/gpu_check.sh [--dry] [--out FILE]   (default FILE: runs/gpu_check/gpu_check.json)
#
# Needs torch, transformers, accelerate, peft, and leancot's own core dependencies (typer, rich,
# pydantic, pyyaml, math-verify, gguf) importable; leancot itself is taken from src/. No model hub,
# no vLLM, no network: every model is built from a config. --dry: tiny shapes on CPU, seconds (tested).
#   1-3. SFT (LoRA, full) tokens/s and MFU; LSP 0.5 vs 1.0; chunked vs naive KD   (gpu_check.py figures)
#   4.   accelerate launch --config_file accelerate_configs/fsdp.yaml --num_processes 1 (leancot train)
#   5.   leancot lab --size full, in what is left of the 10 minutes (its rc is 124 if cut short)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=full OUT=runs/gpu_check/gpu_check.json
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) SIZE=dry ;;
    --out) OUT=$2; shift ;;
    *) echo "usage: $0 [--dry] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
PY=${PYTHON:-python}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
WORK=$(dirname "$OUT")/work
rm -rf "$WORK" && mkdir -p "$WORK"
BUDGET=600 START=$SECONDS

# step NAME LOG CMD...: run, keep going on failure, record its exit code and seconds for collect.
step() {
  local name=$1 log=$2 t0=$SECONDS rc=0
  shift 2
  "$@" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$WORK/$name.rc"
  echo $((SECONDS - t0)) >"$WORK/$name.seconds"
  echo "$name: rc $rc, $((SECONDS - t0)) s (log: $log)"
}

"$PY" benchmarks/gpu_check.py figures --size "$SIZE" --work "$WORK"
echo "figures: $((SECONDS - START)) s"

step fsdp "$WORK/fsdp.log" "$PY" -m accelerate.commands.launch --config_file accelerate_configs/fsdp.yaml --num_processes 1 \
  --main_process_port 0 -m leancot.train.command "$WORK/fsdp_data.jsonl" --out "$WORK/fsdp" --student "$WORK/fsdp_student" \
  --full --max-steps 4 --batch-size 4 --save-steps 2

if [ "$SIZE" = dry ]; then
  LAB=(--size small --seeds 0 --train-problems 16 --test-problems 8 --layers 1 --hidden 16 --epochs 1 --workers 1)
else
  LAB=(--size full --workers 2 --threads 4)
fi
LEFT=$((BUDGET - (SECONDS - START) - 20))
step lab "$WORK/lab.log" timeout "$((LEFT > 10 ? LEFT : 10))" "$PY" -m leancot.cli lab --out "$WORK/lab" "${LAB[@]}"

"$PY" benchmarks/gpu_check.py collect --work "$WORK" --out "$OUT"
echo "$OUT ($((SECONDS - START)) s)"
