#!/usr/bin/env bash
# One experiment of the matrix as a Slurm job array: task I of N runs the
# runs I, I+N, I+2N, ... (repro -shard I/N) on one GPU; all tasks write into
# one shared results folder. A requeued or rerun task resumes each run from
# its last finished epoch. Submit with:
#   sbatch --array=0-7 deploy/slurm-array.sh normalization
# and when all tasks are done (each task also refreshes them as it goes):
#   repro report -exp normalization -out "$RESULTS"
#SBATCH --job-name=repro
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=4
#SBATCH --time=12:00:00
#SBATCH --requeue
set -euo pipefail
EXP=${1:?usage: sbatch --array=0-N-1 slurm-array.sh EXPERIMENT}
DATA=${DATA:-$HOME/.cache/repro/cifar-10-binary.tar.gz}
RESULTS=${RESULTS:-$HOME/repro-results}
N=${SLURM_ARRAY_TASK_COUNT:?run this as an array job (sbatch --array=...)}
srun repro -exp "$EXP" -shard "${SLURM_ARRAY_TASK_ID}/${N}" -backend cuda -data "$DATA" -out "$RESULTS"
