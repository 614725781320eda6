#!/usr/bin/env bash
# The GPU half of repro's checks (DESIGN.md section 7), in one go, on any
# machine with an NVIDIA GPU, without Go and without network.
#
# It takes prebuilt binaries and data from the bundle folder it lives in
# (made by `make device-bundle`: bin/repro, bin/cuda.test, data/, experiments.toml,
# bench/torch_reference.py) and writes every result under one output folder:
#
#   scripts/device-check.sh [OUTDIR]        (default: $OUT, else ./device-check-out)
#
# Steps, each logged to OUTDIR/<step>.txt, each with its own time limit:
#   1. the GPU and driver (nvidia-smi), the CUDA libraries found
#   2. the parity suite: every op against the float64 reference (strict FP32
#      and TF32) and whole small nets against the CPU backend
#   3. a short real training run of ResNet-20 on the GPU and on the CPU, same
#      seed and recipe, and the per-epoch test accuracies side by side
#   4. repro bench on the GPU, and PyTorch's eager peer when torch is present
# The summary is OUTDIR/summary.txt; the exit status is non-zero when a step failed.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-${OUT:-$PWD/device-check-out}}
mkdir -p "$out"
bin="$here/bin"
summary="$out/summary.txt"
: > "$summary"
status=0

note() { echo "$*" | tee -a "$summary"; }
step() { # step NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  local start=$SECONDS
  timeout "$limit" "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  note "$(printf '%-22s rc=%-3s %4ss' "$name" "$rc" "$((SECONDS - start))")"
  [ "$rc" -eq 0 ] || status=1
  return $rc
}

# CUDA libraries from pip wheels (cuDNN, cuBLAS) under any Python's site-packages
if [ -z "${REPRO_CUDA_LIBS:-}" ] && command -v python3 >/dev/null; then
  libs=$(python3 - <<'PY' 2>/dev/null
import glob, os, site, sys
roots = set(site.getsitepackages() + [site.getusersitepackages()] + [p for p in sys.path if p.endswith("-packages")])
dirs = sorted({d for r in roots for d in glob.glob(os.path.join(r, "nvidia", "*", "lib"))})
print(":".join(dirs))
PY
)
  [ -n "$libs" ] && export REPRO_CUDA_LIBS="$libs"
fi
note "bundle $here, output $out, REPRO_CUDA_LIBS=${REPRO_CUDA_LIBS:-}"

step gpu 30 nvidia-smi
step describe 60 "$bin/repro" bench -backend cuda -models resnet8 -batch 8 -steps 1 -warmup 0

# 2. parity
REPRO_REQUIRE_GPU=1 step parity 300 "$bin/cuda.test" -test.v -test.timeout 290s
grep -E '^(--- FAIL|FAIL|ok|PASS)' "$out/parity.txt" | tail -n 20 >> "$summary"

# 3. short ResNet-20 run, GPU and CPU, same seed and recipe
data="$here/data/cifar10-jpg.tar.gz"
short=(-config "$here/experiments.toml" -exp quickstart -data "$data" -set epochs=3 -set data.subset=1000 -set data.test_subset=500 -set 'schedule.milestones=[2]')
step train-gpu 300 "$bin/repro" "${short[@]}" -backend cuda -strict-fp32 -out "$out/runs-gpu"
step train-cpu 400 "$bin/repro" "${short[@]}" -backend cpu -out "$out/runs-cpu"
g="$out/runs-gpu/quickstart/resnet20/metrics.csv"
c="$out/runs-cpu/quickstart/resnet20/metrics.csv"
if [ -f "$g" ] && [ -f "$c" ]; then
  paste -d, "$g" "$c" | awk -F, 'NR == 1 { print "epoch  gpu_test_acc  cpu_test_acc  diff"; next }
    { n = NF / 2; ga = 100 - $6; ca = 100 - $(n + 6); d = ga - ca; if (d < 0) d = -d
      printf "%5d  %12.2f  %12.2f  %5.2f%s\n", $1, ga, ca, d, (d > 2 ? "  OVER 2 POINTS" : "") }' \
    | tee "$out/accuracy-compare.txt" >> "$summary"
  grep -q "OVER 2 POINTS" "$out/accuracy-compare.txt" && { note "accuracy: GPU and CPU differ by more than 2 points"; status=1; }
else
  note "accuracy: a training run did not finish"; status=1
fi

# 4. speed
step bench 300 "$bin/repro" bench -backend cuda -models resnet20,resnet56,densenet-bc100 -steps 20 -warmup 5
if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  step bench-torch 300 python3 "$here/bench/torch_reference.py" --device cuda --models resnet20,resnet56,densenet-bc100 --steps 20 --warmup 5
fi
note "done: status $status"
exit $status
