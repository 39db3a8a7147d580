#!/usr/bin/env bash
# Train on GPUS processes of this node with torchrun, as MMSegmentation 1.2.2's tools/dist_train.sh:
#   bash tools/dist_train.sh CONFIG GPUS [train.py arguments ...]
# Several nodes: run it on each with NNODES, NODE_RANK, MASTER_ADDR and PORT set (defaults 1, 0, 127.0.0.1, 29500).
set -e
if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [train.py arguments ...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
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
    "$TOOLS/train.py" "$CONFIG" --launcher pytorch "${@:3}"
