"""Helpers for torchrun/DistributedDataParallel runs; all are no-ops in a single process."""

from __future__ import annotations

import os

import torch
import torch.distributed as torch_dist


def is_distributed() -> bool:
    return torch_dist.is_available() and torch_dist.is_initialized()


def rank() -> int:
    return torch_dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return torch_dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    return rank() == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def init(backend: str | None = None) -> None:
    """Join the process group torchrun set up (gloo on CPU, the config's backend on CUDA)."""
    if is_distributed() or not launched_by_torchrun():
        return
    if not torch.cuda.is_available():
        backend = "gloo"
    elif torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    torch_dist.init_process_group(backend=backend or "nccl")


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    if is_distributed():
        torch_dist.all_reduce(tensor, op=torch_dist.ReduceOp.SUM)
    return tensor


def barrier() -> None:
    if is_distributed():
        torch_dist.barrier()


def broadcast_object(obj: object) -> object:
    if not is_distributed():
        return obj
    holder = [obj]
    torch_dist.broadcast_object_list(holder, src=0)
    return holder[0]


def sync_buffers(module: torch.nn.Module) -> None:
    """Give every process rank 0's buffers (BatchNorm running statistics drift apart per process)."""
    if is_distributed():
        for buffer in module.buffers():
            torch_dist.broadcast(buffer, src=0)
