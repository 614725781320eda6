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
# STEPS (default "gpu parity train bench") picks steps, e.g. STEPS=parity to
# rerun one; the time limits add up to under 10 minutes.
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

steps=" ${STEPS:-gpu parity train bench} "
want() { [[ "$steps" == *" $1 "* ]]; }

if want gpu; then
  step gpu 20 nvidia-smi
  step describe 40 "$bin/repro" bench -backend cuda -models resnet8 -batch 8 -steps 1 -warmup 0
fi

# 2. parity: the bindings on the real libraries, then every op and small nets
if want parity; then
  REPRO_REQUIRE_GPU=1 step bindings 60 "$bin/cudalib.test" -test.run '^TestGPU' -test.v
  REPRO_REQUIRE_GPU=1 step parity 150 "$bin/cuda.test" -test.v -test.timeout 140s
  grep -hE '^(--- FAIL|FAIL|ok|PASS)' "$out/bindings.txt" "$out/parity.txt" | tail -n 30 >> "$summary"
fi

# 3. short ResNet-20 run, GPU and CPU, same seed and recipe; every epoch's
# test accuracy is shown, the final one must agree within 2 points (earlier
# epochs of so short a run swing more than rounding differences explain)
if want train; then
  data="$here/data/cifar10-jpg.tar.gz"
  short=(-config "$here/experiments.toml" -exp quickstart -data "$data" -set epochs=3 -set data.subset=1000 -set data.test_subset=0 -set 'schedule.milestones=[2]')
  step train-gpu 90 "$bin/repro" "${short[@]}" -backend cuda -strict-fp32 -out "$out/runs-gpu"
  step train-cpu 180 "$bin/repro" "${short[@]}" -backend cpu -out "$out/runs-cpu"
  g="$out/runs-gpu/quickstart/resnet20/metrics.csv"
  c="$out/runs-cpu/quickstart/resnet20/metrics.csv"
  if [ -f "$g" ] && [ -f "$c" ] && [ "$(wc -l < "$g")" -eq 4 ] && [ "$(wc -l < "$c")" -eq 4 ]; then
    paste -d, "$g" "$c" | awk -F, 'NR == 1 { print "epoch  gpu_test_acc  cpu_test_acc  diff"; next }
      { n = NF / 2; ga = 100 - $6; ca = 100 - $(n + 6); d = ga - ca; if (d < 0) d = -d
        printf "%5d  %12.2f  %12.2f  %5.2f\n", $1, ga, ca, d; last = d }
      END { if (last > 2) { print "final epoch: GPU and CPU differ by more than 2 points"; exit 1 } }' \
      > "$out/accuracy-compare.txt"
    rc=$?
    cat "$out/accuracy-compare.txt" >> "$summary"
    [ "$rc" -eq 0 ] || status=1
  else
    note "accuracy: a training run did not finish its 3 epochs"; status=1
  fi
fi

# 4. speed
if want bench; then
  step bench 90 "$bin/repro" bench -backend cuda -models resnet20,resnet56,densenet-bc100 -steps 20 -warmup 5
  if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    step bench-torch 90 python3 "$here/bench/torch_reference.py" --device cuda --models resnet20,resnet56,densenet-bc100 --steps 20 --warmup 5
  fi
fi
note "done: status $status"
exit $status
