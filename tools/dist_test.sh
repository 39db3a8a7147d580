#!/usr/bin/env bash
# Evaluate a checkpoint on GPUS processes of this node with torchrun, as MMSegmentation 1.2.2's tools/dist_test.sh:
#   bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py arguments ...]
# Several nodes: run it on each with NNODES, NODE_RANK, MASTER_ADDR and PORT set (defaults 1, 0, 127.0.0.1, 29500).
set -e
if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [test.py arguments ...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$GPUS" \
    "$TOOLS/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "${@:4}"
