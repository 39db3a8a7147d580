"""Helpers for distributed (DistributedDataParallel) runs; all are no-ops in a single process.

``init`` joins the process group the way MMEngine's ``init_dist`` does for each ``launcher``: ``pytorch``
(torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_ADDR``/``MASTER_PORT``), ``slurm`` (srun's
``SLURM_*`` variables) and ``mpi`` (OpenMPI's ``OMPI_COMM_WORLD_*`` plus ``MASTER_ADDR``). ``none`` keeps
seglab's own habit: a process started by torchrun joins torchrun's group.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
from collections.abc import Mapping

import torch
import torch.distributed as torch_dist

from seglab.errors import ConfigError

logger = logging.getLogger("seglab")

LAUNCHERS = ("none", "pytorch", "slurm", "mpi")
DEFAULT_PORT = "29500"  # torch.distributed's and MMEngine's default master port
NEEDED = {
    "pytorch": ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"),
    "slurm": ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_NODELIST"),
    "mpi": ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK", "MASTER_ADDR"),
}
STARTED_BY = {
    "pytorch": "start it with torchrun (tools/dist_train.sh)",
    "slurm": "start it with srun (tools/slurm_train.sh)",
    "mpi": "start it with OpenMPI's mpirun and export MASTER_ADDR",
}


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


def first_host(node_list: str) -> str:
    """The first host of a SLURM node list (``node[01-03,07],gpu5`` -> ``node01``), without ``scontrol``."""
    first = re.match(r"(?:[^,\[]|\[[^\]]*\])+", node_list.strip())
    if not first:
        raise ConfigError(f"SLURM_NODELIST='{node_list}' is not a SLURM node list (e.g. node[01-03],gpu5)")
    # each bracket holds comma-separated numbers or ranges; the first host takes the first number of each
    return re.sub(r"\[([^\],\-]*)[^\]]*\]", r"\1", first.group(0))


def launch_env(launcher: str, environ: Mapping[str, str], gpus: int = 0) -> dict[str, str]:
    """torch's ``env://`` variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) for ``launcher``
    from the environment its starter sets; a ConfigError names the variables that are missing."""
    if launcher not in LAUNCHERS or launcher == "none":
        raise ConfigError(f"launcher='{launcher}' is not one of {', '.join(LAUNCHERS[1:])} (or 'none')")
    missing = [name for name in NEEDED[launcher] if not environ.get(name)]
    if missing:
        raise ConfigError(
            f"launcher='{launcher}' (--launcher {launcher}) needs the environment variable(s) {', '.join(missing)}, "
            f"which are not set: {STARTED_BY[launcher]}, or use --launcher none for one process"
        )
    env = {"MASTER_PORT": environ.get("MASTER_PORT") or DEFAULT_PORT}
    if launcher == "pytorch":
        names = {"RANK": "RANK", "WORLD_SIZE": "WORLD_SIZE", "LOCAL_RANK": "LOCAL_RANK"}
        env["MASTER_ADDR"] = environ["MASTER_ADDR"]
    elif launcher == "mpi":
        names = {
            "RANK": "OMPI_COMM_WORLD_RANK",
            "WORLD_SIZE": "OMPI_COMM_WORLD_SIZE",
            "LOCAL_RANK": "OMPI_COMM_WORLD_LOCAL_RANK",
        }
        env["MASTER_ADDR"] = environ["MASTER_ADDR"]
    else:  # slurm
        names = {"RANK": "SLURM_PROCID", "WORLD_SIZE": "SLURM_NTASKS"}
        local = environ.get("SLURM_LOCALID")
        env["LOCAL_RANK"] = local if local else str(int(environ["SLURM_PROCID"]) % max(gpus, 1))
        env["MASTER_ADDR"] = environ.get("MASTER_ADDR") or first_host(environ["SLURM_NODELIST"])
    env.update({key: environ[source] for key, source in names.items()})
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"):
        if not env[key].strip().isdigit():
            raise ConfigError(f"launcher='{launcher}': {key} would be '{env[key]}', which is not a whole number")
    return env


def warn_unused_launcher(environ: Mapping[str, str]) -> None:
    """Under srun/mpirun with several tasks but ``--launcher none`` every task trains alone: say so."""
    for name, variable, flag in (("srun", "SLURM_NTASKS", "slurm"), ("mpirun", "OMPI_COMM_WORLD_SIZE", "mpi")):
        if environ.get(variable, "1").isdigit() and int(environ.get(variable, "1")) > 1 and "RANK" not in environ:
            logger.warning(
                f"{variable}={environ[variable]} but launcher='none': if {name} started this process, every task "
                f"trains on its own; pass --launcher {flag}"
            )


def init(launcher: str = "none", dist_cfg: Mapping | None = None) -> None:
    """Join the process group of ``launcher`` (gloo on CPU; ``env_cfg.dist_cfg``'s backend on CUDA).

    ``dist_cfg`` is MMEngine's: ``backend``, ``timeout`` in seconds, and other ``init_process_group``
    arguments. A world of one process runs without a process group."""
    if is_distributed():
        return
    if launcher == "none":
        if not launched_by_torchrun():
            warn_unused_launcher(os.environ)
            return
    else:
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        os.environ.update(launch_env(launcher, os.environ, gpus))
        if int(os.environ["WORLD_SIZE"]) <= 1:
            return
    kwargs = dict(dist_cfg or {})
    backend = kwargs.pop("backend", None)
    if "timeout" in kwargs:
        kwargs["timeout"] = datetime.timedelta(seconds=float(kwargs["timeout"]))
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    else:
        backend = "gloo"
    try:
        torch_dist.init_process_group(backend=backend or "nccl", **kwargs)
    except TypeError as error:
        raise ConfigError(f"env_cfg.dist_cfg={dict(dist_cfg or {})!r}: {error}") from error


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
