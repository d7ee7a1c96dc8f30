#!/usr/bin/env bash
# Usage: bash tools/dist_train.sh CONFIG NPROC [train.py args]
# Honours NNODES, NODE_RANK, PORT, MASTER_ADDR. Works on CPU-only machines
# (gloo) as well as on GPUs (nccl).
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG NPROC [train.py args]" >&2
    exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export PYTHONPATH="$ROOT:${PYTHONPATH:-}"
# One intra-op thread pool per process unless the user chose otherwise.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
