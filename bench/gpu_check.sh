#!/usr/bin/env bash
# The GPU half of the throughput benchmark, in one run on a machine with a CUDA GPU:
#
#     bench/gpu_check.sh [OUT_DIR]
#
# It runs bench.bench on the GPU (no Redis or PostgreSQL there: the end-to-end figure
# is `mobilabel label` on SQLite, (d)) with a 20,000-file folder, so that at a few
# thousand images a second the marginal rate is not lost in start-up, while
# `nvidia-smi dmon` records how busy the GPU was. The log, the CSV and the GPU trace
# go to OUT_DIR (default bench/results). The project runs from this checkout
# (PYTHONPATH), with whichever python3 holds PyTorch; besides PyTorch, torchvision,
# Pillow, NumPy, click, rich and matplotlib it needs SQLAlchemy, alembic and Mako.
# MOBILABEL_SHARED names the shared data if it is not ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mkdir -p "${1:-bench/results}" && cd "${1:-bench/results}" && pwd)
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" | tee -a "$out/gpu.txt"

nvidia-smi dmon -s u -d 1 >"$out/gpu_dmon.log" 2>&1 &
dmon=$!
trap 'kill $dmon 2>/dev/null || true' EXIT
python3 -m bench.bench --device cuda --no-distributed --large 20000 2>&1 | tee "$out/gpu_bench.log"
if [ "$out" != "$PWD/bench/results" ]; then cp bench/results/*_cuda.csv "$out/"; fi
