#!/usr/bin/env bash
# Evaluate a checkpoint as one job of GPUS srun tasks, as MMSegmentation 1.2.2's tools/slurm_test.sh:
#   GPUS=8 bash tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py arguments ...]
# Environment: GPUS (tasks, default 4), GPUS_PER_NODE (default 4), CPUS_PER_TASK (default 5), SRUN_ARGS
# (extra srun options), MASTER_PORT (default 29500). Each task reads its rank from SLURM (--launcher slurm).
set -e
if [ "$#" -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [test.py arguments ...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
GPUS=${GPUS:-4}
GPUS_PER_NODE=${GPUS_PER_NODE:-4}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
TOOLS="$(cd "$(dirname "$0")" && pwd)"

set -x  # show the srun command, as MMSegmentation's script does
# SRUN_ARGS is split into words on purpose: it holds several srun options
PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    python -u "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher slurm "${@:5}"
